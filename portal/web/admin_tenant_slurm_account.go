package web

import (
	"net/http"

	"github.com/gorilla/mux"
)

// setTenantSlurmAccount sets the Slurm account a tenant's jobs are charged
// to; empty means the cluster user's default.
func (h *Handler) setTenantSlurmAccount(w http.ResponseWriter, r *http.Request) {
	id, _ := parseID(mux.Vars(r)["id"])
	err := withEdge(r, nil)
	if err == nil {
		_, err = h.accounts.SetSlurmAccount(r.Context(), id, r.PostFormValue("slurm_account"))
	}
	if h.failed(w, r, err, h.tenantFormRefused(w, r, id)) {
		return
	}
	h.redirect(w, r, "adminTenants", flashInfo, "flash.slurm_account_saved")
}
