package web

import (
	"net/http"
	"strconv"
	"strings"

	"kqi/portal/data"
	"kqi/portal/refusal"
	"kqi/storage"
)

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
