package api

import (
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"kqi/portal/api/apitypes"
	"kqi/portal/shell"
	"kqi/storage"
)

// SetShellKeys serves the caller's SSH keys; without it (a site that
// offers no shells) those endpoints are not found.
func (h *Handler) SetShellKeys(k *shell.Keys) { h.keys = k }

func (h *Handler) sshKeyRoutes(in *mux.Router) {
	in.HandleFunc("/me/ssh-keys", h.listSSHKeys).Methods(http.MethodGet).Name("apiSSHKeys")
	in.HandleFunc("/me/ssh-keys", h.addSSHKey).Methods(http.MethodPost).Name("apiSSHKeyAdd")
	in.HandleFunc("/me/ssh-keys/{id:[0-9]+}", h.deleteSSHKey).Methods(http.MethodDelete).Name("apiSSHKeyDelete")
}

type sshKeyBody = apitypes.SSHKey

func sshKeyOf(k storage.SSHKey) sshKeyBody {
	b := sshKeyBody{ID: k.ID, Name: k.Name, PublicKey: k.PublicKey, Fingerprint: k.Fingerprint, CreatedAt: k.CreatedAt.UTC().Format(time.RFC3339)}
	if k.LastUsedAt != nil {
		s := k.LastUsedAt.UTC().Format(time.RFC3339)
		b.LastUsedAt = &s
	}
	return b
}

func (h *Handler) listSSHKeys(w http.ResponseWriter, r *http.Request) {
	if h.keys == nil {
		writeError(w, http.StatusNotFound, "api.not_found")
		return
	}
	keys, err := h.keys.List(r.Context(), callerOf(r).User.ID)
	if h.failed(w, r, err) {
		return
	}
	out := make([]sshKeyBody, 0, len(keys))
	for _, k := range keys {
		out = append(out, sshKeyOf(k))
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out})
}

func (h *Handler) addSSHKey(w http.ResponseWriter, r *http.Request) {
	if h.keys == nil {
		writeError(w, http.StatusNotFound, "api.not_found")
		return
	}
	var b struct {
		Name      string `json:"name"`
		PublicKey string `json:"public_key"`
	}
	if !decode(w, r, &b) {
		return
	}
	k, err := h.keys.Add(r.Context(), callerOf(r).User.ID, b.Name, b.PublicKey)
	if h.failed(w, r, err) {
		return
	}
	writeJSON(w, http.StatusCreated, sshKeyOf(*k))
}

func (h *Handler) deleteSSHKey(w http.ResponseWriter, r *http.Request) {
	if h.keys == nil {
		writeError(w, http.StatusNotFound, "api.not_found")
		return
	}
	if h.failed(w, r, h.keys.Delete(r.Context(), callerOf(r).User.ID, routeID(r))) {
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
