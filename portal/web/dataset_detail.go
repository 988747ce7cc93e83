package web

import (
	"net/http"

	"kqi/portal/data"
	"kqi/storage"
)

func (h *Handler) datasetFromRoute(w http.ResponseWriter, r *http.Request) (*storage.Dataset, bool) {
	return fromRoute(h, w, r, h.data.Dataset)
}

func formOf(d *storage.Dataset) data.DatasetForm {
	f := data.DatasetForm{Name: d.Name, Memo: d.Memo}
	for _, e := range d.Entries {
		f.Entries = append(f.Entries, storage.Entry{DataID: e.DataID, Area: e.Area})
	}
	return f
}

// showDataset shows a frozen dataset read-only and an editable one as its
// edit form.
func (h *Handler) showDataset(w http.ResponseWriter, r *http.Request) {
	d, ok := h.datasetFromRoute(w, r)
	if !ok {
		return
	}
	if d.FrozenAt != nil {
		h.renderPage(w, r, http.StatusOK, page{Name: "dataset_detail", Nav: "datasets", Title: "dataset.detail_title", Data: datasetFormData{Dataset: d, Areas: storage.Areas}})
		return
	}
	h.renderDatasetForm(w, r, http.StatusOK, datasetFormData{Dataset: d, Form: formOf(d)})
}
