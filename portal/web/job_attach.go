package web

import (
	"errors"
	"net/http"

	"kqi/portal/jobs"
	"kqi/portal/refusal"
	"kqi/portal/transfer"
)

// attach stores uploaded files in the job's attach directory.
func (p *jobPages) attach(w http.ResponseWriter, r *http.Request) {
	t, ok := p.fromRoute(w, r)
	if !ok {
		return
	}
	transfer.NoDeadline(w)
	mr, err := multipartOf(r)
	if err != nil {
		p.renderError(w, r, http.StatusBadRequest, "error.bad_upload")
		return
	}
	err = p.jobs.AddAttachments(r.Context(), t, mr)
	if errors.Is(err, jobs.ErrUploadCut) {
		p.renderDetail(w, r, http.StatusBadRequest, t, pageMessage{Key: "error.bad_upload"})
		return
	}
	if p.failed(w, r, err, func(e *refusal.Error) {
		key, _ := e.Key()
		status := http.StatusBadRequest
		if e.Kind == refusal.NoSpace {
			status = e.HTTPStatus()
		}
		p.renderDetail(w, r, status, t, pageMessage{Key: key})
	}) {
		return
	}
	p.redirectToID(w, r, p.view().Detail, t.ID, "flash.files_added")
}
