package web

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"kqi/portal/jobs"
	"kqi/portal/transfer"
	"kqi/slurm"
	"kqi/storage"
	"kqi/storage/files"
)

// trainingForm is the create form as typed, every field a string so a
// refused form comes back exactly as it was.
type trainingForm struct {
	Name, ParentID, DatasetID, Image, GitRepository, GitBranch, GitCommit, Command string
	CPU, MemoryGB, GPU, Partition, Env, Memo, SbatchOptions, TimeLimit             string
}

func (f trainingForm) request() (jobs.Request, []jobs.FieldError) {
	var errs []jobs.FieldError
	num := func(field, v string, dst *int) {
		if strings.TrimSpace(v) == "" {
			return
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			errs = append(errs, jobs.FieldError{Field: field, Key: "training.not_a_number"})
		}
		*dst = n
	}
	req := jobs.Request{Name: strings.TrimSpace(f.Name), Image: strings.TrimSpace(f.Image), GitRepository: strings.TrimSpace(f.GitRepository),
		GitBranch: strings.TrimSpace(f.GitBranch), GitCommit: strings.TrimSpace(f.GitCommit), Command: f.Command,
		Partition: f.Partition, Memo: f.Memo}
	num("cpu", f.CPU, &req.CPU)
	num("memory_gb", f.MemoryGB, &req.MemoryGB)
	num("gpu", f.GPU, &req.GPU)
	num("time_limit", f.TimeLimit, &req.TimeLimitMin)
	var ds int
	num("dataset_id", f.DatasetID, &ds)
	req.DatasetID = int64(ds)
	if strings.TrimSpace(f.ParentID) != "" {
		var p int
		num("parent_id", f.ParentID, &p)
		id := int64(p)
		req.ParentID = &id
	}
	for _, line := range strings.Split(f.Env, "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok {
			errs = append(errs, jobs.FieldError{Field: "env", Key: "training.env_line", Arg: line})
			continue
		}
		req.Env = append(req.Env, storage.EnvPair{Name: strings.TrimSpace(name), Value: value})
	}
	for _, line := range strings.Split(f.SbatchOptions, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			req.SbatchOptions = append(req.SbatchOptions, line)
		}
	}
	return req, errs
}

// formFrom fills the form from an existing training (copy-run, or a parent's
// settings as defaults).
func formFrom(t *storage.Training) trainingForm {
	var env []string
	for _, e := range t.Env {
		env = append(env, e.Name+"="+e.Value)
	}
	return trainingForm{Name: t.Name, DatasetID: strconv.FormatInt(t.DatasetID, 10), Image: t.Image,
		GitRepository: t.GitRepository, GitBranch: t.GitBranch, GitCommit: t.GitCommit, Command: t.Command,
		CPU: strconv.Itoa(t.CPU), MemoryGB: strconv.Itoa(t.MemoryGB), GPU: strconv.Itoa(t.GPU), Partition: t.Partition,
		Env: strings.Join(env, "\n"), Memo: t.Memo, SbatchOptions: strings.Join(t.SbatchOptions, "\n"),
		TimeLimit: strconv.Itoa(t.TimeLimitMin)}
}

type trainingFormData struct {
	Form       trainingForm
	Errors     map[string][]jobs.FieldError
	Datasets   []storage.Dataset
	Parents    []storage.Training
	Partitions []slurm.Partition
	Images     string // the default image, shown as a hint
}

func (h *Handler) clusterMissing(w http.ResponseWriter, r *http.Request) bool {
	if h.jobs == nil {
		h.renderError(w, r, http.StatusServiceUnavailable, "error.no_cluster")
		return true
	}
	return false
}

