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
	back := r.PostFormValue("back")
	if !switchKeeps[back] {
		back = "home"
	}
	h.redirect(w, r, back, flashInfo, "flash.tenant_switched")
}

// switchKeeps are the sections (their list routes, the layout's Nav) a
// tenant switch stays in: every tenant has them. One thing's page is not
// the other tenant's, so a switch from it lands on its section's list.
var switchKeeps = map[string]bool{"data": true, "datasets": true, "preprocessing": true, "trainings": true, "inferences": true}
