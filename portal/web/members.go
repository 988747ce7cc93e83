package web

import (
	"net/http"

	"github.com/gorilla/mux"

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

// addMember adds an existing user (by name) to the current tenant, or
// changes their role there.
func (h *Handler) addMember(w http.ResponseWriter, r *http.Request) {
	v := visitorOf(r)
	d := membersData{Username: r.PostFormValue("username"), Role: storage.Role(r.PostFormValue("role"))}
	err := h.accounts.AddMemberNamed(r.Context(), v.Tenant.ID, d.Username, d.Role)
	if h.failed(w, r, err, func(e *refusal.Error) {
		d.Refusal = e
		h.renderMembers(w, r, http.StatusUnprocessableEntity, d)
	}) {
		return
	}
	h.log.Info("member saved", "tenant", v.Tenant.Name, "user", d.Username, "role", d.Role, "by", v.User.Username)
	h.redirect(w, r, "members", flashInfo, "flash.membership_added")
}

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
