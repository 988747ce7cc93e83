package api

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"kqi/portal/i18n"
	"kqi/portal/jobs"
	"kqi/portal/transfer"
	"kqi/slurm"
	"kqi/storage"
	"kqi/storage/files"
)

func (h *Handler) createTraining(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r)
	var req jobs.TrainingJSON
	if !decode(w, r, &req) {
		return
	}
	t, err := h.jobs.Submit(r.Context(), jobs.Actor{TenantID: c.Tenant.ID, UserID: c.User.ID}, jobs.Training, req.Request())
	if h.failed(w, r, err) {
		return
	}
	writeJSON(w, http.StatusCreated, toTrainingBody(t))
}

type trainingBody struct {
	ID            int64       `json:"id"`
	Name          string      `json:"name"`
	Status        string      `json:"status"`
	Reason        string      `json:"reason"`      // in English
	ReasonCode    string      `json:"reason_code"` // the cause's code (see docs/api.md), "" for none
	ReasonArg     string      `json:"reason_arg"`
	ExitCode      *int        `json:"exit_code"`
	SlurmJobID    string      `json:"slurm_job_id"`
	Node          string      `json:"node"`
	DatasetID     int64       `json:"dataset_id"`
	ParentID      *int64      `json:"parent_id"`
	Image         string      `json:"image"`
	Git           jobs.GitRef `json:"git"`
	Command       string      `json:"command"`
	CPU           int         `json:"cpu"`
	MemoryGB      int         `json:"memory_gb"`
	GPU           int         `json:"gpu"`
	Partition     string      `json:"partition"`
	Env           []envBody   `json:"env"`
	SbatchOptions []string    `json:"sbatch_options"`
	TimeLimitMin  int         `json:"time_limit_minutes"`
	Memo          string      `json:"memo"`
	Tags          []string    `json:"tags"`
	Favorite      bool        `json:"favorite"`
	CreatedBy     string      `json:"created_by"`
	CreatedAt     time.Time   `json:"created_at"`
	QueuedAt      *time.Time  `json:"queued_at"`
	StartedAt     *time.Time  `json:"started_at"`
	EndedAt       *time.Time  `json:"ended_at"`
}

type envBody struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

func toTrainingBody(t *storage.Job) trainingBody {
	b := trainingBody{ID: t.ID, Name: t.Name, Status: t.Status, Reason: causeText(t.Reason, t.ReasonArg), ReasonCode: t.Reason, ReasonArg: t.ReasonArg, ExitCode: t.ExitCode, SlurmJobID: t.SlurmJobID,
		Node: t.Node, DatasetID: t.DatasetID, ParentID: t.ParentID(), Image: t.Image,
		Git: jobs.GitRef{Repository: t.GitRepository, Branch: t.GitBranch, Commit: t.GitCommit}, Command: t.Command,
		CPU: t.CPU, MemoryGB: t.MemoryGB, GPU: t.GPU, Partition: t.Partition, SbatchOptions: t.SbatchOptions,
		TimeLimitMin: t.TimeLimitMin, Memo: t.Memo, Tags: t.Tags, Favorite: t.Favorite, CreatedBy: t.CreatedBy,
		CreatedAt: t.CreatedAt, QueuedAt: t.QueuedAt, StartedAt: t.StartedAt, EndedAt: t.EndedAt, Env: []envBody{}}
	for _, e := range t.Env {
		b.Env = append(b.Env, envBody{Name: e.Name, Value: e.Value})
	}
	if b.Tags == nil {
		b.Tags = []string{}
	}
	if b.SbatchOptions == nil {
		b.SbatchOptions = []string{}
	}
	return b
}

func (h *Handler) listTrainings(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	items, total, err := h.jobs.List(r.Context(), callerOf(r).Tenant.ID, jobs.Training, storage.JobFilter{
		Name: q.Get("name"), Status: q.Get("status"), Tag: q.Get("tag"), Favorite: q.Get("favorite") == "1" || q.Get("favorite") == "true",
		Sort: q.Get("sort"), Desc: q.Get("desc") != "0", Page: int(intParam(q, "page")), PerPage: int(intParam(q, "per_page"))})
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	out := listBody[trainingBody]{Items: []trainingBody{}, Total: total}
	for i := range items {
		out.Items = append(out.Items, toTrainingBody(&items[i]))
	}
	writeJSON(w, http.StatusOK, out)
}

