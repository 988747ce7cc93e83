package web

import (
	"net/http"
	"net/url"

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

// tenantFormRefused shows the tenants page again with what was typed in
// the refused row form of tenant id.
func (h *Handler) tenantFormRefused(w http.ResponseWriter, r *http.Request, id int64) func(*refusal.Error) {
	return func(e *refusal.Error) {
		h.renderAdminTenants(w, r, http.StatusUnprocessableEntity, adminTenantsData{Refusal: e, FormTenant: id, Form: r.PostForm})
	}
}
