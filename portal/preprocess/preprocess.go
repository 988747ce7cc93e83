// Package preprocess holds preprocessing (SPEC §3): preprocess
// definitions, runs on data in the cluster (one job array per run, see
// jobs.Preprocess), their history with the data each entry produced, and
// the external workflow, where the user runs the preprocess elsewhere and
// uploads the results into an open history entry.
package preprocess

import (
	"context"
	"errors"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"kqi/portal/data"
	"kqi/portal/jobs"
	"kqi/portal/refusal"
	"kqi/slurm"
	"kqi/storage"
	"kqi/storage/files"
)

// Service is preprocessing for one tenant at a time.
type Service struct {
	Store *storage.Store
	Files files.FS
	Jobs  *jobs.Service
	Log   *slog.Logger
}

// Actor is who acts: tenant and user.
type Actor = jobs.Actor

// Fields is what a user writes of a preprocess.
type Fields = storage.PreprocessFields

// LogName is the name an entry's log is downloaded as (the seed's
// attachment of the history).
const LogName = "stdout_stderr.log"

// Limits on what users type.
const (
	MaxCommandLen = 64 << 10
	// MaxRunData is the most data one run takes: one array task each.
	MaxRunData = slurm.MaxArraySize
)

var commitPattern = regexp.MustCompile(`^[0-9a-fA-F]{4,64}$`)

// Check adds every reason the fields are refused. Only the name is
// required: a preprocess for the external workflow needs nothing else.
// What running in the cluster needs is checked when it runs.
func Check(f *Fields, bad *refusal.Fields) {
	f.Name = strings.TrimSpace(f.Name)
	f.Image, f.GitRepository = strings.TrimSpace(f.Image), strings.TrimSpace(f.GitRepository)
	f.GitBranch, f.GitCommit = strings.TrimSpace(f.GitBranch), strings.TrimSpace(f.GitCommit)
	switch {
	case f.Name == "":
		bad.Add("name", "preprocess.name_required")
	case utf8.RuneCountInString(f.Name) > data.MaxNameLen || !utf8.ValidString(f.Name):
		bad.Add("name", "data.name_too_long")
	}
	if utf8.RuneCountInString(f.Memo) > data.MaxMemoLen || !utf8.ValidString(f.Memo) {
		bad.Add("memo", "data.memo_too_long")
	}
	if len(f.Command) > MaxCommandLen || !utf8.ValidString(f.Command) || strings.IndexByte(f.Command, 0) >= 0 {
		bad.Add("command", "preprocess.command_too_long")
	}
	for field, v := range map[string]string{"image": f.Image, "git_repository": f.GitRepository, "git_branch": f.GitBranch} {
		if len(v) > 1024 || strings.ContainsAny(v, "\x00\r\n") {
			bad.Add(field, "preprocess.bad_line")
		}
	}
	if f.GitCommit != "" && !commitPattern.MatchString(f.GitCommit) {
		bad.Add("git_commit", "preprocess.bad_commit")
	}
	if (f.GitBranch != "" || f.GitCommit != "") && f.GitRepository == "" {
		bad.Add("git_repository", "preprocess.repository_required")
	}
	for field, v := range map[string]int{"cpu": f.CPU, "memory_gb": f.MemoryGB, "gpu": f.GPU} {
		if v < 0 || v > 1<<20 {
			bad.Add(field, "preprocess.bad_resource")
		}
	}
}

// Create registers a preprocess.
func (s *Service) Create(ctx context.Context, who Actor, f Fields) (*storage.Preprocess, error) {
	var bad refusal.Fields
	Check(&f, &bad)
	if err := bad.Err(); err != nil {
		return nil, err
	}
	return s.Store.CreatePreprocess(ctx, who.TenantID, who.UserID, f)
}

// Get returns a preprocess of the tenant (refusal.NotFound otherwise).
func (s *Service) Get(ctx context.Context, tenantID, id int64) (*storage.Preprocess, error) {
	return notFound(s.Store.PreprocessByID(ctx, tenantID, id))
}

// List returns a page of the tenant's preprocesses.
func (s *Service) List(ctx context.Context, tenantID int64, f storage.PreprocessFilter) ([]storage.Preprocess, int, error) {
	return s.Store.ListPreprocesses(ctx, tenantID, f)
}

// Page is List with the cursors either side.
func (s *Service) Page(ctx context.Context, tenantID int64, f storage.PreprocessFilter) (storage.Page[storage.Preprocess], error) {
	return s.Store.PreprocessesPage(ctx, tenantID, f)
}

