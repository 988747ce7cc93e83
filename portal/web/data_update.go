package web

import (
	"net/http"

	"kqi/portal/data"
	"kqi/portal/refusal"
)

func (h *Handler) updateData(w http.ResponseWriter, r *http.Request) {
	d, ok := h.dataFromRoute(w, r)
	if !ok {
		return
	}
	form := data.Form{Name: r.PostFormValue("name"), Memo: r.PostFormValue("memo")}
	var err error
	form.Tags, err = data.ParseTags(r.PostFormValue("tags"))
	if err = withEdge(r, err); err == nil {
		err = h.data.Update(r.Context(), d.TenantID, d.ID, form)
	}
	if h.failed(w, r, err, func(e *refusal.Error) {
		h.renderDataDetail(w, r, http.StatusUnprocessableEntity, dataDetailData{Data: d, Form: form, Refusal: e})
	}) {
		return
	}
	h.redirectToID(w, r, "dataDetail", d.ID, "flash.data_saved")
}
