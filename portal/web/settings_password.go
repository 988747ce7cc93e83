package web

import (
	"net/http"

	"kqi/portal/refusal"
)

// changePassword ends every other session and API token of the user.
func (h *Handler) changePassword(w http.ResponseWriter, r *http.Request) {
	v := visitorOf(r)
	err := withEdge(r, nil)
	if err == nil {
		err = h.accounts.ChangePassword(r.Context(), v.User, v.SessionID,
			r.PostFormValue("current_password"), r.PostFormValue("new_password"), r.PostFormValue("confirm_password"))
	}
	if h.failed(w, r, err, func(e *refusal.Error) {
		h.renderSettings(w, r, http.StatusUnprocessableEntity, settingsData{PasswordRefusal: e})
	}) {
		return
	}
	h.log.Info("password changed", "user", v.User.Username)
	h.redirect(w, r, "settings", flashInfo, "flash.password_changed")
}
