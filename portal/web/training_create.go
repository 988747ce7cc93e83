package web

import (
	"net/http"

	"kqi/portal/jobs"
	"kqi/portal/refusal"
	"kqi/storage"
)

func (h *Handler) createTraining(w http.ResponseWriter, r *http.Request) {
	v := visitorOf(r)
	r.ParseForm()
	form := jobs.ParseTrainingForm(r.PostForm)
	req, err := form.Request()
	var t *storage.Job
	if err == nil {
		t, err = h.jobs.Submit(r.Context(), jobs.Actor{TenantID: v.Tenant.ID, UserID: v.User.ID}, jobs.Training, req)
	}
	if err == nil {
		h.redirectToID(w, r, "trainingDetail", t.ID, "flash.training_submitted")
		return
	}
	h.failed(w, r, err, func(e *refusal.Error) {
		h.renderTrainingForm(w, r, http.StatusUnprocessableEntity, trainingFormData{Form: form, Errors: e.ByField()})
	})
}
