package web

import (
	"context"
	"net/http"

	"github.com/gorilla/mux"

	"kqi/portal/jobs"
	"kqi/storage"
)

// jobPages serves the pages of one kind of job. Trainings and inferences
// have the same routes, handlers and template parts; what tells them apart
// is here.
//
// Names follow the kind's: routes {kind}Detail, {kind}Stop… and the list
// {kind}s; templates {kind}_list, {kind}_new, {kind}_detail; element ids
// {kind}-status…; catalog keys of the kind's own words {kind}.new_title….
type jobPages struct {
	*Handler
	kind    jobs.Kind
	parents []jobs.Kind // the kinds its parents may be
	// parentFilter shows the list's filter by parent.
	parentFilter bool
	// extra is what the kind's page shows beyond every job's (the
	// template's job_extra block reads it as .Data.Extra); nil for none.
	extra func(r *http.Request, t *storage.Job) any
}

func (h *Handler) trainingPages() *jobPages {
	return &jobPages{Handler: h, kind: jobs.Training, parents: []jobs.Kind{jobs.Training}, extra: h.trainingExtra}
}

func (h *Handler) inferencePages() *jobPages {
	return &jobPages{Handler: h, kind: jobs.Inference, parents: []jobs.Kind{jobs.Training, jobs.Inference}, parentFilter: true}
}

// jobView is what every job template gets as .P: the route names and the
// kind's name (element ids and catalog keys start with it).
type jobView struct {
	Kind, List, Statuses, Bulk, New, Create, Detail, Update, Stop, Delete, Log, State, Script, Zip, File, Attach string
}

func (p *jobPages) view() jobView {
	k := p.kind.Name()
	return jobView{Kind: k, List: k + "s", Statuses: k + "Statuses", Bulk: k + "sBulk", New: k + "New", Create: k + "Create",
		Detail: k + "Detail", Update: k + "Update", Stop: k + "Stop", Delete: k + "Delete", Log: k + "Log", State: k + "State",
		Script: k + "Script", Zip: k + "Zip", File: k + "File", Attach: k + "Attach"}
}

// routes registers the kind's pages under /{kind}s.
func (p *jobPages) routes(r *mux.Router) {
	v, base := p.view(), "/"+p.kind.Name()+"s"
	get, post := http.MethodGet, http.MethodPost
	r.HandleFunc(base, p.showList).Methods(get).Name(v.List)
	r.HandleFunc(base+"/status", p.statuses).Methods(get).Name(v.Statuses)
	r.HandleFunc(base+"/bulk", p.bulk).Methods(post).Name(v.Bulk)
	r.HandleFunc(base+"/new", p.showNew).Methods(get).Name(v.New)
	r.Handle(base, keepsForm(p.create)).Methods(post).Name(v.Create)
	one := base + "/{id:[0-9]+}"
	r.HandleFunc(one, p.show).Methods(get).Name(v.Detail)
	r.Handle(one, keepsForm(p.updateNotes)).Methods(post).Name(v.Update)
	r.HandleFunc(one+"/stop", p.stop).Methods(post).Name(v.Stop)
	r.HandleFunc(one+"/delete", p.delete).Methods(post).Name(v.Delete)
	r.HandleFunc(one+"/log", p.sendLog).Methods(get).Name(v.Log)
	r.HandleFunc(one+"/state", p.stateJSON).Methods(get).Name(v.State)
	r.HandleFunc(one+"/script", p.script).Methods(get).Name(v.Script)
	r.HandleFunc(one+"/output.zip", p.zip).Methods(get).Name(v.Zip)
	r.HandleFunc(one+"/files/{path:.+}", p.file).Methods(get).Name(v.File)
	r.HandleFunc(one+"/preview/{path:.+}", p.preview).Methods(get).Name(p.kind.Name() + "Preview")
	r.HandleFunc(one+"/attach", p.attach).Methods(post).Name(v.Attach)
	p.shellRoutes(r, one)
}

// fromRoute loads the job the route's {id} names, answering 404 for
// another tenant's, another kind's or none.
func (p *jobPages) fromRoute(w http.ResponseWriter, r *http.Request) (*storage.Job, bool) {
	return fromRoute(p.Handler, w, r, func(ctx context.Context, tenantID, id int64) (*storage.Job, error) {
		return p.jobs.Job(ctx, tenantID, p.kind, id)
	})
}

// key is the catalog key of one of the kind's own messages.
func (p *jobPages) key(name string) string { return p.kind.Name() + "." + name }

// flashKey is the key of one of the kind's flash messages.
func (p *jobPages) flashKey(name string) string { return "flash." + p.kind.Name() + "_" + name }
