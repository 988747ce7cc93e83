package web

import (
	"errors"
	"net/http"

	"kqi/portal/data"
	"kqi/portal/refusal"
	"kqi/portal/transfer"
)

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
		h.renderDataDetail(w, r, status, dataDetailData{Data: d, Form: storedForm(d), Refusal: e, FilesAgain: true})
	}
	if errors.Is(err, data.ErrUploadCut) {
		again(http.StatusBadRequest, badUpload())
		return
	}
	if h.failed(w, r, err, func(e *refusal.Error) { again(e.HTTPStatus(), e) }) {
		return
	}
	h.redirectToID(w, r, "dataDetail", d.ID, "flash.files_added")
}

// badUpload is what a form says when its upload broke off.
func badUpload() *refusal.Error { return refusal.Invalidf("file", "error.bad_upload") }
