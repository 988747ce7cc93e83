package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/gorilla/mux"

	"kqi/portal/api/apitypes"
	"kqi/portal/i18n"
	"kqi/portal/jobs"
	"kqi/portal/transfer"
	"kqi/storage"
	"kqi/storage/files"
)

// jobAPI serves one collection of jobs (/trainings, /inferences): the same
// routes and handlers for every kind, which differs only in the request
// body it reads and the body it answers.
type jobAPI struct {
	*Handler
	kind   jobs.Kind
	decode func(w http.ResponseWriter, r *http.Request) (jobs.Request, bool)
	body   func(*storage.Job) any
}

func (h *Handler) trainingAPI() *jobAPI {
	return &jobAPI{Handler: h, kind: jobs.Training,
		decode: decodeRequest[jobs.TrainingJSON],
		body:   func(j *storage.Job) any { return toJobBody(j) }}
}

func (h *Handler) inferenceAPI() *jobAPI {
	return &jobAPI{Handler: h, kind: jobs.Inference,
		decode: decodeRequest[jobs.InferenceJSON],
		body:   func(j *storage.Job) any { return toInferenceBody(j) }}
}

// decodeRequest reads a job body of type B.
func decodeRequest[B interface{ Request() jobs.Request }](w http.ResponseWriter, r *http.Request) (jobs.Request, bool) {
	var b B
	if !decode(w, r, &b) {
		return jobs.Request{}, false
	}
	return b.Request(), true
}

// routes registers the collection under /{kind}s, its routes named
// api{Kind}Create, api{Kind}List, api{Kind}, ….
func (a *jobAPI) routes(r *mux.Router) {
	k := a.kind.Name()
	base, name := "/"+k+"s", "api"+strings.ToUpper(k[:1])+k[1:]
	one := base + "/{id:[0-9]+}"
	get, post, del := http.MethodGet, http.MethodPost, http.MethodDelete
	r.HandleFunc(base, a.create).Methods(post).Name(name + "Create")
	r.HandleFunc(base, a.list).Methods(get).Name(name + "List")
	r.HandleFunc(one, a.get).Methods(get).Name(name)
	r.HandleFunc(one, a.delete).Methods(del).Name(name + "Delete")
	r.HandleFunc(one+"/log", a.sendLog).Methods(get).Name(name + "Log")
	r.HandleFunc(one+"/script", a.script).Methods(get).Name(name + "Script")
	r.HandleFunc(one+"/files", a.files).Methods(get).Name(name + "Files")
	r.HandleFunc(one+"/files/{path:.+}", a.file).Methods(get).Name(name + "File")
	r.HandleFunc(one+"/output.zip", a.zip).Methods(get).Name(name + "Zip")
	r.HandleFunc(one+"/stop", a.stop).Methods(post).Name(name + "Stop")
	r.HandleFunc(one, a.patchNotes).Methods(http.MethodPatch).Name(name + "Update")
	r.HandleFunc(one+"/attachments", a.attachments).Methods(get).Name(name + "Attachments")
	r.HandleFunc(one+"/attachments", a.attach).Methods(post).Name(name + "Attach")
}

func (a *jobAPI) create(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r)
	req, ok := a.decode(w, r)
	if !ok {
		return
	}
	j, err := a.jobs.Submit(r.Context(), jobs.Actor{TenantID: c.Tenant.ID, UserID: c.User.ID}, a.kind, req)
	if a.failed(w, r, err) {
		return
	}
	writeJSON(w, http.StatusCreated, a.body(j))
}

// jobBody is a job in the API, as trainings have it.
type jobBody = apitypes.Job

// inferenceBody is an inference: a training's body with every parent and
// the output value (null for none).
type inferenceBody = apitypes.Inference

func toInferenceBody(j *storage.Job) inferenceBody {
	b := inferenceBody{Job: toJobBody(j), ParentIDs: j.ParentIDs, Value: j.OutputValue}
	if b.ParentIDs == nil {
		b.ParentIDs = []int64{}
	}
	return b
}

type envBody = apitypes.Env

