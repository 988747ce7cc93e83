package web

import (
	"net/http"

	"kqi/portal/data"
	"kqi/portal/jobs"
)

// trainingsBulk applies one action to the checked trainings: add tags,
// remove tags, or delete (ended ones only; running ones are kept and the
// message says so).
func (h *Handler) trainingsBulk(w http.ResponseWriter, r *http.Request) {
	ids := checkedIDs(r)
	tags, err := data.ParseTags(r.PostForm.Get("tags"))
	if h.failed(w, r, err, nil) {
		return
	}
	kept, err := h.jobs.Bulk(r.Context(), visitorOf(r).Tenant.ID, jobs.Training, ids, r.PostForm.Get("action"), tags)
	if h.failed(w, r, err, nil) {
		return
	}
	if kept > 0 {
		h.redirect(w, r, "trainings", flashError, "training.some_active")
		return
	}
	h.redirect(w, r, "trainings", flashInfo, "flash.training_saved")
}
