package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"kqi/portal/data"
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
	items, total, err := h.store.ListDatasets(r.Context(), v.Tenant.ID, f)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	base := h.path("datasets")
	h.render(w, r, http.StatusOK, "dataset_list", "nav.datasets", datasetListData{
		Items: items, Query: lq, Pager: lq.pager(base, total), Name: q.Get("name"), Memo: q.Get("memo"), Base: base,
	})
}

// datasetFormLimit caps the data offered on the dataset form; the newest
// come first, and every datum already in the dataset is always offered.
const datasetFormLimit = 500

type datasetFormData struct {
	Dataset   *storage.Dataset // nil when creating
	Form      data.DatasetForm
	Available []storage.Data
	Areas     []string
	Error     string
	ErrArg    string
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
	v := visitorOf(r)
	items, total, err := h.store.ListData(r.Context(), v.Tenant.ID, storage.DataFilter{Sort: "id", Desc: true, PerPage: datasetFormLimit})
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	listed := map[int64]bool{}
	for _, it := range items {
		listed[it.ID] = true
	}
	// Data already in the dataset but older than the newest 500 stay offered.
	for _, e := range d.Form.Entries {
		if !listed[e.DataID] {
			if extra, err := h.store.DataByID(r.Context(), v.Tenant.ID, e.DataID); err == nil {
				items = append(items, *extra)
			}
		}
	}
	d.Available, d.Areas, d.Truncated = items, storage.Areas, total > datasetFormLimit
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
	if inv, ok := data.AsInvalid(err); ok {
		h.renderDatasetForm(w, r, http.StatusUnprocessableEntity, datasetFormData{Form: form, Error: inv.Key, ErrArg: inv.Arg})
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	h.redirectToID(w, r, "datasetDetail", id, "flash.dataset_created")
}

func (h *Handler) datasetFromRoute(w http.ResponseWriter, r *http.Request) (*storage.Dataset, bool) {
	return fromRoute(h, w, r, h.store.DatasetByID)
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
	if inv, ok := data.AsInvalid(err); ok {
		h.renderDatasetForm(w, r, http.StatusUnprocessableEntity, datasetFormData{Dataset: d, Form: form, Error: inv.Key, ErrArg: inv.Arg})
		return
	}
	if errors.Is(err, storage.ErrFrozen) {
		h.renderPage(w, r, http.StatusConflict, page{Name: "dataset_detail", Nav: "datasets", Title: "dataset.detail_title",
			Data: datasetFormData{Dataset: d, Areas: storage.Areas, Error: "dataset.frozen"}})
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	h.redirectToID(w, r, "datasetDetail", d.ID, "flash.dataset_saved")
}

func (h *Handler) deleteDataset(w http.ResponseWriter, r *http.Request) {
	d, ok := h.datasetFromRoute(w, r)
	if !ok {
		return
	}
	err := h.store.DeleteDataset(r.Context(), d.TenantID, d.ID)
	if errors.Is(err, storage.ErrFrozen) {
		h.renderPage(w, r, http.StatusConflict, page{Name: "dataset_detail", Nav: "datasets", Title: "dataset.detail_title",
			Data: datasetFormData{Dataset: d, Areas: storage.Areas, Error: "dataset.frozen"}})
		return
	}
	if err != nil {
		h.serverError(w, r, err)
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
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	h.redirectToID(w, r, "datasetDetail", id, "flash.dataset_copied")
}
