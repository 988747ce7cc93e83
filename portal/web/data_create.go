package web

import (
	"errors"
	"net/http"

	"kqi/portal/data"
	"kqi/portal/transfer"
)

type dataFormData struct {
	Form    data.Form
	Error   string // catalog key
	ErrArg  string
	Created int64
}

func (h *Handler) showDataNew(w http.ResponseWriter, r *http.Request) {
	h.renderPage(w, r, http.StatusOK, page{Name: "data_new", Nav: "data", Title: "data.new_title", Data: dataFormData{}})
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
	if inv, ok := data.AsInvalid(err); ok {
		h.renderPage(w, r, http.StatusUnprocessableEntity, page{Name: "data_new", Nav: "data", Title: "data.new_title",
			Data: dataFormData{Form: form, Error: inv.Key, ErrArg: inv.Arg}})
		return
	}
	if errors.Is(err, data.ErrUploadCut) {
		h.log.Info("upload interrupted", "user", v.User.Username, "error", err)
		h.renderPage(w, r, http.StatusBadRequest, page{Name: "data_new", Nav: "data", Title: "data.new_title",
			Data: dataFormData{Form: form, Error: "error.bad_upload"}})
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	h.log.Info("data registered", "tenant", v.Tenant.Name, "data_id", d.ID, "files", d.FileCount, "bytes", d.TotalSize)
	h.redirectToID(w, r, "dataDetail", d.ID, "flash.data_created")
}
