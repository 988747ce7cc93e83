package web

import (
	"net/http"

	"kqi/portal/jobs"
	"kqi/portal/refusal"
	"kqi/storage"
)

func (p *jobPages) create(w http.ResponseWriter, r *http.Request) {
	v := visitorOf(r)
	r.ParseForm()
	form := jobs.ParseForm(r.PostForm)
	req, err := form.Request()
	var j *storage.Job
	if err == nil {
		j, err = p.jobs.Submit(r.Context(), jobs.Actor{TenantID: v.Tenant.ID, UserID: v.User.ID}, p.kind, req)
	}
	if err == nil {
		p.redirectToID(w, r, p.view().Detail, j.ID, p.flashKey("submitted"))
		return
	}
	p.failed(w, r, err, func(e *refusal.Error) {
		p.renderForm(w, r, http.StatusUnprocessableEntity, jobFormData{Form: form, Errors: e.ByField()})
	})
}
