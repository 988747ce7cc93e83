package web

import (
	"net/http"
	"net/url"

	"github.com/gorilla/mux"

	"kqi/portal/accounts"
	"kqi/portal/refusal"
	"kqi/storage"
)

type adminTenantsData struct {
	Tenants []storage.Tenant
	Name    string // what was typed, kept on error
	Refusal *refusal.Error
	// FormTenant is the tenant whose quota or account form was refused,
	// and Form what was typed in it, shown again instead of the stored
	// values.
	FormTenant int64
	Form       url.Values
}

func (h *Handler) showAdminTenants(w http.ResponseWriter, r *http.Request) {
	h.renderAdminTenants(w, r, http.StatusOK, adminTenantsData{})
}

func (h *Handler) renderAdminTenants(w http.ResponseWriter, r *http.Request, status int, d adminTenantsData) {
	ts, err := h.accounts.Tenants(r.Context())
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	d.Tenants = ts
	h.render(w, r, status, "admin_tenants", "admin.tenants.title", d)
}

func (h *Handler) createTenant(w http.ResponseWriter, r *http.Request) {
	name := r.PostFormValue("name")
	_, err := h.accounts.CreateTenant(r.Context(), name)
	if h.failed(w, r, err, func(e *refusal.Error) {
		h.renderAdminTenants(w, r, http.StatusUnprocessableEntity, adminTenantsData{Name: name, Refusal: e})
	}) {
		return
	}
	h.log.Info("tenant created", "tenant", name, "by", visitorOf(r).User.Username)
	h.redirect(w, r, "adminTenants", flashInfo, "flash.tenant_created")
}

// tenantFormRefused shows the tenants page again with what was typed in
// the refused row form of tenant id.
func (h *Handler) tenantFormRefused(w http.ResponseWriter, r *http.Request, id int64) func(*refusal.Error) {
	return func(e *refusal.Error) {
		h.renderAdminTenants(w, r, http.StatusUnprocessableEntity, adminTenantsData{Refusal: e, FormTenant: id, Form: r.PostForm})
	}
}

// setTenantQuota sets how much CPU, memory and GPU a tenant's jobs may use
// at once; an empty field means no limit.
func (h *Handler) setTenantQuota(w http.ResponseWriter, r *http.Request) {
	id, _ := parseID(mux.Vars(r)["id"])
	q, err := accounts.ParseQuota(r.PostFormValue("quota_cpu"), r.PostFormValue("quota_memory_gb"), r.PostFormValue("quota_gpu"))
	if err == nil {
		err = h.accounts.SetQuota(r.Context(), id, q)
	}
	if h.failed(w, r, err, h.tenantFormRefused(w, r, id)) {
		return
	}
	h.redirect(w, r, "adminTenants", flashInfo, "flash.quota_saved")
}

// setTenantSlurmAccount sets the Slurm account a tenant's jobs are charged
// to; empty means the cluster user's default.
func (h *Handler) setTenantSlurmAccount(w http.ResponseWriter, r *http.Request) {
	id, _ := parseID(mux.Vars(r)["id"])
	_, err := h.accounts.SetSlurmAccount(r.Context(), id, r.PostFormValue("slurm_account"))
	if h.failed(w, r, err, h.tenantFormRefused(w, r, id)) {
		return
	}
	h.redirect(w, r, "adminTenants", flashInfo, "flash.slurm_account_saved")
}

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
	_, err := h.accounts.CreateUser(r.Context(), form)
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

func (h *Handler) addMembership(w http.ResponseWriter, r *http.Request) {
	userID, _ := parseID(mux.Vars(r)["id"])
	tenantID, _ := parseID(r.PostFormValue("tenant_id"))
	err := h.accounts.AddMember(r.Context(), userID, tenantID, storage.Role(r.PostFormValue("role")))
	if h.failed(w, r, err, func(e *refusal.Error) {
		h.renderAdminUsers(w, r, http.StatusUnprocessableEntity, adminUsersData{Role: storage.RoleUser, Refusal: e})
	}) {
		return
	}
	h.redirect(w, r, "adminUsers", flashInfo, "flash.membership_added")
}
