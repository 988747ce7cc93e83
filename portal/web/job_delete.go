package web

import (
	"net/http"

	"kqi/portal/refusal"
)

func (p *jobPages) delete(w http.ResponseWriter, r *http.Request) {
	t, ok := p.fromRoute(w, r)
	if !ok {
		return
	}
	err := p.jobs.Delete(r.Context(), t.TenantID, p.kind, t.ID)
	if e, ok := refusal.Of(err); ok && e.Kind == refusal.Conflict {
		// Still running, or inferences were made from it: the page again,
		// saying what to do first.
		key, arg := e.Key()
		p.renderDetail(w, r, http.StatusConflict, t, pageMessage{key, arg})
		return
	}
	if p.failed(w, r, err, nil) {
		return
	}
	p.redirect(w, r, p.view().List, flashInfo, p.flashKey("deleted"))
}
