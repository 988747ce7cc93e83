package web

import (
	"errors"
	"net/http"

	"github.com/gorilla/mux"

	"kqi/portal/accounts"
	"kqi/storage"
)

type membersData struct {
	Members  []storage.Membership
	Username string // what was typed, kept on error
	Role     storage.Role
	Error    string // catalog key
}

// showMembers lists the current tenant's members for its administrators.
func (h *Handler) showMembers(w http.ResponseWriter, r *http.Request) {
	h.renderMembers(w, r, http.StatusOK, membersData{Role: storage.RoleUser})
}

func (h *Handler) renderMembers(w http.ResponseWriter, r *http.Request, status int, d membersData) {
	ms, err := h.store.MembersOfTenant(r.Context(), visitorOf(r).Tenant.ID)
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
	u, err := h.store.UserByName(r.Context(), d.Username)
	if errors.Is(err, storage.ErrNotFound) {
		d.Error = "members.unknown_user"
		h.renderMembers(w, r, http.StatusUnprocessableEntity, d)
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	err = accounts.AddMember(r.Context(), h.store, u.ID, v.Tenant.ID, d.Role)
	if key, ok := accounts.MessageKey(err); ok {
		d.Error = key
		h.renderMembers(w, r, http.StatusUnprocessableEntity, d)
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	h.log.Info("member saved", "tenant", v.Tenant.Name, "user", u.Username, "role", d.Role, "by", v.User.Username)
	h.redirect(w, r, "members", flashInfo, "flash.membership_added")
}

// removeMember takes a user out of the current tenant. Administrators
// cannot remove themselves, so a tenant never loses its last way in by
// accident.
func (h *Handler) removeMember(w http.ResponseWriter, r *http.Request) {
	v := visitorOf(r)
	id, _ := parseID(mux.Vars(r)["id"])
	if id == v.User.ID {
		h.renderMembers(w, r, http.StatusUnprocessableEntity, membersData{Role: storage.RoleUser, Error: "members.not_yourself"})
		return
	}
	err := h.store.RemoveMembership(r.Context(), id, v.Tenant.ID)
	if h.failed(w, r, err, nil) {
		return
	}
	h.redirect(w, r, "members", flashInfo, "flash.member_removed")
}
