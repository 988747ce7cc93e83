package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"kqi/portal/picker"
	"kqi/portal/refusal"
)

// pickView is what the picker partials (templates/partials/picker.html)
// show: the model's server, repository, branch and commit with the lists
// for what is chosen so far, the site's images, and the resource step's
// picture. The lists' buttons GET the form's own page again with
// everything typed (pick=1), so the choices work without JavaScript;
// kqi.js swaps in the same parts from pickModel and pickResources
// instead.
type pickView struct {
	ID                                string // element ids start with it (the form's kind)
	Action                            string // the page the list buttons GET
	Image, Repository, Branch, Commit string
	Git                               picker.Git
	Images                            []string
	DefaultImage                      string
	Res                               *picker.Resources // nil: the form has no resource step
	Partition                         string
	Errors                            map[string][]refusal.Field
	Locked                            bool // the model and image may no longer change
}

// pickIDs are the forms that have pickers; a fragment request names one.
var pickIDs = map[string]bool{"training": true, "inference": true, "preprocess": true, "run": true}

// pickFields is a form's picked fields as typed.
type pickFields struct {
	Image, Repository, Branch, Commit string
	Partition, CPU, MemoryGB, GPU     string
}

// newPick lists the choices for what the form holds. v is the request's
// values (query and form): whether it names git_server at all tells an
// explicit "no server" from a form that never said. withResources adds
// the resource step.
func (h *Handler) newPick(r *http.Request, id, action string, f pickFields, v url.Values, withResources bool) (*pickView, error) {
	vis := visitorOf(r)
	p := &pickView{ID: id, Action: action, Image: f.Image, Repository: f.Repository, Branch: f.Branch, Commit: f.Commit, Partition: f.Partition}
	_, serverSet := v["git_server"]
	var err error
	p.Git, err = h.picker.Git(r.Context(), vis.User.ID, picker.GitChoice{Server: v.Get("git_server"), ServerSet: serverSet,
		Repository: f.Repository, Branch: f.Branch, Asked: v.Get("pick") == "1"})
	if err != nil {
		return nil, err
	}
	p.Images = h.picker.Images(r.Context(), vis.User.ID)
	p.DefaultImage = h.jobs.Cfg.DefaultImage
	if withResources {
		num := func(s string) int { n, _ := strconv.Atoi(strings.TrimSpace(s)); return n }
		res, err := h.picker.Resources(r.Context(), vis.Tenant.ID, picker.Ask{Partition: f.Partition,
			CPU: num(f.CPU), MemoryGB: num(f.MemoryGB), GPU: num(f.GPU)})
		if err != nil {
			return nil, err
		}
		p.Res = &res
	}
	return p, nil
}

// pickFieldsOf reads the picked fields from values.
func pickFieldsOf(v url.Values) pickFields {
	return pickFields{Image: v.Get("image"), Repository: v.Get("git_repository"), Branch: v.Get("git_branch"), Commit: v.Get("git_commit"),
		Partition: v.Get("partition"), CPU: v.Get("cpu"), MemoryGB: v.Get("memory_gb"), GPU: v.Get("gpu")}
}

// pickFragment answers kqi.js with one picker part for the form's values
// in the query (GET /pickers/{part}?id=…), rendered as the page renders it.
func (h *Handler) pickFragment(part string, withResources bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		id := q.Get("id")
		if !pickIDs[id] || h.picker == nil {
			h.NotFound(w, r)
			return
		}
		action := q.Get("action") // the form's own page, for the parts' buttons
		if !strings.HasPrefix(action, "/") || strings.HasPrefix(action, "//") || strings.ContainsAny(action, "\\?#") {
			action = ""
		}
		q.Set("pick", "1") // a choice changed: list what it offers
		p, err := h.newPick(r, id, action, pickFieldsOf(q), q, withResources)
		if err != nil {
			h.serverError(w, r, err)
			return
		}
		h.renderPart(w, r, "training_new", part, p)
	}
}
