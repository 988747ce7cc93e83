package web

import (
	"net/http"

	"kqi/portal/accounts"
	"kqi/portal/refusal"
	"kqi/storage"
)

// createUser makes a user and, optionally, puts them in a first tenant.
func (h *Handler) createUser(w http.ResponseWriter, r *http.Request) {
	form := accounts.NewUser{
		Username:      r.PostFormValue("username"),
		Password:      r.PostFormValue("password"),
		IsSystemAdmin: r.PostFormValue("system_admin") == "on",
	}
	d := adminUsersData{Role: storage.Role(r.PostFormValue("role"))}
	if id, ok := parseID(r.PostFormValue("tenant_id")); ok {
		d.TenantID = id
		form.Tenants = []accounts.TenantRole{{Tenant: r.PostFormValue("tenant_id"), Role: d.Role}}
	}
	err := withEdge(r, nil)
	if err == nil {
		_, err = h.accounts.CreateUser(r.Context(), form)
	}
	if h.failed(w, r, err, func(e *refusal.Error) {
		form.Password = ""
		d.Form, d.Refusal = form, e
		h.renderAdminUsers(w, r, http.StatusUnprocessableEntity, d)
	}) {
		return
	}
	h.log.Info("user created", "user", form.Username, "by", visitorOf(r).User.Username)
	h.redirect(w, r, "adminUsers", flashInfo, "flash.user_created")
}