func (h *Handler) renderTrainingForm(w http.ResponseWriter, r *http.Request, status int, d trainingFormData) {
	ctx := r.Context()
	v := visitorOf(r)
	var err error
	if d.Datasets, _, err = h.store.ListDatasets(ctx, v.Tenant.ID, storage.DatasetFilter{Sort: "id", Desc: true, PerPage: 1000}); err != nil {
		h.serverError(w, r, err)
		return
	}
	if d.Parents, _, err = h.store.ListTrainings(ctx, v.Tenant.ID, storage.TrainingFilter{Sort: "id", Desc: true, PerPage: 200}); err != nil {
		h.serverError(w, r, err)
		return
	}
	if d.Partitions, err = h.jobs.Partitions(ctx); err != nil {
		// The form still shows; the partition field says the list is missing.
		h.log.Warn("listing partitions", "error", err)
	}
	d.Images = h.jobs.Cfg.DefaultImage
	h.renderPage(w, r, status, page{Name: "training_new", Nav: "trainings", Title: "training.new_title", Data: d})
}

// showTrainingNew shows an empty form, a copy of a training (?from=ID) or a
// child of one (?parent=ID, its settings as defaults).
func (h *Handler) showTrainingNew(w http.ResponseWriter, r *http.Request) {
	if h.clusterMissing(w, r) {
		return
	}
	v := visitorOf(r)
	form := trainingForm{CPU: "1", MemoryGB: "1", GPU: "0"}
	q := r.URL.Query()
	if q.Get("use_parent") == "1" {
		// "Use its settings" on the form: the chosen parent's settings
		// become the defaults; the name typed so far is kept.
		q.Set("parent", q.Get("parent_id"))
	}
	for _, key := range []string{"from", "parent"} {
		id, ok := parseID(q.Get(key))
		if !ok {
			continue
		}
		src, err := h.store.TrainingByID(r.Context(), v.Tenant.ID, id)
		if err != nil {
			h.renderError(w, r, http.StatusNotFound, "error.not_found")
			return
		}
		form = formFrom(src)
		if key == "parent" {
			form.ParentID = strconv.FormatInt(id, 10)
			form.Name = q.Get("name")
		}
	}
	h.renderTrainingForm(w, r, http.StatusOK, trainingFormData{Form: form})
}

func (h *Handler) createTraining(w http.ResponseWriter, r *http.Request) {
	if h.clusterMissing(w, r) {
		return
	}
	v := visitorOf(r)
	pf := r.PostFormValue
	form := trainingForm{Name: pf("name"), ParentID: pf("parent_id"), DatasetID: pf("dataset_id"), Image: pf("image"),
		GitRepository: pf("git_repository"), GitBranch: pf("git_branch"), GitCommit: pf("git_commit"), Command: pf("command"),
		CPU: pf("cpu"), MemoryGB: pf("memory_gb"), GPU: pf("gpu"), Partition: pf("partition"), Env: pf("env"),
		Memo: pf("memo"), SbatchOptions: pf("sbatch_options"), TimeLimit: pf("time_limit")}
	req, errs := form.request()
	var t *storage.Training
	var err error
	if len(errs) == 0 {
		t, err = h.jobs.Submit(r.Context(), jobs.Actor{TenantID: v.Tenant.ID, UserID: v.User.ID}, req)
		if inv, ok := jobs.AsInvalid(err); ok {
			errs = inv.Errors
		} else if err != nil {
			h.serverError(w, r, err)
			return
		}
	}
	if len(errs) > 0 {
		byField := map[string][]jobs.FieldError{}
		for _, e := range errs {
			byField[e.Field] = append(byField[e.Field], e)
		}
		h.renderTrainingForm(w, r, http.StatusUnprocessableEntity, trainingFormData{Form: form, Errors: byField})
		return
	}
	h.redirectToID(w, r, "trainingDetail", t.ID, "flash.training_submitted")
}

