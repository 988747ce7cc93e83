package api

import (
	"net/http"

	"kqi/portal/accounts"
	"kqi/portal/i18n"
	"kqi/slurm"
)

type createTenantRequest struct {
	Name string `json:"name"`
}

func (h *Handler) createTenant(w http.ResponseWriter, r *http.Request) {
	var req createTenantRequest
	if !decode(w, r, &req) {
		return
	}
	t, err := accounts.CreateTenant(r.Context(), h.store, req.Name)
	if h.refused(w, r, err) {
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
	u, err := accounts.CreateUser(ctx, h.store, accounts.NewUser{
		Username: req.Username, Password: req.Password, IsSystemAdmin: req.SystemAdmin, Tenants: req.Tenants,
	})
	if h.refused(w, r, err) {
		return
	}
	ms, err := h.store.MembershipsOfUser(ctx, u.ID)
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

// refused answers a failed domain call: 409 for a taken name, 422 for other
// fixable input, 500 otherwise. It reports whether it answered.
func (h *Handler) refused(w http.ResponseWriter, r *http.Request, err error) bool {
	if err == nil {
		return false
	}
	if key, ok := accounts.MessageKey(err); ok {
		status := http.StatusUnprocessableEntity
		if key == "tenant.name_taken" || key == "user.name_taken" || key == "server.name_taken" {
			status = http.StatusConflict
		}
		writeJSON(w, status, errorBody{Error: i18n.T("en", key)})
		return true
	}
	h.serverError(w, r, err)
	return true
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
	if req.Account != "" && slurm.CheckAccount(req.Account) != nil {
		writeError(w, http.StatusUnprocessableEntity, "admin.tenants.bad_account")
		return
	}
	err := h.store.SetTenantSlurmAccount(r.Context(), routeID(r), req.Account)
	if h.notFoundOr(w, r, err) {
		return
	}
	writeJSON(w, http.StatusOK, req)
}

type quotaRequest struct {
	CPU      *int `json:"cpu"`
	MemoryGB *int `json:"memory_gb"`
	GPU      *int `json:"gpu"`
}

// setTenantQuota sets {"cpu", "memory_gb", "gpu"} (null or absent: no limit).
func (h *Handler) setTenantQuota(w http.ResponseWriter, r *http.Request) {
	var req quotaRequest
	if !decode(w, r, &req) {
		return
	}
	for _, v := range []*int{req.CPU, req.MemoryGB, req.GPU} {
		if v != nil && *v < 0 {
			writeError(w, http.StatusUnprocessableEntity, "admin.tenants.bad_quota")
			return
		}
	}
	err := h.store.SetTenantQuota(r.Context(), routeID(r), req.CPU, req.MemoryGB, req.GPU)
	if h.notFoundOr(w, r, err) {
		return
	}
	writeJSON(w, http.StatusOK, req)
}
