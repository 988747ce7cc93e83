package web

import (
	"github.com/gorilla/mux"

	"net/http"
	"strings"

	"kqi/portal/transfer"
)

func (h *Handler) trainingFile(w http.ResponseWriter, r *http.Request) {
	t, ok := h.trainingFromRoute(w, r)
	if !ok {
		return
	}
	rel := mux.Vars(r)["path"]
	f, err := h.jobs.OpenOutput(r.Context(), t, rel)
	if err != nil {
		h.renderError(w, r, http.StatusNotFound, "error.not_found")
		return
	}
	defer f.Close()
	transfer.ServeFile(w, r, rel[strings.LastIndex(rel, "/")+1:], f, false)
}

func (h *Handler) trainingZip(w http.ResponseWriter, r *http.Request) {
	t, ok := h.trainingFromRoute(w, r)
	if !ok {
		return
	}
	transfer.NoDeadline(w)
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", `attachment; filename="output.zip"`)
	if err := h.jobs.WriteZip(r.Context(), t, w); err != nil {
		h.log.Error("streaming output.zip", "job", t.ID, "error", err)
	}
}
