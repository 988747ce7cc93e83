package web

import (
	"net/http"
	"strconv"

	"github.com/gorilla/mux"

	"kqi/portal/refusal"
	"kqi/storage"
)

// A registered Git server or registry can be deleted while in use: users'
// tokens for it go, and jobs keep the full URL they ran with (see
// accounts.Sources.DeleteGitServer). The confirm page says how much of
// each there is.

func (h *Handler) gitServerDeleteStep(g *storage.GitServer, use storage.SourceUse) adminConfirm {
	d := adminConfirm{Heading: "admin.sources.delete_heading", Subject: g.Name + " (" + g.URL + ")", Button: "admin.delete",
		Action: h.path("adminGitServerDelete", "id", strconv.FormatInt(g.ID, 10)), Back: h.path("adminSources")}
	d.Notes = append(d.Notes, note("admin.sources.delete_tokens", strconv.Itoa(use.Credentials)))
	if use.Jobs+use.Preprocesses > 0 {
		d.Notes = append(d.Notes, note("admin.sources.delete_jobs_keep_url", strconv.Itoa(use.Jobs+use.Preprocesses)))
	}
	if use.ActiveJobs > 0 {
		d.Notes = append(d.Notes, note("admin.sources.delete_active", strconv.Itoa(use.ActiveJobs)))
	}
	return d
}

func (h *Handler) confirmGitServerDelete(w http.ResponseWriter, r *http.Request) {
	id, _ := parseID(mux.Vars(r)["id"])
	g, use, err := h.sources.GitServer(r.Context(), id)
	if h.failed(w, r, err, nil) {
		return
	}
	h.renderConfirm(w, r, http.StatusOK, "admin_sources", "admin.delete", h.gitServerDeleteStep(g, use))
}

func (h *Handler) deleteGitServer(w http.ResponseWriter, r *http.Request) {
	id, _ := parseID(mux.Vars(r)["id"])
	g, _, err := h.sources.GitServer(r.Context(), id)
	if err == nil {
		err = h.sources.DeleteGitServer(r.Context(), id)
	}
	if h.failed(w, r, err, nil) {
		return
	}
	h.log.Info("git server deleted", "server", g.Name, "url", g.URL, "by", visitorOf(r).User.Username)
	h.redirect(w, r, "adminSources", flashInfo, "flash.source_deleted")
}

func (h *Handler) registryDeleteStep(reg *storage.Registry, use storage.SourceUse) adminConfirm {
	return adminConfirm{Heading: "admin.sources.delete_heading", Subject: reg.Name + " (" + reg.Host + ")", Button: "admin.delete",
		Action: h.path("adminRegistryDelete", "id", strconv.FormatInt(reg.ID, 10)), Back: h.path("adminSources"),
		Notes: []refusal.Field{note("admin.sources.delete_tokens", strconv.Itoa(use.Credentials)), note("admin.sources.delete_images_stay")}}
}

func (h *Handler) confirmRegistryDelete(w http.ResponseWriter, r *http.Request) {
	id, _ := parseID(mux.Vars(r)["id"])
	reg, use, err := h.sources.Registry(r.Context(), id)
	if h.failed(w, r, err, nil) {
		return
	}
	h.renderConfirm(w, r, http.StatusOK, "admin_sources", "admin.delete", h.registryDeleteStep(reg, use))
}

func (h *Handler) deleteRegistry(w http.ResponseWriter, r *http.Request) {
	id, _ := parseID(mux.Vars(r)["id"])
	reg, _, err := h.sources.Registry(r.Context(), id)
	if err == nil {
		err = h.sources.DeleteRegistry(r.Context(), id)
	}
	if h.failed(w, r, err, nil) {
		return
	}
	h.log.Info("registry deleted", "registry", reg.Name, "host", reg.Host, "by", visitorOf(r).User.Username)
	h.redirect(w, r, "adminSources", flashInfo, "flash.source_deleted")
}
