package web

import (
	"net/http"
	"strings"

	"kqi/portal/jobs"
)

// trainingsBulk applies one action to the checked trainings: add tags,
// remove tags, or delete (ended ones only; running ones are kept and the
// message says so).
func (h *Handler) trainingsBulk(w http.ResponseWriter, r *http.Request) {
	v := visitorOf(r)
	r.ParseForm()
	var tags []string
	for _, tag := range strings.Split(r.PostForm.Get("tags"), ",") {
		if tag = strings.TrimSpace(tag); tag != "" {
			tags = append(tags, tag)
		}
	}
	var ids []int64
	for _, s := range r.PostForm["ids"] {
		if id, ok := parseID(s); ok {
			ids = append(ids, id)
		}
	}
	kept, err := h.jobs.Bulk(r.Context(), v.Tenant.ID, jobs.Training, ids, r.PostForm.Get("action"), tags)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	if kept > 0 {
		h.redirect(w, r, "trainings", flashError, "training.some_active")
		return
	}
	h.redirect(w, r, "trainings", flashInfo, "flash.training_saved")
}
