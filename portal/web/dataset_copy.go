package web

import (
	"net/http"

	"kqi/portal/data"
)

func (h *Handler) copyDataset(w http.ResponseWriter, r *http.Request) {
	d, ok := h.datasetFromRoute(w, r)
	if !ok {
		return
	}
	v := visitorOf(r)
	id, err := h.data.CopyDataset(r.Context(), data.Actor{TenantID: v.Tenant.ID, UserID: v.User.ID}, d.ID, "")
	if h.failed(w, r, err, nil) {
		return
	}
	h.redirectToID(w, r, "datasetDetail", id, "flash.dataset_copied")
}
