package web

import (
	"net/http"
	"strconv"
)

func (p *jobPages) stop(w http.ResponseWriter, r *http.Request) {
	t, ok := p.fromRoute(w, r)
	if !ok {
		return
	}
	if t.Active() {
		if p.failed(w, r, p.jobs.Stop(r.Context(), t.TenantID, p.kind, t.ID), nil) {
			return
		}
		p.setFlash(w, flashInfo, p.flashKey("stopping"))
	}
	http.Redirect(w, r, p.path(p.view().Detail, "id", strconv.FormatInt(t.ID, 10)), http.StatusSeeOther)
}
