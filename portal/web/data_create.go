package web

import (
	"errors"
	"net/http"

	"kqi/portal/data"
	"kqi/portal/refusal"
	"kqi/portal/transfer"
)

type dataFormData struct {
	Form    data.Form
	Refusal *refusal.Error
}

func (h *Handler) showDataNew(w http.ResponseWriter, r *http.Request) {
	h.renderDataNew(w, r, http.StatusOK, dataFormData{})
}

func (h *Handler) renderDataNew(w http.ResponseWriter, r *http.Request, status int, d dataFormData) {
	h.renderPage(w, r, status, page{Name: "data_new", Nav: "data", Title: "data.new_title", Data: d})
}

// createData streams the upload into the file store; only a complete and
// valid upload is registered.
func (h *Handler) createData(w http.ResponseWriter, r *http.Request) {
	v := visitorOf(r)
	transfer.NoDeadline(w)
	mr, err := multipartOf(r)
	if err != nil {
		h.renderError(w, r, http.StatusBadRequest, "error.bad_upload")
		return
	}
	d, form, err := h.data.Register(r.Context(), data.Actor{TenantID: v.Tenant.ID, UserID: v.User.ID}, mr)
	if errors.Is(err, data.ErrUploadCut) {
		h.log.Info("upload interrupted", "user", v.User.Username, "error", err)
		h.renderDataNew(w, r, http.StatusBadRequest, dataFormData{Form: form, Refusal: badUpload()})
		return
	}
	if h.failed(w, r, err, func(e *refusal.Error) {
		h.renderDataNew(w, r, e.HTTPStatus(), dataFormData{Form: form, Refusal: e})
	}) {
		return
	}
	h.log.Info("data registered", "tenant", v.Tenant.Name, "data_id", d.ID, "files", d.FileCount, "bytes", d.TotalSize)
	h.redirectToID(w, r, "dataDetail", d.ID, "flash.data_created")
}
