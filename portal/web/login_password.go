package web

import (
	"net/http"

	"kqi/portal/refusal"
)

// showPasswordChange asks a user whose password an administrator reset
// for a password of their own; every other page sends them here until
// they have chosen one. Anyone else changes theirs in the settings.
func (h *Handler) showPasswordChange(w http.ResponseWriter, r *http.Request) {
	if !visitorOf(r).User.MustChangePassword {
		http.Redirect(w, r, h.path("settings"), http.StatusSeeOther)
		return
	}
	h.render(w, r, http.StatusOK, "login_password", "login.choose_password", (*refusal.Error)(nil))
}

// changeTemporaryPassword replaces the temporary password, as the
// settings' change does (the temporary one is the current password).
func (h *Handler) changeTemporaryPassword(w http.ResponseWriter, r *http.Request) {
	v := visitorOf(r)
	err := withEdge(r, nil)
	if err == nil {
		err = h.accounts.ChangePassword(r.Context(), v.User, v.SessionID,
			r.PostFormValue("current_password"), r.PostFormValue("new_password"), r.PostFormValue("confirm_password"))
	}
	if h.failed(w, r, err, func(e *refusal.Error) {
		h.render(w, r, http.StatusUnprocessableEntity, "login_password", "login.choose_password", e)
	}) {
		return
	}
	h.log.Info("temporary password replaced", "user", v.User.Username)
	h.redirect(w, r, "home", flashInfo, "flash.password_chosen")
}