type trainingListData struct {
	Items  []storage.Training
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
	f := storage.TrainingFilter{Name: strings.TrimSpace(q.Get("name")), Status: q.Get("status"), Tag: strings.TrimSpace(q.Get("tag")),
		Favorite: q.Get("favorite") == "1", Sort: lq.Sort, Desc: lq.Desc, Page: lq.Page, PerPage: lq.PerPage}
	if t, err := time.Parse("2006-01-02", q.Get("from")); err == nil {
		f.From = t
	}
	if t, err := time.Parse("2006-01-02", q.Get("to")); err == nil {
		f.To = t.AddDate(0, 0, 1)
	}
	items, total, err := h.store.ListTrainings(r.Context(), v.Tenant.ID, f)
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
	out := map[string]map[string]string{}
	for _, s := range strings.Split(r.URL.Query().Get("ids"), ",") {
		id, ok := parseID(s)
		if !ok || len(out) >= 200 {
			continue
		}
		if t, err := h.store.TrainingByID(r.Context(), v.Tenant.ID, id); err == nil {
			out[s] = map[string]string{"status": t.Status, "reason": t.Reason}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(out)
}

func (h *Handler) trainingFromRoute(w http.ResponseWriter, r *http.Request) (*storage.Training, bool) {
	return fromRoute(h, w, r, h.store.TrainingByID)
}

type trainingDetailData struct {
	T       *storage.Training
	Outputs []jobs.OutputFile
	Attach  []files.FileInfo
	Log     string
	LogSize int64
	Script  string
	Waited  string
	Ran     string
	Error   string
}

// logTail is how much of the log the page shows at first; the rest is one
// click (or the live view) away.
const logTail = 64 << 10

func (h *Handler) showTraining(w http.ResponseWriter, r *http.Request) {
	t, ok := h.trainingFromRoute(w, r)
	if !ok || h.clusterMissing(w, r) {
		return
	}
	h.renderTraining(w, r, http.StatusOK, t, "")
}

func (h *Handler) renderTraining(w http.ResponseWriter, r *http.Request, status int, t *storage.Training, errKey string) {
	ctx := r.Context()
	d := trainingDetailData{T: t, Error: errKey}
	var err error
	if d.Outputs, err = h.jobs.Outputs(ctx, t); err != nil {
		h.log.Warn("listing outputs", "training", t.ID, "error", err)
	}
	if t.JobDir != "" {
		d.Attach, _ = h.jobs.Files.List(ctx, t.JobDir+"/"+slurm.AttachDir)
	}
	if f, err := h.jobs.OpenJobFile(ctx, t, slurm.LogFile); err == nil {
		if fi, err := f.Stat(); err == nil {
			d.LogSize = fi.Size
			if fi.Size > logTail {
				f.Seek(fi.Size-logTail, io.SeekStart)
			}
		}
		b, _ := io.ReadAll(io.LimitReader(f, logTail))
		f.Close()
		d.Log = strings.ToValidUTF8(string(b), "?")
	}
	if f, err := h.jobs.OpenJobFile(ctx, t, slurm.ScriptFile); err == nil {
		b, _ := io.ReadAll(io.LimitReader(f, 256<<10))
		f.Close()
		d.Script = string(b)
	}
	if t.QueuedAt != nil {
		end := time.Now()
		if t.StartedAt != nil {
			end = *t.StartedAt
		} else if t.EndedAt != nil {
			end = *t.EndedAt
		}
		d.Waited = end.Sub(*t.QueuedAt).Round(time.Second).String()
	}
	if t.StartedAt != nil {
		end := time.Now()
		if t.EndedAt != nil {
			end = *t.EndedAt
		}
		d.Ran = end.Sub(*t.StartedAt).Round(time.Second).String()
	}
	h.renderPage(w, r, status, page{Name: "training_detail", Nav: "trainings", Title: "training.detail_title", Data: d})
}

func (h *Handler) updateTrainingNotes(w http.ResponseWriter, r *http.Request) {
	t, ok := h.trainingFromRoute(w, r)
	if !ok {
		return
	}
	var tags []string
	for _, tag := range strings.Split(r.PostFormValue("tags"), ",") {
		if tag = strings.TrimSpace(tag); tag != "" {
			tags = append(tags, tag)
		}
	}
	if err := h.store.UpdateTrainingNotes(r.Context(), t.TenantID, t.ID, r.PostFormValue("memo"), tags, r.PostFormValue("favorite") == "on"); err != nil {
		h.serverError(w, r, err)
		return
	}
	h.redirectToID(w, r, "trainingDetail", t.ID, "flash.training_saved")
}

func (h *Handler) stopTraining(w http.ResponseWriter, r *http.Request) {
	t, ok := h.trainingFromRoute(w, r)
	if !ok || h.clusterMissing(w, r) {
		return
	}
	if t.Active() {
		if err := h.jobs.Stop(r.Context(), t.TenantID, t.ID); err != nil {
			h.serverError(w, r, err)
			return
		}
		h.setFlash(w, flashInfo, "flash.training_stopping")
	}
	http.Redirect(w, r, h.path("trainingDetail", "id", strconv.FormatInt(t.ID, 10)), http.StatusSeeOther)
}

func (h *Handler) deleteTraining(w http.ResponseWriter, r *http.Request) {
	t, ok := h.trainingFromRoute(w, r)
	if !ok || h.clusterMissing(w, r) {
		return
	}
	err := h.jobs.Delete(r.Context(), t.TenantID, t.ID)
	if errors.Is(err, storage.ErrActive) {
		h.renderTraining(w, r, http.StatusConflict, t, "training.delete_active")
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	h.redirect(w, r, "trainings", flashInfo, "flash.training_deleted")
}

// trainingLog sends the log: whole as a download, or from ?offset= on for
// the live view (which follows while the job runs).
func (h *Handler) trainingLog(w http.ResponseWriter, r *http.Request) {
	t, ok := h.trainingFromRoute(w, r)
	if !ok || h.clusterMissing(w, r) {
		return
	}
	live := r.URL.Query().Has("offset")
	if live {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Training-Status", t.Status)
	}
	f, err := h.jobs.OpenJobFile(r.Context(), t, slurm.LogFile)
	if errors.Is(err, files.ErrNotExist) && live {
		return // no log yet: nothing new
	}
	if err != nil {
		h.renderError(w, r, http.StatusNotFound, "error.not_found")
		return
	}
	defer f.Close()
	if live {
		off, _ := strconv.ParseInt(r.URL.Query().Get("offset"), 10, 64)
		if off > 0 {
			f.Seek(off, io.SeekStart)
		}
		io.Copy(w, io.LimitReader(f, 1<<20))
		return
	}
	transfer.ServeFile(w, r, "training-"+strconv.FormatInt(t.ID, 10)+".log", f, false)
}

func (h *Handler) trainingScript(w http.ResponseWriter, r *http.Request) {
	t, ok := h.trainingFromRoute(w, r)
	if !ok || h.clusterMissing(w, r) {
		return
	}
	f, err := h.jobs.OpenJobFile(r.Context(), t, slurm.ScriptFile)
	if err != nil {
		h.renderError(w, r, http.StatusNotFound, "error.not_found")
		return
	}
	defer f.Close()
	transfer.ServeFile(w, r, "training-"+strconv.FormatInt(t.ID, 10)+".sh", f, false)
}

func (h *Handler) trainingFile(w http.ResponseWriter, r *http.Request) {
	t, ok := h.trainingFromRoute(w, r)
	if !ok || h.clusterMissing(w, r) {
		return
	}
	rel := mux.Vars(r)["path"]
	f, err := h.jobs.OpenOutput(r.Context(), t, rel)
	if err != nil {
		h.renderError(w, r, http.StatusNotFound, "error.not_found")
		return
	}
	defer f.Close()
	transfer.ServeFile(w, r, rel[strings.LastIndex(rel, "/")+1:], f, false)
}

func (h *Handler) trainingZip(w http.ResponseWriter, r *http.Request) {
	t, ok := h.trainingFromRoute(w, r)
	if !ok || h.clusterMissing(w, r) {
		return
	}
	transfer.NoDeadline(w)
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", `attachment; filename="output.zip"`)
	if err := h.jobs.WriteZip(r.Context(), t, w); err != nil {
		h.log.Error("streaming output.zip", "training", t.ID, "error", err)
	}
}

// attachTrainingFiles stores uploaded files in the job's attach directory.
func (h *Handler) attachTrainingFiles(w http.ResponseWriter, r *http.Request) {
	t, ok := h.trainingFromRoute(w, r)
	if !ok || h.clusterMissing(w, r) {
		return
	}
	transfer.NoDeadline(w)
	mr, err := multipartOf(r)
	if err != nil {
		h.renderError(w, r, http.StatusBadRequest, "error.bad_upload")
		return
	}
	// An upload that fails midway takes back the files it already wrote.
	var written []string
	fail := func(key string) {
		for _, name := range written {
			h.jobs.RemoveAttachment(context.WithoutCancel(r.Context()), t, name)
		}
		h.renderTraining(w, r, http.StatusBadRequest, t, key)
	}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			fail("error.bad_upload")
			return
		}
		name := transfer.PartFileName(part)
		if part.FormName() != "file" || name == "" {
			continue
		}
		if _, err := h.jobs.PutAttachment(r.Context(), t, name, part); err != nil {
			if errors.Is(err, files.ErrInvalidPath) {
				fail("training.bad_attachment_name")
			} else {
				fail("error.bad_upload")
			}
			return
		}
		written = append(written, name)
	}
	h.redirectToID(w, r, "trainingDetail", t.ID, "flash.files_added")
}

// trainingsBulk applies one action to the checked trainings: add tags,
// remove tags, or delete (ended ones only; running ones are kept and the
// message says so).
func (h *Handler) trainingsBulk(w http.ResponseWriter, r *http.Request) {
	if h.clusterMissing(w, r) {
		return
	}
	v := visitorOf(r)
	r.ParseForm()
	var tags []string
	for _, tag := range strings.Split(r.PostForm.Get("tags"), ",") {
		if tag = strings.TrimSpace(tag); tag != "" {
			tags = append(tags, tag)
		}
	}
	action := r.PostForm.Get("action")
	kept := 0
	for _, s := range r.PostForm["ids"] {
		id, ok := parseID(s)
		if !ok {
			continue
		}
		t, err := h.store.TrainingByID(r.Context(), v.Tenant.ID, id)
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err != nil {
			h.serverError(w, r, err)
			return
		}
		switch action {
		case "tag", "untag":
			err = h.store.UpdateTrainingNotes(r.Context(), t.TenantID, t.ID, t.Memo, editTags(t.Tags, tags, action == "tag"), t.Favorite)
		case "delete":
			if err = h.jobs.Delete(r.Context(), t.TenantID, t.ID); errors.Is(err, storage.ErrActive) {
				kept, err = kept+1, nil
			}
		}
		if err != nil {
			h.serverError(w, r, err)
			return
		}
	}
	if kept > 0 {
		h.redirect(w, r, "trainings", flashError, "training.some_active")
		return
	}
	h.redirect(w, r, "trainings", flashInfo, "flash.training_saved")
}

// editTags adds or removes tags, keeping order and no duplicates.
func editTags(have, change []string, add bool) []string {
	out := []string{}
	drop := map[string]bool{}
	for _, c := range change {
		drop[c] = !add
	}
	for _, t := range have {
		if !drop[t] {
			out = append(out, t)
		}
	}
	if add {
		for _, c := range change {
			found := false
			for _, t := range out {
				found = found || t == c
			}
			if !found {
				out = append(out, c)
			}
		}
	}
	return out
}
