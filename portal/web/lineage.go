package web

import (
	"fmt"
	"html/template"
	"net/http"
	"strconv"

	"github.com/gorilla/mux"

	"kqi/portal/i18n"
	"kqi/portal/lineage"
	"kqi/storage"
)

// lineageRoutes adds the lineage picture of each thing that has one.
func (h *Handler) lineageRoutes(r *mux.Router) {
	get := http.MethodGet
	r.HandleFunc("/data/{id:[0-9]+}/lineage", h.showLineage("data", "", "data")).Methods(get).Name("dataLineage")
	r.HandleFunc("/datasets/{id:[0-9]+}/lineage", h.showLineage("dataset", "", "datasets")).Methods(get).Name("datasetLineage")
	r.HandleFunc("/trainings/{id:[0-9]+}/lineage", h.showLineage("job", "training", "trainings")).Methods(get).Name("trainingLineage")
	r.HandleFunc("/inferences/{id:[0-9]+}/lineage", h.showLineage("job", "inference", "inferences")).Methods(get).Name("inferenceLineage")
}

type lineageData struct {
	Focus storage.LineageNode
	Back  string // the focus's own page
	SVG   template.HTML
	Count int
	Cut   bool
}

// showLineage draws the graph around one thing of typ (and job kind); a
// thing not the tenant's is a 404 like a missing one.
func (h *Handler) showLineage(typ, kind, nav string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := parseID(mux.Vars(r)["id"])
		if !ok {
			h.renderError(w, r, http.StatusNotFound, "error.not_found")
			return
		}
		v := visitorOf(r)
		focus := storage.LineageKey{Type: typ, ID: id}
		nodes, err := h.jobs.Store.LineageNodes(r.Context(), v.Tenant.ID, []storage.LineageKey{focus})
		if err != nil {
			h.serverError(w, r, err)
			return
		}
		n, ok := nodes[focus]
		if !ok || n.Kind != kind {
			h.renderError(w, r, http.StatusNotFound, "error.not_found")
			return
		}
		g, err := lineage.Build(r.Context(), h.jobs.Store, v.Tenant.ID, focus)
		if err != nil {
			h.serverError(w, r, err)
			return
		}
		svg := lineage.SVG(g, lineage.Arrange(g), func(n storage.LineageNode) lineage.Label { return h.lineageLabel(v.Lang, n) })
		d := lineageData{Focus: n, Back: h.lineageLabel(v.Lang, n).Href, SVG: svg, Count: len(g.Nodes), Cut: g.Cut}
		h.renderPage(w, r, http.StatusOK, page{Name: "lineage", Nav: nav, Title: "lineage.title", Data: d})
	}
}

// lineageLabel is what a node says and where it leads.
func (h *Handler) lineageLabel(lang string, n storage.LineageNode) lineage.Label {
	id := strconv.FormatInt(n.ID, 10)
	status := ""
	if n.Status != "" {
		status = " · " + i18n.T(lang, "status."+n.Status)
	}
	switch n.Type {
	case "data":
		return lineage.Label{Name: n.Name, Sub: fmt.Sprintf("%s #%d", i18n.T(lang, "lineage.datum"), n.ID), Href: h.path("dataDetail", "id", id)}
	case "dataset":
		return lineage.Label{Name: n.Name, Sub: fmt.Sprintf("%s #%d", i18n.T(lang, "lineage.dataset"), n.ID), Href: h.path("datasetDetail", "id", id)}
	case "run":
		return lineage.Label{Name: n.Name, Sub: i18n.T(lang, "home.kind_preprocess") + status,
			Href: h.path("preprocessHistories", "id", strconv.FormatInt(n.Preprocess, 10))}
	}
	return lineage.Label{Name: n.Name, Sub: fmt.Sprintf("%s #%d%s", i18n.T(lang, "home.kind_"+n.Kind), n.ID, status), Href: h.path(n.Kind+"Detail", "id", id)}
}
