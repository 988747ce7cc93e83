package web

import (
	"context"
	"net/http"
	"strconv"

	"kqi/slurm"
	"kqi/storage"
)

// homeRecent is how many recent data, datasets and ended jobs home shows.
const homeRecent = 5

// homeActive is how many running and queued jobs home shows at most.
const homeActive = 50

// homeData is the dashboard: the visitor's live jobs, the tenant's quota
// use and the cluster now, and what was made lately.
type homeData struct {
	Active   []homeJob
	Ended    []homeJob
	Quota    []quotaBar
	Parts    []slurm.Partition
	PartsErr bool // the cluster did not answer: the rest still shows
	Data     []storage.Data
	Datasets []storage.Dataset
}

// homeJob is one job row with the link to its page and its times so far.
type homeJob struct {
	storage.HomeJob
	URL         string
	Waited, Ran string
}

// quotaBar is one resource of the tenant's quota.
type quotaBar struct {
	Key     string // catalog key of the resource's name
	Used    int
	Limited bool // false: no limit
	Limit   int
}

func newQuotaBar(key string, used int, limit *int) quotaBar {
	q := quotaBar{Key: key, Used: used, Limited: limit != nil}
	if limit != nil {
		q.Limit = *limit
	}
	return q
}

// Over reports a use beyond the limit (the limit was lowered under it).
func (q quotaBar) Over() bool { return q.Limited && q.Used > q.Limit }

func (h *Handler) showHome(w http.ResponseWriter, r *http.Request) {
	d, ok := h.home(w, r)
	if !ok {
		return
	}
	h.render(w, r, http.StatusOK, "home", "home.title", d)
}

// showHomeLive is the part of home that changes (jobs, quota), for the
// page's script to swap in without reloading the whole page.
func (h *Handler) showHomeLive(w http.ResponseWriter, r *http.Request) {
	d, ok := h.home(w, r)
	if !ok {
		return
	}
	if d == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	h.renderPart(w, r, "home", "home_live", page{Data: d})
}

// home gathers the dashboard; without a tenant there is nothing to show.
func (h *Handler) home(w http.ResponseWriter, r *http.Request) (*homeData, bool) {
	v := visitorOf(r)
	if v.Tenant == nil {
		return nil, true
	}
	ctx := r.Context()
	d := &homeData{}
	var err error
	if d.Active, err = h.homeJobs(ctx, v, true, homeActive); err != nil {
		h.serverError(w, r, err)
		return nil, false
	}
	if d.Ended, err = h.homeJobs(ctx, v, false, homeRecent); err != nil {
		h.serverError(w, r, err)
		return nil, false
	}
	tenant, err := h.jobs.Store.TenantByID(ctx, v.Tenant.ID)
	if err != nil {
		h.serverError(w, r, err)
		return nil, false
	}
	use, err := h.jobs.Store.TenantUsage(ctx, v.Tenant.ID)
	if err != nil {
		h.serverError(w, r, err)
		return nil, false
	}
	d.Quota = []quotaBar{newQuotaBar("home.quota_cpu", use.CPU, tenant.QuotaCPU), newQuotaBar("home.quota_memory", use.MemoryGB, tenant.QuotaMemoryGB),
		newQuotaBar("home.quota_gpu", use.GPU, tenant.QuotaGPU)}
	if d.Parts, err = h.jobs.Partitions(ctx); err != nil {
		h.log.Warn("home: partitions", "error", err)
		d.PartsErr = true
	}
	if d.Data, _, err = h.data.Store.ListData(ctx, v.Tenant.ID, storage.DataFilter{Sort: "id", Desc: true, PerPage: homeRecent}); err != nil {
		h.serverError(w, r, err)
		return nil, false
	}
	if d.Datasets, _, err = h.data.Store.ListDatasets(ctx, v.Tenant.ID, storage.DatasetFilter{Sort: "id", Desc: true, PerPage: homeRecent}); err != nil {
		h.serverError(w, r, err)
		return nil, false
	}
	return d, true
}

func (h *Handler) homeJobs(ctx context.Context, v *visitor, active bool, limit int) ([]homeJob, error) {
	list, err := h.jobs.Store.UserJobs(ctx, v.Tenant.ID, v.User.ID, active, limit)
	if err != nil {
		return nil, err
	}
	out := make([]homeJob, len(list))
	for i, j := range list {
		out[i] = homeJob{HomeJob: j, URL: h.jobURL(&j)}
		out[i].Waited, out[i].Ran = jobTimes(&j.Job, h.now())
	}
	return out, nil
}

// jobURL is the page of a job of any kind: a preprocessing run's is its
// preprocess's history.
func (h *Handler) jobURL(j *storage.HomeJob) string {
	id := strconv.FormatInt(j.ID, 10)
	switch j.Kind {
	case "training", "inference", "tensorboard":
		return h.path(j.Kind+"Detail", "id", id)
	case "preprocess":
		return h.path("preprocessHistories", "id", strconv.FormatInt(j.PreprocessID, 10))
	}
	return ""
}
