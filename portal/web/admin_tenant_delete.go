package web

import (
	"net/http"
	"strconv"

	"github.com/gorilla/mux"

	"kqi/portal/accounts"
	"kqi/portal/refusal"
	"kqi/storage"
)

// tenantDeleteStep is the confirm page of deleting tenant t, which holds
// c: refused while it holds anything but members.
func (h *Handler) tenantDeleteStep(t *storage.Tenant, c storage.TenantContents) adminConfirm {
	d := adminConfirm{Heading: "admin.tenants.delete_heading", Subject: t.Name, Button: "admin.tenants.delete",
		Action: h.path("adminTenantDelete", "id", strconv.FormatInt(t.ID, 10)), Back: h.path("adminTenants")}
	if !c.Empty() {
		d.Refusal = accounts.TenantNotEmpty(c)
		d.Notes = []refusal.Field{note("admin.tenants.empty_it_first")}
		return d
	}
	d.Notes = []refusal.Field{note("admin.tenants.delete_members", strconv.Itoa(c.Members)), note("admin.tenants.delete_final")}
	return d
}

// confirmTenantDelete shows what deleting a tenant would do, or what it
// still holds.
func (h *Handler) confirmTenantDelete(w http.ResponseWriter, r *http.Request) {
	t, c, ok := h.tenantAndContents(w, r)
	if !ok {
		return
	}
	h.renderConfirm(w, r, http.StatusOK, "admin_tenants", "admin.tenants.delete", h.tenantDeleteStep(t, c))
}

func (h *Handler) deleteTenant(w http.ResponseWriter, r *http.Request) {
	t, _, ok := h.tenantAndContents(w, r)
	if !ok {
		return
	}
	err := h.accounts.DeleteTenant(r.Context(), t.ID)
	if h.adminConflict(w, r, err, func(*refusal.Error) {
		c, err := h.accounts.Store.ContentsOfTenant(r.Context(), t.ID)
		if err != nil {
			h.serverError(w, r, err)
			return
		}
		h.renderConfirm(w, r, http.StatusConflict, "admin_tenants", "admin.tenants.delete", h.tenantDeleteStep(t, c))
	}) {
		return
	}
	h.log.Info("tenant deleted", "tenant", t.ID, "name", t.Name, "by", visitorOf(r).User.Username)
	h.redirect(w, r, "adminTenants", flashInfo, "flash.tenant_deleted")
}

// tenantAndContents loads the route's tenant and what it holds; 404 for
// none.
func (h *Handler) tenantAndContents(w http.ResponseWriter, r *http.Request) (*storage.Tenant, storage.TenantContents, bool) {
	var c storage.TenantContents
	id, _ := parseID(mux.Vars(r)["id"])
	t, err := h.accounts.Store.TenantByID(r.Context(), id)
	if err == nil {
		c, err = h.accounts.Store.ContentsOfTenant(r.Context(), id)
	}
	if h.failed(w, r, err, nil) {
		return nil, c, false
	}
	return t, c, true
}
