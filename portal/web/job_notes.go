package web

import (
	"net/http"

	"kqi/portal/data"
	"kqi/portal/refusal"
)

func (p *jobPages) updateNotes(w http.ResponseWriter, r *http.Request) {
	t, ok := p.fromRoute(w, r)
	if !ok {
		return
	}
	tags, err := data.ParseTags(r.PostFormValue("tags"))
	err = withEdge(r, err)
	if err == nil {
		err = p.jobs.UpdateNotes(r.Context(), t.TenantID, p.kind, t.ID, r.PostFormValue("memo"), tags, r.PostFormValue("favorite") == "on")
	}
	if p.failed(w, r, err, func(e *refusal.Error) {
		key, arg := e.Key()
		// The notes form (the page's only use of them) shows what was typed.
		typed := *t
		typed.Memo, typed.Tags, typed.Favorite = r.PostFormValue("memo"), []string{r.PostFormValue("tags")}, r.PostFormValue("favorite") == "on"
		p.renderDetail(w, r, http.StatusUnprocessableEntity, &typed, pageMessage{key, arg})
	}) {
		return
	}
	p.redirectToID(w, r, p.view().Detail, t.ID, p.flashKey("saved"))
}
