package web

import (
	"net/http"

	"kqi/portal/data"
)

// bulk applies one action to the checked jobs: add tags, remove tags, or
// delete (those it may; the others are kept and the message says why).
func (p *jobPages) bulk(w http.ResponseWriter, r *http.Request) {
	ids := checkedIDs(r)
	tags, err := data.ParseTags(r.PostForm.Get("tags"))
	if p.failed(w, r, err, nil) {
		return
	}
	kept, err := p.jobs.Bulk(r.Context(), visitorOf(r).Tenant.ID, p.kind, ids, r.PostForm.Get("action"), tags)
	if p.failed(w, r, err, nil) {
		return
	}
	list := p.view().List
	switch {
	case kept.InUse > 0:
		p.redirect(w, r, list, flashError, p.key("some_in_use"))
	case kept.Active > 0:
		p.redirect(w, r, list, flashError, p.key("some_active"))
	default:
		p.redirect(w, r, list, flashInfo, p.flashKey("saved"))
	}
}
