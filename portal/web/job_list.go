package web

import (
	"encoding/json"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"kqi/portal/i18n"
	"kqi/portal/jobs"
	"kqi/storage"
)

type jobListData struct {
	P       jobView
	Items   []storage.Job
	Query   listQuery
	Pager   pager
	Filter  map[string]string
	Base    string
	Parents template.HTML // the parent filter's choices, when the kind has one
	Columns int           // of the table, for the row that says there are none
}

// Statuses are the statuses a list can be filtered by.
var Statuses = []string{"submitting", "queued", "running", "completed", "failed", "killed", "error"}

func (p *jobPages) showList(w http.ResponseWriter, r *http.Request) {
	v := visitorOf(r)
	q := r.URL.Query()
	lq := parseListQuery(q, "id")
	f := storage.JobFilter{Name: strings.TrimSpace(q.Get("name")), Status: q.Get("status"), Tag: strings.TrimSpace(q.Get("tag")),
		Favorite: q.Get("favorite") == "1", Sort: lq.Sort, Desc: lq.Desc, Page: lq.Page, PerPage: lq.PerPage, After: lq.After, Before: lq.Before}
	if t, err := time.Parse("2006-01-02", q.Get("from")); err == nil {
		f.From = t
	}
	if t, err := time.Parse("2006-01-02", q.Get("to")); err == nil {
		f.To = t.AddDate(0, 0, 1)
	}
	keys := []string{"name", "status", "tag", "favorite", "from", "to"}
	d := jobListData{P: p.view(), Columns: 9}
	if p.parentFilter {
		keys = append(keys, "parent_id")
		f.ParentID, _ = parseID(q.Get("parent_id"))
		parents, err := p.jobs.ParentChoices(r.Context(), v.Tenant.ID, p.parents...)
		if err != nil {
			p.serverError(w, r, err)
			return
		}
		d.Parents, d.Columns = parentOptions(v.Lang, parents, q.Get("parent_id")), 11
	}
	pg, err := p.jobs.Page(r.Context(), v.Tenant.ID, p.kind, f)
	if p.badCursor(w, r, err) {
		return
	}
	if err != nil {
		p.serverError(w, r, err)
		return
	}
	d.Base = p.path(d.P.List)
	d.Filter = map[string]string{}
	for _, k := range keys {
		d.Filter[k] = q.Get(k)
	}
	d.Items, d.Query, d.Pager = pg.Items, lq, lq.pager(d.Base, pg.Total, len(pg.Items), pg.Next, pg.Prev)
	p.renderPage(w, r, http.StatusOK, page{Name: p.kind.Name() + "_list", Nav: d.P.List, Title: "nav." + d.P.List, Data: d})
}

// parentOptions are the parent filter's <option>s, written here rather
// than by the template: with 200 parents of each kind, the template's
// calls per option (the id printed twice and compared, the kind's name
// looked up, each value escaped) were three quarters of the page's
// rendering.
func parentOptions(lang string, parents []storage.JobChoice, selected string) template.HTML {
	kinds := map[string]string{} // kind → its name in lang
	var b strings.Builder
	for _, j := range parents {
		k, ok := kinds[j.Kind]
		if !ok {
			k = template.HTMLEscapeString(i18n.T(lang, "kind."+j.Kind))
			kinds[j.Kind] = k
		}
		id := strconv.FormatInt(j.ID, 10)
		b.WriteString(`<option value="` + id + `"`)
		if id == selected {
			b.WriteString(" selected")
		}
		b.WriteString(">#" + id + " " + template.HTMLEscapeString(j.Name) + " (" + k + ")</option>")
	}
	return template.HTML(b.String())
}

// statuses answers the list page's small poll: the status of the jobs it
// shows, so it updates without reloading.
func (p *jobPages) statuses(w http.ResponseWriter, r *http.Request) {
	v := visitorOf(r)
	var ids []int64
	// Capped before any lookup: ids cost nothing to send.
	for _, s := range strings.SplitN(r.URL.Query().Get("ids"), ",", jobs.MaxStatusIDs+1) {
		if id, ok := parseID(s); ok && len(ids) < jobs.MaxStatusIDs {
			ids = append(ids, id)
		}
	}
	list, err := p.jobs.Jobs(r.Context(), v.Tenant.ID, p.kind, ids)
	if err != nil {
		p.serverError(w, r, err)
		return
	}
	out := map[string]map[string]string{}
	for _, t := range list {
		out[strconv.FormatInt(t.ID, 10)] = map[string]string{"status": t.Status, "status_text": i18n.T(v.Lang, "status."+t.Status),
			"reason": i18n.Cause(v.Lang, t.Reason, t.ReasonArg)}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(out)
}
