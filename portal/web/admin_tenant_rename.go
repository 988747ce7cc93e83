package web

import (
	"net/http"

	"github.com/gorilla/mux"
)

// renameTenant gives a tenant a new name, checked as at creation; its id
// and everything of it stay. A refused name shows in the tenant's row,
// as typed.
func (h *Handler) renameTenant(w http.ResponseWriter, r *http.Request) {
	id, _ := parseID(mux.Vars(r)["id"])
	old, err := h.accounts.Store.TenantByID(r.Context(), id)
	if err == nil {
		err = withEdge(r, nil)
	}
	if err == nil {
		err = h.accounts.RenameTenant(r.Context(), id, r.PostFormValue("name"))
	}
	if h.failed(w, r, err, h.tenantFormRefused(w, r, id)) {
		return
	}
	h.log.Info("tenant renamed", "tenant", id, "from", old.Name, "to", r.PostFormValue("name"), "by", visitorOf(r).User.Username)
	h.redirect(w, r, "adminTenants", flashInfo, "flash.tenant_renamed")
}
