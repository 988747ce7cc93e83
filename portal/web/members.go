package web

import (
	"net/http"

	"kqi/portal/refusal"
	"kqi/storage"
)

type membersData struct {
	Members  []storage.Membership
	Username string // what was typed, kept on error
	Role     storage.Role
	Refusal  *refusal.Error
}

// showMembers lists the current tenant's members for its administrators.
func (h *Handler) showMembers(w http.ResponseWriter, r *http.Request) {
	h.renderMembers(w, r, http.StatusOK, membersData{Role: storage.RoleUser})
}

func (h *Handler) renderMembers(w http.ResponseWriter, r *http.Request, status int, d membersData) {
	ms, err := h.accounts.Members(r.Context(), visitorOf(r).Tenant.ID)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	d.Members = ms
	h.render(w, r, status, "members", "members.title", d)
}
