package web

import (
	"net/http"

	"kqi/portal/jobs"
	"kqi/portal/refusal"
)

func (h *Handler) deleteTraining(w http.ResponseWriter, r *http.Request) {
	t, ok := h.trainingFromRoute(w, r)
	if !ok {
		return
	}
	err := h.jobs.Delete(r.Context(), t.TenantID, jobs.Training, t.ID)
	if e, ok := refusal.Of(err); ok && e.Kind == refusal.Conflict {
		// Still running: the page again, saying to stop it first.
		key, _ := e.Key()
		h.renderTraining(w, r, http.StatusConflict, t, key)
		return
	}
	if h.failed(w, r, err, nil) {
		return
	}
	h.redirect(w, r, "trainings", flashInfo, "flash.training_deleted")
}
