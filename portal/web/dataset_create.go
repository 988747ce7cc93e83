package web

import (
	"net/http"

	"kqi/portal/data"
	"kqi/portal/refusal"
)

func (h *Handler) showDatasetNew(w http.ResponseWriter, r *http.Request) {
	h.renderDatasetForm(w, r, http.StatusOK, datasetFormData{})
}

func (h *Handler) createDataset(w http.ResponseWriter, r *http.Request) {
	v := visitorOf(r)
	form := parseDatasetForm(r)
	var id int64
	err := withEdge(r, nil)
	if err == nil {
		id, err = h.data.CreateDataset(r.Context(), data.Actor{TenantID: v.Tenant.ID, UserID: v.User.ID}, form)
	}
	if h.failed(w, r, err, func(e *refusal.Error) {
		h.renderDatasetForm(w, r, http.StatusUnprocessableEntity, datasetFormData{Form: form, Refusal: e})
	}) {
		return
	}
	h.redirectToID(w, r, "datasetDetail", id, "flash.dataset_created")
}
