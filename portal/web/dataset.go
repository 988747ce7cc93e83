package web

import (
	"net/http"
	"strconv"
	"strings"

	"kqi/portal/data"
	"kqi/portal/refusal"
	"kqi/storage"
)

type datasetListData struct {
	Items []storage.Dataset
	Query listQuery
	Pager pager
	Name  string
	Memo  string
	Base  string
}

func (h *Handler) showDatasetList(w http.ResponseWriter, r *http.Request) {
	v := visitorOf(r)
	q := r.URL.Query()
	lq := parseListQuery(q, "id")
	f := storage.DatasetFilter{Name: strings.TrimSpace(q.Get("name")), Memo: strings.TrimSpace(q.Get("memo")),
		Sort: lq.Sort, Desc: lq.Desc, Page: lq.Page, PerPage: lq.PerPage}
	items, total, err := h.data.Datasets(r.Context(), v.Tenant.ID, f)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	base := h.path("datasets")
	h.render(w, r, http.StatusOK, "dataset_list", "nav.datasets", datasetListData{
		Items: items, Query: lq, Pager: lq.pager(base, total), Name: q.Get("name"), Memo: q.Get("memo"), Base: base,
	})
}

type datasetFormData struct {
	Dataset   *storage.Dataset // nil when creating
	Form      data.DatasetForm
	Available []storage.Data
	Areas     []string
	Refusal   *refusal.Error
	Truncated bool
}

// parseDatasetForm reads name, memo and one `area_<dataId>` select per
// datum ("" = not in the dataset). Drag and drop only sets those selects.
func parseDatasetForm(r *http.Request) data.DatasetForm {
	f := data.DatasetForm{Name: r.PostFormValue("name"), Memo: r.PostFormValue("memo")}
	for key, vals := range r.PostForm {
		idText, ok := strings.CutPrefix(key, "area_")
		if !ok || len(vals) == 0 || vals[0] == "" {
			continue
		}
		if id, err := strconv.ParseInt(idText, 10, 64); err == nil {
			f.Entries = append(f.Entries, storage.Entry{DataID: id, Area: vals[0]})
		}
	}
	return f
}

func (h *Handler) renderDatasetForm(w http.ResponseWriter, r *http.Request, status int, d datasetFormData) {
	var err error
	if d.Available, d.Truncated, err = h.data.Choices(r.Context(), visitorOf(r).Tenant.ID, d.Form); err != nil {
		h.serverError(w, r, err)
		return
	}
	d.Areas = storage.Areas
	name, title := "dataset_form", "dataset.new_title"
	if d.Dataset != nil {
		title = "dataset.edit_title"
	}
	h.renderPage(w, r, status, page{Name: name, Nav: "datasets", Title: title, Data: d})
}

func (h *Handler) showDatasetNew(w http.ResponseWriter, r *http.Request) {
	h.renderDatasetForm(w, r, http.StatusOK, datasetFormData{})
}

func (h *Handler) createDataset(w http.ResponseWriter, r *http.Request) {
	v := visitorOf(r)
	form := parseDatasetForm(r)
	id, err := h.data.CreateDataset(r.Context(), data.Actor{TenantID: v.Tenant.ID, UserID: v.User.ID}, form)
	if h.failed(w, r, err, func(e *refusal.Error) {
		h.renderDatasetForm(w, r, http.StatusUnprocessableEntity, datasetFormData{Form: form, Refusal: e})
	}) {
		return
	}
	h.redirectToID(w, r, "datasetDetail", id, "flash.dataset_created")
}

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

func (h *Handler) updateDataset(w http.ResponseWriter, r *http.Request) {
	d, ok := h.datasetFromRoute(w, r)
	if !ok {
		return
	}
	form := parseDatasetForm(r)
	err := h.data.UpdateDataset(r.Context(), d.TenantID, d.ID, form)
	if h.failed(w, r, err, func(e *refusal.Error) {
		h.renderDatasetForm(w, r, http.StatusUnprocessableEntity, datasetFormData{Dataset: d, Form: form, Refusal: e})
	}) {
		return
	}
	h.redirectToID(w, r, "datasetDetail", d.ID, "flash.dataset_saved")
}

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