// Update changes a preprocess: once it has run, only its name, memo and
// default resources (its command, image and model are what its history
// ran).
func (s *Service) Update(ctx context.Context, tenantID, id int64, f Fields) error {
	var bad refusal.Fields
	Check(&f, &bad)
	if err := bad.Err(); err != nil {
		return err
	}
	switch err := s.Store.UpdatePreprocess(ctx, tenantID, id, f); {
	case errors.Is(err, storage.ErrNotFound):
		return refusal.Missing()
	case errors.Is(err, storage.ErrPreprocessLocked):
		return refusal.Invalidf("command", "preprocess.locked")
	default:
		return err
	}
}

// Delete deletes a preprocess without history.
func (s *Service) Delete(ctx context.Context, tenantID, id int64) error {
	switch err := s.Store.DeletePreprocess(ctx, tenantID, id); {
	case errors.Is(err, storage.ErrNotFound):
		return refusal.Missing()
	case errors.Is(err, storage.ErrPreprocessUsed):
		return refusal.Conflictf("preprocess.delete_used")
	default:
		return err
	}
}

// Copy makes a new preprocess from one: the way to change what a used one
// runs.
func (s *Service) Copy(ctx context.Context, who Actor, id int64) (*storage.Preprocess, error) {
	p, err := s.Get(ctx, who.TenantID, id)
	if err != nil {
		return nil, err
	}
	f := p.Fields
	name := []rune(f.Name + " (copy)")
	if len(name) > data.MaxNameLen {
		name = name[:data.MaxNameLen]
	}
	f.Name = string(name)
	return s.Create(ctx, who, f)
}

func notFound[T any](v *T, err error) (*T, error) {
	if errors.Is(err, storage.ErrNotFound) {
		return nil, refusal.Missing()
	}
	return v, err
}

// Run is a run of a preprocess as the user asked for it.
type Run struct {
	DataIDs   []int64
	Env       []storage.EnvPair
	Partition string
	CPU       int
	MemoryGB  int
	GPU       int
}

// slug turns a preprocess's name into the job name part of its Slurm job
// (preprocess-{slug}-{id}): what squeue shows.
func slug(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '-':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
		if b.Len() >= 30 {
			break
		}
	}
	out := strings.Trim(b.String(), "-.")
	if out == "" {
		return "run"
	}
	return out
}

