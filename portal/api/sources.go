package api

import (
	"kqi/storage"
	"net/http"

	"github.com/gorilla/mux"
)

type serverBody struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	URL  string `json:"url,omitempty"`
	Host string `json:"host,omitempty"`
}

func gitServerBody(g *storage.GitServer) serverBody {
	return serverBody{ID: g.ID, Name: g.Name, URL: g.URL}
}

func registryBody(r *storage.Registry) serverBody {
	return serverBody{ID: r.ID, Name: r.Name, Host: r.Host}
}

func (h *Handler) createGitServer(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name string `json:"name"`
		URL  string `json:"url"`
	}
	if !decode(w, r, &req) {
		return
	}
	g, err := h.sources.CreateGitServer(r.Context(), req.Name, req.URL)
	if h.failed(w, r, err) {
		return
	}
	writeJSON(w, http.StatusCreated, gitServerBody(g))
}

func (h *Handler) createRegistry(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name string `json:"name"`
		Host string `json:"host"`
	}
	if !decode(w, r, &req) {
		return
	}
	reg, err := h.sources.CreateRegistry(r.Context(), req.Name, req.Host)
	if h.failed(w, r, err) {
		return
	}
	writeJSON(w, http.StatusCreated, registryBody(reg))
}

func (h *Handler) listGitServers(w http.ResponseWriter, r *http.Request) {
	list, err := h.sources.GitServers(r.Context())
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	writeList(w, list, len(list), gitServerBody)
}

func (h *Handler) listRegistries(w http.ResponseWriter, r *http.Request) {
	list, err := h.sources.Registries(r.Context())
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	writeList(w, list, len(list), registryBody)
}

// setCredential stores the caller's token for a server; the answer never
// repeats it.
func (h *Handler) setCredential(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Username string `json:"username"`
		Token    string `json:"token"`
	}
	if !decode(w, r, &req) {
		return
	}
	err := h.sources.SetToken(r.Context(), callerOf(r).User.ID, mux.Vars(r)["kind"], routeID(r), req.Username, req.Token)
	if h.failed(w, r, err) {
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) deleteCredential(w http.ResponseWriter, r *http.Request) {
	if err := h.sources.DeleteToken(r.Context(), callerOf(r).User.ID, mux.Vars(r)["kind"], routeID(r)); err != nil {
		h.serverError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
