package web

import (
	"net/http"

	"github.com/gorilla/mux"

	"kqi/portal/refusal"
	"kqi/storage"
)

type sshKeysData struct {
	Keys    []storage.SSHKey
	Name    string // what was typed, kept on a refused add
	Key     string
	Refusal *refusal.Error
	Errors  map[string][]refusal.Field
	SSH     string // an example command line
}

func (h *Handler) showSSHKeys(w http.ResponseWriter, r *http.Request) {
	h.renderSSHKeys(w, r, http.StatusOK, sshKeysData{})
}

func (h *Handler) renderSSHKeys(w http.ResponseWriter, r *http.Request, status int, d sshKeysData) {
	if h.keys == nil {
		h.renderError(w, r, http.StatusNotFound, "error.not_found")
		return
	}
	keys, err := h.keys.List(r.Context(), visitorOf(r).User.ID)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	d.Keys = keys
	d.SSH = sshCommand(h.cfg.Shell.Port(), "training-{id}", h.cfg.Shell.Host)
	if d.Refusal != nil {
		d.Errors = d.Refusal.ByField()
	}
	h.renderPage(w, r, status, page{Name: "settings_ssh_keys", Nav: "settings", Title: "shell.keys_title", Data: d})
}

func (h *Handler) addSSHKey(w http.ResponseWriter, r *http.Request) {
	if h.keys == nil {
		h.renderError(w, r, http.StatusNotFound, "error.not_found")
		return
	}
	name, key := r.PostFormValue("name"), r.PostFormValue("public_key")
	err := withEdge(r, nil)
	if err == nil {
		_, err = h.keys.Add(r.Context(), visitorOf(r).User.ID, name, key)
	}
	if h.failed(w, r, err, func(e *refusal.Error) {
		h.renderSSHKeys(w, r, http.StatusUnprocessableEntity, sshKeysData{Name: name, Key: key, Refusal: e})
	}) {
		return
	}
	h.redirect(w, r, "settingsSSHKeys", flashInfo, "flash.ssh_key_added")
}

func (h *Handler) deleteSSHKey(w http.ResponseWriter, r *http.Request) {
	if h.keys == nil {
		h.renderError(w, r, http.StatusNotFound, "error.not_found")
		return
	}
	id, _ := parseID(mux.Vars(r)["id"])
	if h.failed(w, r, h.keys.Delete(r.Context(), visitorOf(r).User.ID, id), nil) {
		return
	}
	h.redirect(w, r, "settingsSSHKeys", flashInfo, "flash.ssh_key_deleted")
}