// Run runs preprocess id on data in the cluster: one job array, one task
// and one history entry per datum. A datum that has an entry already is
// refused (the user deletes that entry to run it again), and so is a run
// of a preprocess that lacks what the cluster needs.
func (s *Service) Run(ctx context.Context, who Actor, id int64, run Run) ([]*storage.History, error) {
	p, err := s.Get(ctx, who.TenantID, id)
	if err != nil {
		return nil, err
	}
	var bad refusal.Fields
	f := p.Fields
	if strings.TrimSpace(f.Command) == "" {
		bad.Add("command", "preprocess.command_required")
	}
	if f.Image == "" {
		bad.Add("image", "preprocess.image_required")
	}
	if f.GitRepository == "" {
		bad.Add("git_repository", "preprocess.model_required")
	}
	seen := map[int64]bool{}
	switch {
	case len(run.DataIDs) == 0:
		bad.Add("data_ids", "preprocess.data_required")
	case len(run.DataIDs) > MaxRunData:
		bad.Add("data_ids", "preprocess.too_many_data", strconv.Itoa(MaxRunData))
	}
	for _, d := range run.DataIDs {
		if seen[d] {
			bad.Add("data_ids", "preprocess.duplicate_data", strconv.FormatInt(d, 10))
		}
		seen[d] = true
	}
	if err := bad.Err(); err != nil {
		return nil, err
	}
	req := jobs.Request{Name: slug(f.Name), Image: f.Image, GitRepository: f.GitRepository, GitBranch: f.GitBranch,
		GitCommit: f.GitCommit, Command: f.Command, CPU: run.CPU, MemoryGB: run.MemoryGB, GPU: run.GPU,
		Partition: run.Partition, Env: run.Env}
	rows, err := s.Jobs.SubmitArray(ctx, who, jobs.Preprocess, req, func(ctx context.Context, req jobs.Request) ([]*storage.Job, error) {
		return s.Store.CreatePreprocessRun(ctx, storage.PreprocessRun{Job: req, PreprocessID: id, DataIDs: run.DataIDs, ArrayLimit: s.Jobs.Cfg.ArrayLimit})
	})
	var exists *storage.HistoryExistsError
	switch {
	case errors.As(err, &exists):
		return nil, refusal.Conflictf("preprocess.already_run", strconv.FormatInt(exists.DataID, 10))
	case errors.Is(err, storage.ErrUnknownData):
		return nil, refusal.Invalidf("data_ids", "preprocess.unknown_data")
	case errors.Is(err, storage.ErrUnknownPreprocess):
		return nil, refusal.Missing()
	case err != nil:
		return nil, err
	}
	out := make([]*storage.History, len(rows))
	for i, j := range rows {
		if out[i], err = s.Store.HistoryOfJob(ctx, j.ID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// HistoryPage is one page of preprocess id's history (f.PreprocessID is
// set to it) with the cursors either side; not found for another
// tenant's.
func (s *Service) HistoryPage(ctx context.Context, tenantID, id int64, f storage.HistoryFilter) (storage.Page[storage.History], error) {
	if _, err := s.Get(ctx, tenantID, id); err != nil {
		return storage.Page[storage.History]{}, err
	}
	f.PreprocessID = id
	return s.Store.HistoriesPage(ctx, tenantID, f)
}

// History returns the entry of preprocess id for a datum.
func (s *Service) History(ctx context.Context, tenantID, id, dataID int64) (*storage.History, error) {
	return notFound(s.Store.HistoryOf(ctx, tenantID, id, dataID))
}

// Lineage is where a datum came from and what was made from it.
type Lineage struct {
	CameFrom []storage.History // the entry that produced it (at most one)
	MadeInto []storage.History // the entries run on it
}

// LineageOf returns a datum's lineage.
func (s *Service) LineageOf(ctx context.Context, tenantID, dataID int64) (Lineage, error) {
	var l Lineage
	var err error
	if l.CameFrom, _, err = s.Store.ListHistories(ctx, tenantID, storage.HistoryFilter{OutputID: dataID, PerPage: 10}); err != nil {
		return l, err
	}
	l.MadeInto, _, err = s.Store.ListHistories(ctx, tenantID, storage.HistoryFilter{DataID: dataID, PerPage: 100})
	return l, err
}

// Stop asks the poller to cancel an entry's run while it waits or runs.
func (s *Service) Stop(ctx context.Context, tenantID, id, dataID int64) error {
	h, err := s.History(ctx, tenantID, id, dataID)
	if err != nil {
		return err
	}
	if h.Job == nil || !h.Job.Active() {
		return refusal.Conflictf("preprocess.not_active")
	}
	return s.Store.RequestStop(ctx, tenantID, h.Job.ID)
}

// DeleteHistory deletes an entry and the data it produced, so the datum
// may be run again: refused while its run is active or a frozen dataset
// holds one of its data.
func (s *Service) DeleteHistory(ctx context.Context, tenantID, id, dataID int64) error {
	gone, err := s.Store.DeleteHistory(ctx, tenantID, id, dataID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return refusal.Missing()
	case errors.Is(err, storage.ErrActive):
		return refusal.Conflictf("preprocess.delete_active")
	case errors.Is(err, storage.ErrFrozen):
		return refusal.Conflictf("preprocess.output_frozen")
	case err != nil:
		return err
	}
	ctx = context.WithoutCancel(ctx)
	var dirs []string
	for _, d := range gone.DataIDs {
		dirs = append(dirs, data.DataDir(tenantID, d))
	}
	if gone.JobDir != "" {
		dirs = append(dirs, gone.JobDir)
	}
	if gone.Dir != "" {
		dirs = append(dirs, gone.Dir)
	}
	for _, d := range dirs {
		if err := s.Files.RemoveAll(ctx, d); err != nil {
			s.Log.Error("removing a deleted history entry's files", "dir", d, "error", err)
		}
	}
	if gone.JobDir != "" {
		s.removeEmptyArray(ctx, gone.JobDir)
	}
	return nil
}

// removeEmptyArray removes an array's directory (its script) once its
// last task directory is gone.
func (s *Service) removeEmptyArray(ctx context.Context, taskDir string) {
	i := strings.LastIndexByte(taskDir, '/')
	if i <= 0 {
		return
	}
	arrayDir := taskDir[:i]
	list, err := s.Files.List(ctx, arrayDir)
	if err != nil {
		return
	}
	for _, e := range list {
		if e.IsDir {
			return
		}
	}
	if err := s.Files.RemoveAll(ctx, arrayDir); err != nil {
		s.Log.Warn("removing an empty array directory", "dir", arrayDir, "error", err)
	}
}
