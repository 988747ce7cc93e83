package web

import "net/http"

func (h *Handler) deletePreprocess(w http.ResponseWriter, r *http.Request) {
	p, ok := h.preprocessFromRoute(w, r)
	if !ok {
		return
	}
	if h.failed(w, r, h.pre.Delete(r.Context(), p.TenantID, p.ID), nil) {
		return
	}
	h.redirect(w, r, "preprocessing", flashInfo, "flash.preprocess_deleted")
}
