package web

import (
	"net/http"
	"strconv"

	"kqi/portal/preprocess"
	"kqi/portal/refusal"
	"kqi/storage"
)

type preprocessFormData struct {
	Preprocess *storage.Preprocess // nil when creating
	Form       preprocessForm
	Refusal    *refusal.Error
	Pick       *pickView
}

func (h *Handler) renderPreprocessForm(w http.ResponseWriter, r *http.Request, status int, d preprocessFormData) {
	title, action := "preprocess.new_title", h.path("preprocessNew")
	if d.Preprocess != nil {
		title, action = "preprocess.detail_title", h.path("preprocessDetail", "id", strconv.FormatInt(d.Preprocess.ID, 10))
	}
	f := d.Form
	pf := pickFields{Image: f.Image, Repository: f.GitRepository, Branch: f.GitBranch, Commit: f.GitCommit}
	r.ParseForm()
	if d.Preprocess != nil && d.Preprocess.Used {
		// Locked: shown read-only, nothing to list.
		d.Pick = &pickView{ID: "preprocess", Image: f.Image, Repository: f.GitRepository, Branch: f.GitBranch, Commit: f.GitCommit, Locked: true}
	} else {
		var err error
		if d.Pick, err = h.newPick(r, "preprocess", action, pf, r.Form, false); err != nil {
			h.serverError(w, r, err)
			return
		}
	}
	if d.Refusal != nil {
		d.Pick.Errors = d.Refusal.ByField()
	}
	h.renderPage(w, r, status, page{Name: "preprocess_form", Nav: "preprocessing", Title: title, Data: d})
}

func (h *Handler) showPreprocessNew(w http.ResponseWriter, r *http.Request) {
	form := preprocessForm{CPU: "1", MemoryGB: "1", GPU: "0"}
	if q := r.URL.Query(); q.Get("pick") == "1" {
		form = preprocessFormFrom(q) // a picker's list button: as typed
	}
	h.renderPreprocessForm(w, r, http.StatusOK, preprocessFormData{Form: form})
}

func (h *Handler) createPreprocess(w http.ResponseWriter, r *http.Request) {
	v := visitorOf(r)
	form := parsePreprocessForm(r)
	f, err := form.fields()
	err = withEdge(r, err)
	var p *storage.Preprocess
	if err == nil {
		p, err = h.pre.Create(r.Context(), preprocess.Actor{TenantID: v.Tenant.ID, UserID: v.User.ID}, f)
	}
	if h.failed(w, r, err, func(e *refusal.Error) {
		h.renderPreprocessForm(w, r, http.StatusUnprocessableEntity, preprocessFormData{Form: form, Refusal: e})
	}) {
		return
	}
	h.redirectToID(w, r, "preprocessDetail", p.ID, "flash.preprocess_created")
}
