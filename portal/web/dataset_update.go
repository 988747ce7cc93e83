package web

import (
	"net/http"

	"kqi/portal/refusal"
)

func (h *Handler) updateDataset(w http.ResponseWriter, r *http.Request) {
	d, ok := h.datasetFromRoute(w, r)
	if !ok {
		return
	}
	form := parseDatasetForm(r)
	err := withEdge(r, nil)
	if err == nil {
		err = h.data.UpdateDataset(r.Context(), d.TenantID, d.ID, form)
	}
	if h.failed(w, r, err, func(e *refusal.Error) {
		h.renderDatasetForm(w, r, http.StatusUnprocessableEntity, datasetFormData{Dataset: d, Form: form, Refusal: e})
	}) {
		return
	}
	h.redirectToID(w, r, "datasetDetail", d.ID, "flash.dataset_saved")
}
