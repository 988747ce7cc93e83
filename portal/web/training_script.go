package web

import (
	"net/http"
	"strconv"

	"kqi/portal/transfer"
	"kqi/slurm"
)

func (h *Handler) trainingScript(w http.ResponseWriter, r *http.Request) {
	t, ok := h.trainingFromRoute(w, r)
	if !ok {
		return
	}
	f, err := h.jobs.OpenJobFile(r.Context(), t, slurm.ScriptFile)
	if err != nil {
		h.renderError(w, r, http.StatusNotFound, "error.not_found")
		return
	}
	defer f.Close()
	transfer.ServeFile(w, r, "training-"+strconv.FormatInt(t.ID, 10)+".sh", f, false)
}
