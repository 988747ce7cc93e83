package web

import (
	"net/http"

	"kqi/portal/refusal"
)

// showPreprocess is a definition's page: its settings as an edit form
// (command, image and model read-only once it has run) and its actions.
func (h *Handler) showPreprocess(w http.ResponseWriter, r *http.Request) {
	p, ok := h.preprocessFromRoute(w, r)
	if !ok {
		return
	}
	form := preprocessFormOf(p.Fields)
	if q := r.URL.Query(); q.Get("pick") == "1" && !p.Used {
		form = preprocessFormFrom(q) // a picker's list button: as typed
	}
	h.renderPreprocessForm(w, r, http.StatusOK, preprocessFormData{Preprocess: p, Form: form})
}

func (h *Handler) updatePreprocess(w http.ResponseWriter, r *http.Request) {
	p, ok := h.preprocessFromRoute(w, r)
	if !ok {
		return
	}
	form := parsePreprocessForm(r)
	if p.Used {
		// Locked fields are shown read-only and not sent: they stay.
		form.Command, form.Image, form.GitRepository, form.GitBranch, form.GitCommit =
			p.Fields.Command, p.Fields.Image, p.Fields.GitRepository, p.Fields.GitBranch, p.Fields.GitCommit
	}
	f, err := form.fields()
	err = withEdge(r, err)
	if err == nil {
		err = h.pre.Update(r.Context(), p.TenantID, p.ID, f)
	}
	if h.failed(w, r, err, func(e *refusal.Error) {
		h.renderPreprocessForm(w, r, http.StatusUnprocessableEntity, preprocessFormData{Preprocess: p, Form: form, Refusal: e})
	}) {
		return
	}
	h.redirectToID(w, r, "preprocessDetail", p.ID, "flash.preprocess_saved")
}
