package web

import (
	"net/http"
	"path"
	"strings"

	"kqi/portal/data"
	"kqi/portal/preprocess"
	"kqi/portal/refusal"
	"kqi/storage"
)

type dataDetailData struct {
	Data    *storage.Data
	Form    data.Form
	Refusal *refusal.Error
	Lineage preprocess.Lineage // where it came from, what was made from it
	// FilesAgain: the add-files form was refused; its files must be chosen again.
	FilesAgain bool
}

// dataFromRoute loads the datum named by the route's id in the visitor's
// tenant; another tenant's id is simply not found.
func (h *Handler) dataFromRoute(w http.ResponseWriter, r *http.Request) (*storage.Data, bool) {
	return fromRoute(h, w, r, h.data.Datum)
}

func (h *Handler) showDataDetail(w http.ResponseWriter, r *http.Request) {
	d, ok := h.dataFromRoute(w, r)
	if !ok {
		return
	}
	h.renderDataDetail(w, r, http.StatusOK, dataDetailData{Data: d, Form: storedForm(d)})
}

// storedForm is the edit form of a datum as it is stored.
func storedForm(d *storage.Data) data.Form {
	return data.Form{Name: d.Name, Memo: d.Memo, Tags: d.Tags}
}

func (h *Handler) renderDataDetail(w http.ResponseWriter, r *http.Request, status int, dd dataDetailData) {
	var err error
	if dd.Lineage, err = h.pre.LineageOf(r.Context(), dd.Data.TenantID, dd.Data.ID); err != nil {
		h.serverError(w, r, err)
		return
	}
	h.renderPage(w, r, status, page{Name: "data_detail", Nav: "data", Title: "data.detail_title", Data: dd})
}

// previewTypes are shown inline on the detail page; anything else (SVG
// included: it can carry script) is only downloaded.
var previewTypes = map[string]bool{".png": true, ".jpg": true, ".jpeg": true, ".gif": true, ".webp": true, ".bmp": true}

// IsPreviewable reports whether a file name gets an inline image preview.
func IsPreviewable(name string) bool { return previewTypes[strings.ToLower(path.Ext(name))] }
