package api

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"kqi/portal/picker"
)

// pickerRoutes serves the job forms' choice lists to the CLI and scripts,
// the same lists the forms show (portal/picker).
func (h *Handler) pickerRoutes(in *mux.Router) {
	h.picker = picker.New(h.sources, h.jobs)
	get := http.MethodGet
	in.HandleFunc("/pickers/git", h.pickGit).Methods(get).Name("apiPickGit")
	in.HandleFunc("/pickers/images", h.pickImages).Methods(get).Name("apiPickImages")
	in.HandleFunc("/pickers/resources", h.pickResources).Methods(get).Name("apiPickResources")
}

// pickGit lists the Git servers and, for ?server=NAME, its repositories;
// for ?repository=…, its branches and (of ?branch=, the default one when
// absent) recent commits, all with the caller's tokens.
func (h *Handler) pickGit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	_, serverSet := q["server"]
	g, err := h.picker.Git(r.Context(), callerOf(r).User.ID, picker.GitChoice{Server: q.Get("server"), ServerSet: serverSet,
		Repository: q.Get("repository"), Branch: q.Get("branch"), Asked: true})
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, g)
}

// pickImages lists the images of the site's image store.
func (h *Handler) pickImages(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string][]string{"images": h.picker.Images(r.Context(), callerOf(r).User.ID)})
}

// pickResources judges ?partition=&cpu=&memory_gb=&gpu= against one node
// of the partition and the tenant's quota left.
func (h *Handler) pickResources(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	num := func(k string) int { n, _ := strconv.Atoi(strings.TrimSpace(q.Get(k))); return n }
	res, err := h.picker.Resources(r.Context(), callerOf(r).Tenant.ID, picker.Ask{Partition: q.Get("partition"),
		CPU: num("cpu"), MemoryGB: num("memory_gb"), GPU: num("gpu")})
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}
