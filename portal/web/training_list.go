package web

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"kqi/portal/jobs"
	"kqi/storage"
)

type trainingListData struct {
	Items  []storage.Job
	Query  listQuery
	Pager  pager
	Filter map[string]string
	Base   string
}

// Statuses are the statuses a list can be filtered by.
var Statuses = []string{"submitting", "queued", "running", "completed", "failed", "killed", "error"}

func (h *Handler) showTrainingList(w http.ResponseWriter, r *http.Request) {
	v := visitorOf(r)
	q := r.URL.Query()
	lq := parseListQuery(q, "id")
	f := storage.JobFilter{Name: strings.TrimSpace(q.Get("name")), Status: q.Get("status"), Tag: strings.TrimSpace(q.Get("tag")),
		Favorite: q.Get("favorite") == "1", Sort: lq.Sort, Desc: lq.Desc, Page: lq.Page, PerPage: lq.PerPage}
	if t, err := time.Parse("2006-01-02", q.Get("from")); err == nil {
		f.From = t
	}
	if t, err := time.Parse("2006-01-02", q.Get("to")); err == nil {
		f.To = t.AddDate(0, 0, 1)
	}
	items, total, err := h.jobs.List(r.Context(), v.Tenant.ID, jobs.Training, f)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	base := h.path("trainings")
	filter := map[string]string{}
	for _, k := range []string{"name", "status", "tag", "favorite", "from", "to"} {
		filter[k] = q.Get(k)
	}
	h.render(w, r, http.StatusOK, "training_list", "nav.trainings", trainingListData{
		Items: items, Query: lq, Pager: lq.pager(base, total), Filter: filter, Base: base})
}

// trainingStatuses answers the list page's small poll: the status of the
// trainings it shows, so it updates without reloading.
func (h *Handler) trainingStatuses(w http.ResponseWriter, r *http.Request) {
	v := visitorOf(r)
	lang := visitorOf(r).Lang
	out := map[string]map[string]string{}
	for _, s := range strings.Split(r.URL.Query().Get("ids"), ",") {
		id, ok := parseID(s)
		if !ok || len(out) >= 200 {
			continue
		}
		if t, err := h.jobs.Job(r.Context(), v.Tenant.ID, jobs.Training, id); err == nil {
			out[s] = map[string]string{"status": t.Status, "reason": causeText(lang, t.Reason, t.ReasonArg)}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(out)
}
