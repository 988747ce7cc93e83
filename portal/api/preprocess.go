package api

import (
	"errors"
	"net/http"
	"sort"
	"strconv"

	"github.com/gorilla/mux"

	"kqi/portal/api/apitypes"
	"kqi/portal/data"
	"kqi/portal/i18n"
	"kqi/portal/jobs"
	"kqi/portal/preprocess"
	"kqi/portal/transfer"
	"kqi/slurm"
	"kqi/storage"
	"kqi/storage/files"
)

// preprocessRoutes are /api/v1/preprocesses: definitions, runs in the
// cluster, their history, and the external workflow (open an entry,
// upload results into it, complete it).
func (h *Handler) preprocessRoutes(in *mux.Router) {
	get, post, put, del := http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete
	in.HandleFunc("/preprocesses", h.createPreprocess).Methods(post).Name("apiPreprocessCreate")
	in.HandleFunc("/preprocesses", h.listPreprocesses).Methods(get).Name("apiPreprocessList")
	one := "/preprocesses/{id:[0-9]+}"
	in.HandleFunc(one, h.getPreprocess).Methods(get).Name("apiPreprocess")
	in.HandleFunc(one, h.updatePreprocess).Methods(put).Name("apiPreprocessUpdate")
	in.HandleFunc(one, h.deletePreprocess).Methods(del).Name("apiPreprocessDelete")
	in.HandleFunc(one+"/copy", h.copyPreprocess).Methods(post).Name("apiPreprocessCopy")
	in.HandleFunc(one+"/runs", h.runPreprocess).Methods(post).Name("apiPreprocessRun")
	in.HandleFunc(one+"/histories", h.listHistories).Methods(get).Name("apiPreprocessHistories")
	in.HandleFunc(one+"/histories", h.openHistory).Methods(post).Name("apiPreprocessHistoryOpen")
	entry := one + "/histories/{data:[0-9]+}"
	in.HandleFunc(entry, h.getHistory).Methods(get).Name("apiPreprocessHistory")
	in.HandleFunc(entry, h.deleteHistory).Methods(del).Name("apiPreprocessHistoryDelete")
	in.HandleFunc(entry+"/log", h.historyLog).Methods(get).Name("apiPreprocessHistoryLog")
	in.HandleFunc(entry+"/stop", h.stopHistory).Methods(post).Name("apiPreprocessHistoryStop")
	in.HandleFunc(entry+"/outputs", h.uploadOutput).Methods(post).Name("apiPreprocessHistoryOutputs")
	in.HandleFunc(entry+"/complete", h.completeHistory).Methods(post).Name("apiPreprocessHistoryComplete")
}

type preprocessRequest = apitypes.PreprocessRequest

func fieldsOf(b preprocessRequest) preprocess.Fields {
	return preprocess.Fields{Name: b.Name, Command: b.Command, Memo: b.Memo, Image: b.Image,
		GitRepository: b.Git.Repository, GitBranch: b.Git.Branch, GitCommit: b.Git.Commit,
		CPU: b.CPU, MemoryGB: b.MemoryGB, GPU: b.GPU}
}

type preprocessBody = apitypes.Preprocess

