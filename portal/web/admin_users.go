package web

import (
	"net/http"

	"kqi/portal/accounts"
	"kqi/portal/refusal"
	"kqi/storage"
)

type adminUsersData struct {
	Users    []accounts.UserTenants
	Tenants  []storage.Tenant
	Form     accounts.NewUser // what was typed (never the password)
	TenantID int64
	Role     storage.Role
	Refusal  *refusal.Error
}

func (h *Handler) showAdminUsers(w http.ResponseWriter, r *http.Request) {
	h.renderAdminUsers(w, r, http.StatusOK, adminUsersData{Role: storage.RoleUser})
}

func (h *Handler) renderAdminUsers(w http.ResponseWriter, r *http.Request, status int, d adminUsersData) {
	var err error
	if d.Users, err = h.accounts.Users(r.Context()); err != nil {
		h.serverError(w, r, err)
		return
	}
	if d.Tenants, err = h.accounts.Tenants(r.Context()); err != nil {
		h.serverError(w, r, err)
		return
	}
	h.render(w, r, status, "admin_users", "admin.users.title", d)
}
