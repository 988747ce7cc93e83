package web

import (
	"net/http"

	"github.com/gorilla/mux"

	"kqi/portal/refusal"
	"kqi/storage"
)

// removeMember takes a user out of the current tenant.
func (h *Handler) removeMember(w http.ResponseWriter, r *http.Request) {
	v := visitorOf(r)
	id, _ := parseID(mux.Vars(r)["id"])
	err := h.accounts.RemoveMember(r.Context(), v.Tenant.ID, id, v.User.ID)
	if h.failed(w, r, err, func(e *refusal.Error) {
		h.renderMembers(w, r, http.StatusUnprocessableEntity, membersData{Role: storage.RoleUser, Refusal: e})
	}) {
		return
	}
	h.redirect(w, r, "members", flashInfo, "flash.member_removed")
}