func toPreprocessBody(p *storage.Preprocess) preprocessBody {
	f := p.Fields
	return preprocessBody{PreprocessRequest: preprocessRequest{Name: f.Name, Command: f.Command, Memo: f.Memo, Image: f.Image,
		Git: jobs.GitRef{Repository: f.GitRepository, Branch: f.GitBranch, Commit: f.GitCommit}, CPU: f.CPU, MemoryGB: f.MemoryGB, GPU: f.GPU},
		ID: p.ID, Locked: p.Used, CreatedBy: p.CreatedBy, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
}

func (h *Handler) actor(r *http.Request) preprocess.Actor {
	c := callerOf(r)
	return preprocess.Actor{TenantID: c.Tenant.ID, UserID: c.User.ID}
}

func (h *Handler) createPreprocess(w http.ResponseWriter, r *http.Request) {
	var req preprocessRequest
	if !decode(w, r, &req) {
		return
	}
	p, err := h.pre.Create(r.Context(), h.actor(r), fieldsOf(req))
	if h.failed(w, r, err) {
		return
	}
	writeJSON(w, http.StatusCreated, toPreprocessBody(p))
}

func (h *Handler) listPreprocesses(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p, err := h.pre.Page(r.Context(), callerOf(r).Tenant.ID, storage.PreprocessFilter{Name: q.Get("name"),
		Sort: q.Get("sort"), Desc: q.Get("desc") != "0", Page: pageParam(q), PerPage: int(intParam(q, "per_page")),
		After: q.Get("after"), Before: q.Get("before")})
	if badCursor(w, r, err) {
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	writePage(w, p, toPreprocessBody)
}

func (h *Handler) getPreprocess(w http.ResponseWriter, r *http.Request) {
	p, err := h.pre.Get(r.Context(), callerOf(r).Tenant.ID, routeID(r))
	if h.failed(w, r, err) {
		return
	}
	writeJSON(w, http.StatusOK, toPreprocessBody(p))
}

func (h *Handler) updatePreprocess(w http.ResponseWriter, r *http.Request) {
	var req preprocessRequest
	if !decode(w, r, &req) {
		return
	}
	if h.failed(w, r, h.pre.Update(r.Context(), callerOf(r).Tenant.ID, routeID(r), fieldsOf(req))) {
		return
	}
	h.getPreprocess(w, r)
}

func (h *Handler) deletePreprocess(w http.ResponseWriter, r *http.Request) {
	if h.failed(w, r, h.pre.Delete(r.Context(), callerOf(r).Tenant.ID, routeID(r))) {
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) copyPreprocess(w http.ResponseWriter, r *http.Request) {
	p, err := h.pre.Copy(r.Context(), h.actor(r), routeID(r))
	if h.failed(w, r, err) {
		return
	}
	writeJSON(w, http.StatusCreated, toPreprocessBody(p))
}

// runRequest is POST …/runs: resources left out are the preprocess's
// defaults.
type runRequest = apitypes.RunRequest

type historyBody = apitypes.History

func toHistoryBody(hs *storage.History) historyBody {
	b := historyBody{DataID: hs.DataID, DataName: hs.DataName, PreprocessID: hs.PreprocessID, Status: hs.Status(),
		External: hs.Job == nil, OutputDataIDs: []int64{}, CreatedBy: hs.CreatedBy, CreatedAt: hs.CreatedAt}
	for _, o := range hs.Outputs {
		b.OutputDataIDs = append(b.OutputDataIDs, o.ID)
	}
	if j := hs.Job; j != nil {
		b.JobID, b.SlurmJobID, b.Node, b.ExitCode, b.StartedAt, b.EndedAt = j.ID, j.SlurmJobID, j.Node, j.ExitCode, j.StartedAt, j.EndedAt
		b.Reason = i18n.Cause("en", j.Reason, j.ReasonArg)
	}
	return b
}

func (h *Handler) runPreprocess(w http.ResponseWriter, r *http.Request) {
	var req runRequest
	if !decode(w, r, &req) {
		return
	}
	p, err := h.pre.Get(r.Context(), callerOf(r).Tenant.ID, routeID(r))
	if h.failed(w, r, err) {
		return
	}
	run := preprocess.Run{DataIDs: req.DataIDs, Partition: req.Partition, CPU: p.Fields.CPU, MemoryGB: p.Fields.MemoryGB, GPU: p.Fields.GPU}
	for _, v := range []struct {
		from *int
		to   *int
	}{{req.CPU, &run.CPU}, {req.MemoryGB, &run.MemoryGB}, {req.GPU, &run.GPU}} {
		if v.from != nil {
			*v.to = *v.from
		}
	}
	names := make([]string, 0, len(req.Env))
	for k := range req.Env {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		run.Env = append(run.Env, storage.EnvPair{Name: k, Value: req.Env[k]})
	}
	hs, err := h.pre.Run(r.Context(), h.actor(r), p.ID, run)
	if h.failed(w, r, err) {
		return
	}
	out := listBody[historyBody]{Items: []historyBody{}, Total: len(hs)}
	for _, e := range hs {
		out.Items = append(out.Items, toHistoryBody(e))
	}
	writeJSON(w, http.StatusCreated, out)
}

func (h *Handler) listHistories(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p, err := h.pre.HistoryPage(r.Context(), callerOf(r).Tenant.ID, routeID(r), storage.HistoryFilter{Page: pageParam(q),
		PerPage: int(intParam(q, "per_page")), After: q.Get("after"), Before: q.Get("before")})
	if badCursor(w, r, err) || h.failed(w, r, err) {
		return
	}
	writePage(w, p, toHistoryBody)
}

func dataRouteID(r *http.Request) int64 {
	id, _ := strconv.ParseInt(mux.Vars(r)["data"], 10, 64)
	return id
}

func (h *Handler) getHistory(w http.ResponseWriter, r *http.Request) {
	e, err := h.pre.History(r.Context(), callerOf(r).Tenant.ID, routeID(r), dataRouteID(r))
	if h.failed(w, r, err) {
		return
	}
	writeJSON(w, http.StatusOK, toHistoryBody(e))
}

func (h *Handler) deleteHistory(w http.ResponseWriter, r *http.Request) {
	if h.failed(w, r, h.pre.DeleteHistory(r.Context(), callerOf(r).Tenant.ID, routeID(r), dataRouteID(r))) {
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) stopHistory(w http.ResponseWriter, r *http.Request) {
	if h.failed(w, r, h.pre.Stop(r.Context(), callerOf(r).Tenant.ID, routeID(r), dataRouteID(r))) {
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// historyLog sends an in-cluster entry's log as stdout_stderr.log.
func (h *Handler) historyLog(w http.ResponseWriter, r *http.Request) {
	e, err := h.pre.History(r.Context(), callerOf(r).Tenant.ID, routeID(r), dataRouteID(r))
	if h.failed(w, r, err) {
		return
	}
	if e.Job == nil {
		writeError(w, http.StatusNotFound, "api.not_found")
		return
	}
	f, err := h.jobs.OpenJobFile(r.Context(), e.Job, slurm.LogFile)
	if errors.Is(err, files.ErrNotExist) {
		writeError(w, http.StatusNotFound, "api.not_found")
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	defer f.Close()
	transfer.ServeFile(w, r, preprocess.LogName, f, false)
}

type openRequest = apitypes.OpenRequest

func (h *Handler) openHistory(w http.ResponseWriter, r *http.Request) {
	var req openRequest
	if !decode(w, r, &req) {
		return
	}
	e, err := h.pre.Open(r.Context(), h.actor(r), routeID(r), req.DataID)
	if h.failed(w, r, err) {
		return
	}
	writeJSON(w, http.StatusCreated, toHistoryBody(e))
}

type uploadBody = apitypes.Upload

// uploadOutput streams one result into an open entry: field name first,
// then the files.
func (h *Handler) uploadOutput(w http.ResponseWriter, r *http.Request) {
	transfer.NoDeadline(w)
	mr, err := transfer.FormOf(r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "the body must be multipart/form-data with a name part, then file parts"})
		return
	}
	name, files, err := h.pre.Upload(r.Context(), h.actor(r), routeID(r), dataRouteID(r), mr)
	if errors.Is(err, data.ErrUploadCut) {
		writeError(w, http.StatusBadRequest, "error.bad_upload")
		return
	}
	if h.failed(w, r, err) {
		return
	}
	out := uploadBody{Name: name, Files: []fileBody{}}
	for _, f := range files {
		out.Files = append(out.Files, fileBody{Name: f.Name, Size: f.Size})
	}
	writeJSON(w, http.StatusCreated, out)
}

func (h *Handler) completeHistory(w http.ResponseWriter, r *http.Request) {
	e, err := h.pre.Complete(r.Context(), h.actor(r), routeID(r), dataRouteID(r))
	if h.failed(w, r, err) {
		return
	}
	writeJSON(w, http.StatusOK, toHistoryBody(e))
}
