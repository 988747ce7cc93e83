package web

import (
	"net/http"

	"github.com/gorilla/mux"

	"kqi/portal/transfer"
)

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
