package web

import (
	"net/http"

	"kqi/portal/data"
	"kqi/portal/jobs"
	"kqi/portal/refusal"
)

func (h *Handler) updateTrainingNotes(w http.ResponseWriter, r *http.Request) {
	t, ok := h.trainingFromRoute(w, r)
	if !ok {
		return
	}
	tags, err := data.ParseTags(r.PostFormValue("tags"))
	if err == nil {
		err = h.jobs.UpdateNotes(r.Context(), t.TenantID, jobs.Training, t.ID, r.PostFormValue("memo"), tags, r.PostFormValue("favorite") == "on")
	}
	if h.failed(w, r, err, func(e *refusal.Error) {
		key, _ := e.Key()
		h.renderTraining(w, r, http.StatusUnprocessableEntity, t, key)
	}) {
		return
	}
	h.redirectToID(w, r, "trainingDetail", t.ID, "flash.training_saved")
}
