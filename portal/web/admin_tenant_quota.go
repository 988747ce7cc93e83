package web

import (
	"net/http"

	"github.com/gorilla/mux"

	"kqi/portal/accounts"
)

// setTenantQuota sets how much CPU, memory and GPU a tenant's jobs may use
// at once; an empty field means no limit.
func (h *Handler) setTenantQuota(w http.ResponseWriter, r *http.Request) {
	id, _ := parseID(mux.Vars(r)["id"])
	q, err := accounts.ParseQuota(r.PostFormValue("quota_cpu"), r.PostFormValue("quota_memory_gb"), r.PostFormValue("quota_gpu"))
	if err = withEdge(r, err); err == nil {
		err = h.accounts.SetQuota(r.Context(), id, q)
	}
	if h.failed(w, r, err, h.tenantFormRefused(w, r, id)) {
		return
	}
	h.redirect(w, r, "adminTenants", flashInfo, "flash.quota_saved")
}
