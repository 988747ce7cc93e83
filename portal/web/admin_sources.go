package web

import (
	"net/http"

	"kqi/portal/refusal"
	"kqi/storage"
)

type adminSourcesData struct {
	GitServers []storage.GitServer
	Registries []storage.Registry
	Form       map[string]string // what was typed, kept on error
	Refusal    *refusal.Error
}

func (h *Handler) showAdminSources(w http.ResponseWriter, r *http.Request) {
	h.renderAdminSources(w, r, http.StatusOK, adminSourcesData{})
}

func (h *Handler) renderAdminSources(w http.ResponseWriter, r *http.Request, status int, d adminSourcesData) {
	var err error
	if d.GitServers, err = h.sources.GitServers(r.Context()); err != nil {
		h.serverError(w, r, err)
		return
	}
	if d.Registries, err = h.sources.Registries(r.Context()); err != nil {
		h.serverError(w, r, err)
		return
	}
	if d.Form == nil {
		d.Form = map[string]string{}
	}
	h.render(w, r, status, "admin_sources", "admin.sources.title", d)
}

func (h *Handler) afterSourceCreate(w http.ResponseWriter, r *http.Request, form map[string]string, err error) {
	if h.failed(w, r, err, func(e *refusal.Error) {
		h.renderAdminSources(w, r, http.StatusUnprocessableEntity, adminSourcesData{Form: form, Refusal: e})
	}) {
		return
	}
	h.redirect(w, r, "adminSources", flashInfo, "flash.source_created")
}
