package web

import (
	"context"
	"errors"
	"net/http"
	"path"
	"strings"

	"github.com/gorilla/mux"

	"kqi/portal/data"
	"kqi/portal/refusal"
	"kqi/portal/transfer"
	"kqi/storage"
)

type dataDetailData struct {
	Data    *storage.Data
	Form    data.Form
	Refusal *refusal.Error
}

// dataFromRoute loads the datum named by the route's id in the visitor's
// tenant; another tenant's id is simply not found.
func (h *Handler) dataFromRoute(w http.ResponseWriter, r *http.Request) (*storage.Data, bool) {
	return fromRoute(h, w, r, h.data.Datum)
}

// fromRoute loads the object of the route's {id} through a tenant-scoped
// lookup, answering 404 for a bad, missing or foreign id and 500 for a
// failure. Every page that takes an id goes through it.
func fromRoute[T any](h *Handler, w http.ResponseWriter, r *http.Request, byID func(ctx context.Context, tenantID, id int64) (*T, error)) (*T, bool) {
	id, ok := parseID(mux.Vars(r)["id"])
	if !ok {
		h.renderError(w, r, http.StatusNotFound, "error.not_found")
		return nil, false
	}
	v, err := byID(r.Context(), visitorOf(r).Tenant.ID, id)
	if h.failed(w, r, err, nil) {
		return nil, false
	}
	return v, true
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
	h.renderPage(w, r, status, page{Name: "data_detail", Nav: "data", Title: "data.detail_title", Data: dd})
}

func (h *Handler) updateData(w http.ResponseWriter, r *http.Request) {
	d, ok := h.dataFromRoute(w, r)
	if !ok {
		return
	}
	form := data.Form{Name: r.PostFormValue("name"), Memo: r.PostFormValue("memo")}
	var err error
	if form.Tags, err = data.ParseTags(r.PostFormValue("tags")); err == nil {
		err = h.data.Update(r.Context(), d.TenantID, d.ID, form)
	}
	if h.failed(w, r, err, func(e *refusal.Error) {
		h.renderDataDetail(w, r, http.StatusUnprocessableEntity, dataDetailData{Data: d, Form: form, Refusal: e})
	}) {
		return
	}
	h.redirectToID(w, r, "dataDetail", d.ID, "flash.data_saved")
}

func (h *Handler) addDataFiles(w http.ResponseWriter, r *http.Request) {
	d, ok := h.dataFromRoute(w, r)
	if !ok {
		return
	}
	transfer.NoDeadline(w)
	mr, err := multipartOf(r)
	if err != nil {
		h.renderError(w, r, http.StatusBadRequest, "error.bad_upload")
		return
	}
	v := visitorOf(r)
	_, err = h.data.AddFiles(r.Context(), data.Actor{TenantID: v.Tenant.ID, UserID: v.User.ID}, d.ID, mr)
	again := func(status int, e *refusal.Error) {
		h.renderDataDetail(w, r, status, dataDetailData{Data: d, Form: storedForm(d), Refusal: e})
	}
	if errors.Is(err, data.ErrUploadCut) {
		again(http.StatusBadRequest, badUpload())
		return
	}
	if h.failed(w, r, err, func(e *refusal.Error) { again(http.StatusUnprocessableEntity, e) }) {
		return
	}
	h.redirectToID(w, r, "dataDetail", d.ID, "flash.files_added")
}

// badUpload is what a form says when its upload broke off.
func badUpload() *refusal.Error { return refusal.Invalidf("file", "error.bad_upload") }

func (h *Handler) removeDataFile(w http.ResponseWriter, r *http.Request) {
	d, ok := h.dataFromRoute(w, r)
	if !ok {
		return
	}
	err := h.data.RemoveFile(r.Context(), d.TenantID, d.ID, mux.Vars(r)["name"])
	if h.failed(w, r, err, nil) {
		return
	}
	h.redirectToID(w, r, "dataDetail", d.ID, "flash.file_removed")
}

func (h *Handler) deleteData(w http.ResponseWriter, r *http.Request) {
	d, ok := h.dataFromRoute(w, r)
	if !ok {
		return
	}
	if h.failed(w, r, h.data.Delete(r.Context(), d.TenantID, d.ID), nil) {
		return
	}
	h.redirect(w, r, "data", flashInfo, "flash.data_deleted")
}

// previewTypes are shown inline on the detail page; anything else (SVG
// included: it can carry script) is only downloaded.
var previewTypes = map[string]bool{".png": true, ".jpg": true, ".jpeg": true, ".gif": true, ".webp": true, ".bmp": true}

// IsPreviewable reports whether a file name gets an inline image preview.
func IsPreviewable(name string) bool { return previewTypes[strings.ToLower(path.Ext(name))] }

func (h *Handler) downloadDataFile(w http.ResponseWriter, r *http.Request) {
	v := visitorOf(r)
	id, ok := parseID(mux.Vars(r)["id"])
	if !ok {
		h.renderError(w, r, http.StatusNotFound, "error.not_found")
		return
	}
	name := mux.Vars(r)["name"]
	f, err := h.data.Open(r.Context(), v.Tenant.ID, id, name)
	if h.failed(w, r, err, nil) {
		return
	}
	defer f.Close()
	transfer.ServeFile(w, r, name, f, r.URL.Query().Get("inline") == "1" && IsPreviewable(name))
}
