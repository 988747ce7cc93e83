package web

import (
	"context"
	"errors"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"kqi/portal/data"
	"kqi/portal/transfer"
	"kqi/storage"
)

type dataDetailData struct {
	Data   *storage.Data
	Form   data.Form
	Error  string
	ErrArg string
}

// dataFromRoute loads the datum named by the route's id in the visitor's
// tenant; another tenant's id is simply not found.
func (h *Handler) dataFromRoute(w http.ResponseWriter, r *http.Request) (*storage.Data, bool) {
	return fromRoute(h, w, r, h.store.DataByID)
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
	if h.failed(w, r, err) {
		return nil, false
	}
	return v, true
}

func (h *Handler) showDataDetail(w http.ResponseWriter, r *http.Request) {
	d, ok := h.dataFromRoute(w, r)
	if !ok {
		return
	}
	h.renderDataDetail(w, r, http.StatusOK, dataDetailData{Data: d, Form: data.Form{Name: d.Name, Memo: d.Memo, Tags: d.Tags}})
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
	form.AddTags(r.PostFormValue("tags"))
	if err := form.Validate(); err != nil {
		inv, _ := data.AsInvalid(err)
		h.renderDataDetail(w, r, http.StatusUnprocessableEntity, dataDetailData{Data: d, Form: form, Error: inv.Key, ErrArg: inv.Arg})
		return
	}
	if err := h.store.UpdateData(r.Context(), d.TenantID, d.ID, strings.TrimSpace(form.Name), form.Memo, form.Tags); err != nil {
		h.serverError(w, r, err)
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
	detail := dataDetailData{Data: d, Form: data.Form{Name: d.Name, Memo: d.Memo, Tags: d.Tags}}
	switch inv, isInv := data.AsInvalid(err); {
	case err == nil:
		h.redirectToID(w, r, "dataDetail", d.ID, "flash.files_added")
	case isInv:
		detail.Error, detail.ErrArg = inv.Key, inv.Arg
		h.renderDataDetail(w, r, http.StatusUnprocessableEntity, detail)
	case errors.Is(err, storage.ErrFrozen):
		detail.Error = "data.frozen"
		h.renderDataDetail(w, r, http.StatusConflict, detail)
	case errors.Is(err, data.ErrUploadCut):
		detail.Error = "error.bad_upload"
		h.renderDataDetail(w, r, http.StatusBadRequest, detail)
	default:
		h.serverError(w, r, err)
	}
}

func (h *Handler) removeDataFile(w http.ResponseWriter, r *http.Request) {
	d, ok := h.dataFromRoute(w, r)
	if !ok {
		return
	}
	err := h.data.RemoveFile(r.Context(), d.TenantID, d.ID, mux.Vars(r)["name"])
	switch {
	case err == nil:
		h.setFlash(w, flashInfo, "flash.file_removed")
	case errors.Is(err, storage.ErrFrozen):
		h.setFlash(w, flashError, "data.frozen")
	case errors.Is(err, storage.ErrNotFound):
		h.renderError(w, r, http.StatusNotFound, "error.not_found")
		return
	default:
		if _, ok := data.AsInvalid(err); ok {
			h.renderError(w, r, http.StatusNotFound, "error.not_found")
			return
		}
		h.serverError(w, r, err)
		return
	}
	http.Redirect(w, r, h.path("dataDetail", "id", strconv.FormatInt(d.ID, 10)), http.StatusSeeOther)
}

func (h *Handler) deleteData(w http.ResponseWriter, r *http.Request) {
	d, ok := h.dataFromRoute(w, r)
	if !ok {
		return
	}
	err := h.data.Delete(r.Context(), d.TenantID, d.ID)
	if errors.Is(err, storage.ErrFrozen) {
		h.renderDataDetail(w, r, http.StatusConflict, dataDetailData{Data: d, Form: data.Form{Name: d.Name, Memo: d.Memo, Tags: d.Tags}, Error: "data.frozen"})
		return
	}
	if err != nil {
		h.serverError(w, r, err)
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
	if h.failed(w, r, err) {
		return
	}
	defer f.Close()
	transfer.ServeFile(w, r, name, f, r.URL.Query().Get("inline") == "1" && IsPreviewable(name))
}
