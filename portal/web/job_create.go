package web

import (
	"net/http"
	"strconv"

	"kqi/portal/jobs"
	"kqi/portal/refusal"
	"kqi/slurm"
	"kqi/storage"
)

func (p *jobPages) create(w http.ResponseWriter, r *http.Request) {
	v := visitorOf(r)
	r.ParseForm()
	form := jobs.ParseForm(r.PostForm)
	req, err := form.Request()
	err = withEdge(r, err)
	var j *storage.Job
	if err == nil {
		j, err = p.jobs.Submit(r.Context(), jobs.Actor{TenantID: v.Tenant.ID, UserID: v.User.ID}, p.kind, req)
	}
	if err == nil && j.Status == string(slurm.StatusError) {
		// Recorded, but Slurm never ran it: its page says why.
		p.setFlash(w, flashError, p.flashKey("submit_failed"))
		http.Redirect(w, r, p.path(p.view().Detail, "id", strconv.FormatInt(j.ID, 10)), http.StatusSeeOther)
		return
	}
	if err == nil {
		p.redirectToID(w, r, p.view().Detail, j.ID, p.flashKey("submitted"))
		return
	}
	p.failed(w, r, err, func(e *refusal.Error) {
		p.renderForm(w, r, e.HTTPStatus(), jobFormData{Form: form, Errors: e.ByField()})
	})
}
