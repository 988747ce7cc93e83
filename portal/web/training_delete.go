package web

import (
	"errors"
	"net/http"

	"kqi/portal/jobs"
	"kqi/storage"
)

func (h *Handler) deleteTraining(w http.ResponseWriter, r *http.Request) {
	t, ok := h.trainingFromRoute(w, r)
	if !ok {
		return
	}
	err := h.jobs.Delete(r.Context(), t.TenantID, jobs.Training, t.ID)
	if errors.Is(err, storage.ErrActive) {
		h.renderTraining(w, r, http.StatusConflict, t, "training.delete_active")
		return
	}
	if h.failed(w, r, err, nil) {
		return
	}
	h.redirect(w, r, "trainings", flashInfo, "flash.training_deleted")
}
