package web

import (
	"net/http"
	"strings"

	"kqi/portal/jobs"
)

func (h *Handler) updateTrainingNotes(w http.ResponseWriter, r *http.Request) {
	t, ok := h.trainingFromRoute(w, r)
	if !ok {
		return
	}
	var tags []string
	for _, tag := range strings.Split(r.PostFormValue("tags"), ",") {
		if tag = strings.TrimSpace(tag); tag != "" {
			tags = append(tags, tag)
		}
	}
	err := h.jobs.UpdateNotes(r.Context(), t.TenantID, jobs.Training, t.ID, r.PostFormValue("memo"), tags, r.PostFormValue("favorite") == "on")
	if h.failed(w, r, err) {
		return
	}
	h.redirectToID(w, r, "trainingDetail", t.ID, "flash.training_saved")
}
