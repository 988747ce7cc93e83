package web

import (
	"net/http"

	"kqi/portal/refusal"
)

func (h *Handler) createTenant(w http.ResponseWriter, r *http.Request) {
	name := r.PostFormValue("name")
	err := withEdge(r, nil)
	if err == nil {
		_, err = h.accounts.CreateTenant(r.Context(), name)
	}
	if h.failed(w, r, err, func(e *refusal.Error) {
		h.renderAdminTenants(w, r, http.StatusUnprocessableEntity, adminTenantsData{Name: name, Refusal: e})
	}) {
		return
	}
	h.log.Info("tenant created", "tenant", name, "by", visitorOf(r).User.Username)
	h.redirect(w, r, "adminTenants", flashInfo, "flash.tenant_created")
}
