package web

import "net/http"

func (h *Handler) deleteDataset(w http.ResponseWriter, r *http.Request) {
	d, ok := h.datasetFromRoute(w, r)
	if !ok {
		return
	}
	if h.failed(w, r, h.data.DeleteDataset(r.Context(), d.TenantID, d.ID), nil) {
		return
	}
	h.redirect(w, r, "datasets", flashInfo, "flash.dataset_deleted")
}