func toJobBody(t *storage.Job) jobBody {
	b := jobBody{ID: t.ID, Name: t.Name, Status: t.Status, Reason: i18n.Cause("en", t.Reason, t.ReasonArg), ReasonCode: t.Reason, ReasonArg: t.ReasonArg, ExitCode: t.ExitCode, SlurmJobID: t.SlurmJobID,
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

func (a *jobAPI) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p, err := a.jobs.Page(r.Context(), callerOf(r).Tenant.ID, a.kind, storage.JobFilter{
		Name: q.Get("name"), Status: q.Get("status"), Tag: q.Get("tag"), Favorite: q.Get("favorite") == "1" || q.Get("favorite") == "true",
		ParentID: intParam(q, "parent_id"),
		Sort:     q.Get("sort"), Desc: q.Get("desc") != "0", Page: pageParam(q), PerPage: int(intParam(q, "per_page")),
		After: q.Get("after"), Before: q.Get("before")})
	if badCursor(w, r, err) {
		return
	}
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	writePage(w, p, a.body)
}

// job loads the route's job of the kind in the caller's tenant, answering
// 404 for anyone else's (and for another kind's).
func (a *jobAPI) job(w http.ResponseWriter, r *http.Request) (*storage.Job, bool) {
	t, err := a.jobs.Job(r.Context(), callerOf(r).Tenant.ID, a.kind, routeID(r))
	if a.failed(w, r, err) {
		return nil, false
	}
	return t, true
}

func (a *jobAPI) get(w http.ResponseWriter, r *http.Request) {
	if t, ok := a.job(w, r); ok {
		writeJSON(w, http.StatusOK, a.body(t))
	}
}

func (a *jobAPI) delete(w http.ResponseWriter, r *http.Request) {
	err := a.jobs.Delete(r.Context(), callerOf(r).Tenant.ID, a.kind, routeID(r))
	if a.failed(w, r, err) {
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *jobAPI) stop(w http.ResponseWriter, r *http.Request) {
	t, ok := a.job(w, r)
	if !ok {
		return
	}
	if a.failed(w, r, a.jobs.Stop(r.Context(), t.TenantID, a.kind, t.ID)) {
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"id": t.ID, "status": t.Status, "stop_requested": true})
}

// sendJobText answers one of a job's texts (its log, its script) as open
// reads it; 404 when the job has none.
func (a *jobAPI) sendJobText(w http.ResponseWriter, r *http.Request, open func(context.Context, *storage.Job) (io.ReadCloser, error)) {
	t, ok := a.job(w, r)
	if !ok {
		return
	}
	f, err := open(r.Context(), t)
	if errors.Is(err, files.ErrNotExist) {
		writeError(w, http.StatusNotFound, "api.not_found")
		return
	}
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	io.Copy(w, f)
}

func (a *jobAPI) script(w http.ResponseWriter, r *http.Request) {
	a.sendJobText(w, r, func(ctx context.Context, t *storage.Job) (io.ReadCloser, error) {
		script, err := a.jobs.Script(ctx, t)
		return io.NopCloser(strings.NewReader(script)), err
	})
}

type outputBody = apitypes.Output

func (a *jobAPI) files(w http.ResponseWriter, r *http.Request) {
	t, ok := a.job(w, r)
	if !ok {
		return
	}
	list, err := a.jobs.Outputs(r.Context(), t)
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	writeList(w, list, len(list), func(f *jobs.OutputFile) outputBody { return outputBody{Path: f.Path, Size: f.Size} })
}

func (a *jobAPI) file(w http.ResponseWriter, r *http.Request) {
	t, ok := a.job(w, r)
	if !ok {
		return
	}
	rel := mux.Vars(r)["path"]
	f, err := a.jobs.OpenOutput(r.Context(), t, rel)
	if errors.Is(err, jobs.ErrBadPath) || errors.Is(err, files.ErrNotExist) || errors.Is(err, files.ErrInvalidPath) {
		writeError(w, http.StatusNotFound, "api.not_found")
		return
	}
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	defer f.Close()
	name := rel[strings.LastIndex(rel, "/")+1:]
	transfer.ServeFile(w, r, name, f, false)
}

func (a *jobAPI) zip(w http.ResponseWriter, r *http.Request) {
	t, ok := a.job(w, r)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", `attachment; filename="output.zip"`)
	transfer.NoDeadline(w)
	if err := a.jobs.WriteZip(r.Context(), t, w); err != nil {
		// The status is sent; a broken zip is all the client can be told.
		a.log.Error("streaming output.zip", "job", t.ID, "error", err)
	}
}
