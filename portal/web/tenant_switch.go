package web

import (
	"errors"
	"net/http"

	"kqi/portal/auth"
)

// switchTenant moves the session to another tenant of the user's. Asking
// for a tenant they are not in is refused, not ignored.
func (h *Handler) switchTenant(w http.ResponseWriter, r *http.Request) {
	v := visitorOf(r)
	id, _ := parseID(r.PostFormValue("tenant_id"))
	err := h.auth.SwitchTenant(r.Context(), v.SessionID, v.User.ID, id)
	if errors.Is(err, auth.ErrNotMember) {
		h.log.Warn("tenant switch refused", "user", v.User.Username, "tenant_id", r.PostFormValue("tenant_id"))
		h.renderError(w, r, http.StatusForbidden, "error.not_member")
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	h.redirect(w, r, "home", flashInfo, "flash.tenant_switched")
}