// training loads the route's training in the caller's tenant, answering
// 404 for anyone else's.
func (h *Handler) training(w http.ResponseWriter, r *http.Request) (*storage.Job, bool) {
	t, err := h.jobs.Job(r.Context(), callerOf(r).Tenant.ID, jobs.Training, routeID(r))
	if h.failed(w, r, err) {
		return nil, false
	}
	return t, true
}

func (h *Handler) getTraining(w http.ResponseWriter, r *http.Request) {
	if t, ok := h.training(w, r); ok {
		writeJSON(w, http.StatusOK, toTrainingBody(t))
	}
}

func (h *Handler) deleteTraining(w http.ResponseWriter, r *http.Request) {
	err := h.jobs.Delete(r.Context(), callerOf(r).Tenant.ID, jobs.Training, routeID(r))
	if h.failed(w, r, err) {
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) stopTraining(w http.ResponseWriter, r *http.Request) {
	t, ok := h.training(w, r)
	if !ok {
		return
	}
	if h.failed(w, r, h.jobs.Stop(r.Context(), t.TenantID, jobs.Training, t.ID)) {
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"id": t.ID, "status": t.Status, "stop_requested": true})
}

// sendJobFile streams one of the job directory's text files.
func (h *Handler) sendJobFile(w http.ResponseWriter, r *http.Request, name string) {
	t, ok := h.training(w, r)
	if !ok {
		return
	}
	f, err := h.jobs.OpenJobFile(r.Context(), t, name)
	if errors.Is(err, files.ErrNotExist) {
		writeError(w, http.StatusNotFound, "api.not_found")
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	io.Copy(w, f)
}

func (h *Handler) trainingLog(w http.ResponseWriter, r *http.Request) {
	h.sendJobFile(w, r, slurm.LogFile)
}
func (h *Handler) trainingScript(w http.ResponseWriter, r *http.Request) {
	h.sendJobFile(w, r, slurm.ScriptFile)
}

type outputBody struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
}

func (h *Handler) trainingFiles(w http.ResponseWriter, r *http.Request) {
	t, ok := h.training(w, r)
	if !ok {
		return
	}
	list, err := h.jobs.Outputs(r.Context(), t)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	out := listBody[outputBody]{Items: []outputBody{}, Total: len(list)}
	for _, f := range list {
		out.Items = append(out.Items, outputBody{Path: f.Path, Size: f.Size})
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) trainingFile(w http.ResponseWriter, r *http.Request) {
	t, ok := h.training(w, r)
	if !ok {
		return
	}
	rel := mux.Vars(r)["path"]
	f, err := h.jobs.OpenOutput(r.Context(), t, rel)
	if errors.Is(err, jobs.ErrBadPath) || errors.Is(err, files.ErrNotExist) || errors.Is(err, files.ErrInvalidPath) {
		writeError(w, http.StatusNotFound, "api.not_found")
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	defer f.Close()
	name := rel[strings.LastIndex(rel, "/")+1:]
	transfer.ServeFile(w, r, name, f, false)
}

func (h *Handler) trainingZip(w http.ResponseWriter, r *http.Request) {
	t, ok := h.training(w, r)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", `attachment; filename="output.zip"`)
	transfer.NoDeadline(w)
	if err := h.jobs.WriteZip(r.Context(), t, w); err != nil {
		// The status is sent; a broken zip is all the client can be told.
		h.log.Error("streaming output.zip", "job", t.ID, "error", err)
	}
}

// causeText is a job's cause in English, "" for none.
func causeText(code, arg string) string {
	if code == "" {
		return ""
	}
	return strings.TrimSpace(i18n.T("en", "cause."+code, arg))
}
