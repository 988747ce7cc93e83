package web

import "net/http"

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
