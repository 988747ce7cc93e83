package web

import (
	"net/http"
	"strconv"

	"kqi/portal/jobs"
	"kqi/portal/refusal"
	"kqi/storage"
)

type jobFormData struct {
	P      jobView
	Form   jobs.Form
	Errors map[string][]refusal.Field
	Pick   *pickView
	jobs.Choices
}

func (p *jobPages) renderForm(w http.ResponseWriter, r *http.Request, status int, d jobFormData) {
	var err error
	if d.Choices, err = p.jobs.FormChoices(r.Context(), visitorOf(r).Tenant.ID, p.parents...); err != nil {
		p.serverError(w, r, err)
		return
	}
	d.P = p.view()
	r.ParseForm()
	f := d.Form
	d.Pick, err = p.newPick(r, p.kind.Name(), p.path(d.P.New), pickFields{Image: f.Image, Repository: f.GitRepository, Branch: f.GitBranch,
		Commit: f.GitCommit, Partition: f.Partition, CPU: f.CPU, MemoryGB: f.MemoryGB, GPU: f.GPU}, r.Form, true)
	if err != nil {
		p.serverError(w, r, err)
		return
	}
	d.Pick.Errors = d.Errors
	p.renderPage(w, r, status, page{Name: p.kind.Name() + "_new", Nav: d.P.List, Title: p.key("new_title"), Data: d})
}

// showNew shows an empty form, a copy of a job of the kind (?from=ID) or
// one made from a parent (?parent=ID, its settings as defaults).
func (p *jobPages) showNew(w http.ResponseWriter, r *http.Request) {
	form := jobs.Form{CPU: "1", MemoryGB: "1", GPU: "0"}
	q := r.URL.Query()
	if q.Get("pick") == "1" {
		// A picker's list button: the form again, as typed, with the
		// lists for what it holds now.
		form = jobs.ParseForm(q)
	}
	if q.Get("use_parent") == "1" {
		// "Use its settings" on the form: the (first) chosen parent's
		// settings become the defaults; the name typed so far and the
		// parents chosen are kept.
		q.Set("parent", q.Get("parent_id"))
	}
	if id, ok := parseID(q.Get("from")); ok {
		src, err := p.jobs.Job(r.Context(), visitorOf(r).Tenant.ID, p.kind, id)
		if p.failed(w, r, err, nil) {
			return
		}
		form = jobs.FormFrom(src)
	}
	if id, ok := parseID(q.Get("parent")); ok {
		src, err := p.parent(r, id)
		if p.failed(w, r, err, nil) {
			return
		}
		form = jobs.FormFrom(src)
		form.Name = q.Get("name")
		form.ParentIDs = []string{strconv.FormatInt(id, 10)}
		if q.Get("use_parent") == "1" {
			form.ParentIDs = jobs.ParseForm(q).ParentIDs
		}
	}
	p.renderForm(w, r, http.StatusOK, jobFormData{Form: form})
}

// parent loads a job of the tenant that may be a parent of the kind.
func (p *jobPages) parent(r *http.Request, id int64) (*storage.Job, error) {
	var err error
	for _, k := range p.parents {
		var j *storage.Job
		if j, err = p.jobs.Job(r.Context(), visitorOf(r).Tenant.ID, k, id); err == nil {
			return j, nil
		}
	}
	return nil, err
}
