package web

import (
	"net/http"

	"kqi/portal/refusal"
	"kqi/storage"
)

// addMember adds an existing user (by name) to the current tenant, or
// changes their role there.
func (h *Handler) addMember(w http.ResponseWriter, r *http.Request) {
	v := visitorOf(r)
	d := membersData{Username: r.PostFormValue("username"), Role: storage.Role(r.PostFormValue("role"))}
	err := withEdge(r, nil)
	if err == nil {
		err = h.accounts.AddMemberNamed(r.Context(), v.Tenant.ID, d.Username, d.Role)
	}
	if h.failed(w, r, err, func(e *refusal.Error) {
		d.Refusal = e
		h.renderMembers(w, r, http.StatusUnprocessableEntity, d)
	}) {
		return
	}
	h.log.Info("member saved", "tenant", v.Tenant.Name, "user", d.Username, "role", d.Role, "by", v.User.Username)
	h.redirect(w, r, "members", flashInfo, "flash.membership_added")
}
