package api

import (
	"net/http"

	"kqi/portal/accounts"
)

type createTenantRequest struct {
	Name string `json:"name"`
}

func (h *Handler) createTenant(w http.ResponseWriter, r *http.Request) {
	var req createTenantRequest
	if !decode(w, r, &req) {
		return
	}
	t, err := h.accounts.CreateTenant(r.Context(), req.Name)
	if h.failed(w, r, err) {
		return
	}
	h.log.Info("tenant created", "tenant", t.Name, "by", callerOf(r).User.Username)
	writeJSON(w, http.StatusCreated, tenantRef{ID: t.ID, Name: t.Name})
}

type createUserRequest struct {
	Username    string                `json:"username"`
	Password    string                `json:"password"`
	SystemAdmin bool                  `json:"system_admin"`
	Tenants     []accounts.TenantRole `json:"tenants"`
}

type createUserResponse struct {
	userBody
	Tenants []membershipBody `json:"tenants"`
}

func (h *Handler) createUser(w http.ResponseWriter, r *http.Request) {
	var req createUserRequest
	if !decode(w, r, &req) {
		return
	}
	ctx := r.Context()
	u, err := h.accounts.CreateUser(ctx, accounts.NewUser{
		Username: req.Username, Password: req.Password, IsSystemAdmin: req.SystemAdmin, Tenants: req.Tenants,
	})
	if h.failed(w, r, err) {
		return
	}
	ms, err := h.accounts.Memberships(ctx, u.ID)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	resp := createUserResponse{
		userBody: userBody{ID: u.ID, Username: u.Username, SystemAdmin: u.IsSystemAdmin, Language: u.Language},
		Tenants:  membershipBodies(ms),
	}
	h.log.Info("user created", "user", u.Username, "by", callerOf(r).User.Username)
	writeJSON(w, http.StatusCreated, resp)
}

// setTenantSlurmAccount sets {"account"}: the Slurm account the tenant's
// jobs are charged to ("" = the cluster user's default).
func (h *Handler) setTenantSlurmAccount(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Account string `json:"account"`
	}
	if !decode(w, r, &req) {
		return
	}
	var err error
	req.Account, err = h.accounts.SetSlurmAccount(r.Context(), routeID(r), req.Account)
	if h.failed(w, r, err) {
		return
	}
	writeJSON(w, http.StatusOK, req)
}

// setTenantQuota sets {"cpu", "memory_gb", "gpu"} (null or absent: no limit).
func (h *Handler) setTenantQuota(w http.ResponseWriter, r *http.Request) {
	var req accounts.Quota
	if !decode(w, r, &req) {
		return
	}
	if h.failed(w, r, h.accounts.SetQuota(r.Context(), routeID(r), req)) {
		return
	}
	writeJSON(w, http.StatusOK, req)
}
