package web

import (
	"net/http"

	"kqi/portal/preprocess"
	"kqi/portal/refusal"
	"kqi/storage"
)

type preprocessFormData struct {
	Preprocess *storage.Preprocess // nil when creating
	Form       preprocessForm
	Refusal    *refusal.Error
}

func (h *Handler) renderPreprocessForm(w http.ResponseWriter, r *http.Request, status int, d preprocessFormData) {
	title := "preprocess.new_title"
	if d.Preprocess != nil {
		title = "preprocess.detail_title"
	}
	h.renderPage(w, r, status, page{Name: "preprocess_form", Nav: "preprocessing", Title: title, Data: d})
}

func (h *Handler) showPreprocessNew(w http.ResponseWriter, r *http.Request) {
	h.renderPreprocessForm(w, r, http.StatusOK, preprocessFormData{Form: preprocessForm{CPU: "1", MemoryGB: "1", GPU: "0"}})
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
