package web

import (
	"net/http"

	"github.com/gorilla/mux"
)

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
