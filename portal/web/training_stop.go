package web

import (
	"net/http"
	"strconv"

	"kqi/portal/jobs"
)

func (h *Handler) stopTraining(w http.ResponseWriter, r *http.Request) {
	t, ok := h.trainingFromRoute(w, r)
	if !ok {
		return
	}
	if t.Active() {
		if h.failed(w, r, h.jobs.Stop(r.Context(), t.TenantID, jobs.Training, t.ID), nil) {
			return
		}
		h.setFlash(w, flashInfo, "flash.training_stopping")
	}
	http.Redirect(w, r, h.path("trainingDetail", "id", strconv.FormatInt(t.ID, 10)), http.StatusSeeOther)
}
