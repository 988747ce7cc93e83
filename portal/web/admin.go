package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"kqi/portal/accounts"
	"kqi/slurm"
	"kqi/storage"
)

type adminTenantsData struct {
	Tenants []storage.Tenant
	Name    string // what was typed, kept on error
	Error   string // catalog key
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
	ts, err := h.store.Tenants(r.Context())
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	d.Tenants = ts
	h.render(w, r, status, "admin_tenants", "admin.tenants.title", d)
}

func (h *Handler) createTenant(w http.ResponseWriter, r *http.Request) {
	name := r.PostFormValue("name")
	_, err := accounts.CreateTenant(r.Context(), h.store, name)
	if key, ok := accounts.MessageKey(err); ok {
		h.renderAdminTenants(w, r, http.StatusUnprocessableEntity, adminTenantsData{Name: name, Error: key})
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	h.log.Info("tenant created", "tenant", name, "by", visitorOf(r).User.Username)
	h.redirect(w, r, "adminTenants", flashInfo, "flash.tenant_created")
}

type adminUsersData struct {
	Users       []adminUserRow
	Tenants     []storage.Tenant
	Form        accounts.NewUser // what was typed (never the password)
	TenantID    int64
	Role        storage.Role
	Error       string // catalog key
	ErrorUserID int64  // the row whose membership form failed
}

type adminUserRow struct {
	User        storage.User
	Memberships []storage.Membership
}

func (h *Handler) showAdminUsers(w http.ResponseWriter, r *http.Request) {
	h.renderAdminUsers(w, r, http.StatusOK, adminUsersData{Role: storage.RoleUser})
}

func (h *Handler) renderAdminUsers(w http.ResponseWriter, r *http.Request, status int, d adminUsersData) {
	ctx := r.Context()
	users, err := h.store.Users(ctx)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	for _, u := range users {
		ms, err := h.store.MembershipsOfUser(ctx, u.ID)
		if err != nil {
			h.serverError(w, r, err)
			return
		}
		d.Users = append(d.Users, adminUserRow{User: u, Memberships: ms})
	}
	if d.Tenants, err = h.store.Tenants(ctx); err != nil {
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
	_, err := accounts.CreateUser(r.Context(), h.store, form)
	if key, ok := accounts.MessageKey(err); ok {
		form.Password = ""
		d.Form, d.Error = form, key
		h.renderAdminUsers(w, r, http.StatusUnprocessableEntity, d)
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	h.log.Info("user created", "user", form.Username, "by", visitorOf(r).User.Username)
	h.redirect(w, r, "adminUsers", flashInfo, "flash.user_created")
}

func (h *Handler) addMembership(w http.ResponseWriter, r *http.Request) {
	userID, _ := parseID(mux.Vars(r)["id"])
	tenantID, _ := parseID(r.PostFormValue("tenant_id"))
	role := storage.Role(r.PostFormValue("role"))
	err := accounts.AddMember(r.Context(), h.store, userID, tenantID, role)
	if key, ok := accounts.MessageKey(err); ok {
		h.renderAdminUsers(w, r, http.StatusUnprocessableEntity, adminUsersData{Role: storage.RoleUser, Error: key, ErrorUserID: userID})
		return
	}
	if h.failed(w, r, err, nil) {
		return
	}
	h.redirect(w, r, "adminUsers", flashInfo, "flash.membership_added")
}

// setTenantQuota sets how much CPU, memory and GPU a tenant's jobs may use
// at once; an empty field means no limit.
func (h *Handler) setTenantQuota(w http.ResponseWriter, r *http.Request) {
	id, _ := parseID(mux.Vars(r)["id"])
	var q [3]*int
	for i, field := range []string{"quota_cpu", "quota_memory_gb", "quota_gpu"} {
		v := strings.TrimSpace(r.PostFormValue(field))
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			h.renderAdminTenants(w, r, http.StatusUnprocessableEntity, adminTenantsData{Error: "admin.tenants.bad_quota", FormTenant: id, Form: r.PostForm})
			return
		}
		q[i] = &n
	}
	err := h.store.SetTenantQuota(r.Context(), id, q[0], q[1], q[2])
	if h.failed(w, r, err, nil) {
		return
	}
	h.redirect(w, r, "adminTenants", flashInfo, "flash.quota_saved")
}

// setTenantSlurmAccount sets the Slurm account a tenant's jobs are charged
// to; empty means the cluster user's default.
func (h *Handler) setTenantSlurmAccount(w http.ResponseWriter, r *http.Request) {
	id, _ := parseID(mux.Vars(r)["id"])
	account := strings.TrimSpace(r.PostFormValue("slurm_account"))
	if account != "" && slurm.CheckAccount(account) != nil {
		h.renderAdminTenants(w, r, http.StatusUnprocessableEntity, adminTenantsData{Error: "admin.tenants.bad_account", FormTenant: id, Form: r.PostForm})
		return
	}
	err := h.store.SetTenantSlurmAccount(r.Context(), id, account)
	if h.failed(w, r, err, nil) {
		return
	}
	h.redirect(w, r, "adminTenants", flashInfo, "flash.slurm_account_saved")
}
