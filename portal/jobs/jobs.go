// Package jobs runs every kind of job on the cluster (training, inference,
// preprocessing run, TensorBoard) through one lifecycle: validate, record
// as submitting, lay out the job directory, render and submit the batch
// script, poll, finish, stop and delete. A Kind says only what differs.
package jobs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"kqi/portal/accounts"
	"kqi/portal/auth"
	"kqi/portal/config"
	"kqi/portal/data"
	"kqi/portal/input"
	"kqi/portal/metrics"
	"kqi/portal/refusal"
	"kqi/slurm"
	"kqi/storage"
	"kqi/storage/files"
)

// Config is the site's part of every job.
type Config struct {
	ServerURL    string        // KQI_SERVER inside jobs: how a job reaches the API
	Runtime      slurm.Runtime // how the container runs
	DefaultImage string        // used when a request names no image
	SiteEnv      []slurm.EnvVar
	TokenTTL     time.Duration // lifetime of a job's KQI_TOKEN
	SubmitGrace  time.Duration // a row still submitting after this, with no Slurm job, is an error
	// GitFileRoot is the one directory file:// model repositories may be
	// in ("" = none allowed). Clones run on the node as the cluster account,
	// which can read every tenant's files: a file:// URL anywhere else could
	// copy another tenant's checkout. It must not be writable by jobs.
	GitFileRoot string
	// AllowHostImage lets jobs run in the node's own root filesystem
	// (bubblewrap's "host" image). That exposes the node's files, shared
	// filesystem included, to every job: for tests only.
	AllowHostImage bool
	// Identity decides who a tenant's jobs run as on the cluster
	// (config.Config.ClusterIdentity); nil: that function with no site
	// settings.
	Identity func(*storage.Tenant) config.Identity
	// ArrayLimit is how many tasks of one job array run at once (Slurm's
	// --array=…%N); 0 = as many as Slurm schedules.
	ArrayLimit int
	// TensorBoard is how TensorBoard jobs run (config.Config.TensorBoard).
	TensorBoard config.TensorBoard
}

// Service is the job lifecycle.
type Service struct {
	Store   *storage.Store
	Files   files.FS
	Data    *data.Service
	Cluster slurm.Cluster
	Sources *accounts.Sources // Git servers, registries and users' tokens; nil: URLs as typed, no tokens
	// Refs asks a model repository at submit whether it has the branch
	// (gitref.Lister, or gitref.Recent for bursts), so an unreachable
	// repository or unknown branch is refused on the form; nil: not
	// checked (unit tests with made-up repositories).
	Refs interface {
		Has(ctx context.Context, acc accounts.GitAccess, name string) (bool, error)
	}
	Cfg Config
	Log *slog.Logger
	// Now is the clock (time.Now when nil); tests move it instead of
	// sleeping.
	Now func() time.Time

	partsMu sync.Mutex
	parts   []slurm.Partition
	partsAt time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// partitionsTTL is how long the cluster's partition list is reused: it
// changes rarely, and asking slurmrestd twice per submit doubled its cost.
const partitionsTTL = 30 * time.Second

// Partitions lists the cluster's partitions, cached for partitionsTTL.
func (s *Service) Partitions(ctx context.Context) ([]slurm.Partition, error) {
	s.partsMu.Lock()
	defer s.partsMu.Unlock()
	if s.parts != nil && s.now().Sub(s.partsAt) < partitionsTTL {
		return s.parts, nil
	}
	parts, err := s.Cluster.Partitions(ctx)
	if err != nil {
		return nil, err
	}
	s.parts, s.partsAt = parts, s.now()
	return parts, nil
}

// Request is a job as the user asked for it: the row to record. Submit
// sets TenantID, Kind and CreatedBy itself, whatever the caller put there.
type Request = storage.NewJob

// Actor is who submits: tenant and user.
type Actor struct {
	TenantID int64
	UserID   int64
}

var jobName = regexp.MustCompile(`^[a-z0-9.-]{1,30}$`)

// Comment is the --comment that ties a Slurm job to its row, so a job
// submitted just before a crash is found again. instance (the database's
// own id) keeps portals that share a cluster apart.
func Comment(instance, kind string, id int64) string {
	return "kqi:" + instance + ":" + kind + ":" + strconv.FormatInt(id, 10)
}

// JobDir is where a job's directory lives in the file store.
func JobDir(tenantID, id int64) string {
	return jobDirPrefix(tenantID) + strconv.FormatInt(id, 10)
}

// jobDirPrefix is JobDir without the job's id.
func jobDirPrefix(tenantID int64) string {
	return "tenants/" + strconv.FormatInt(tenantID, 10) + "/jobs/"
}

// Validate checks a request of kind against the tenant's data and the
// cluster, before anything is recorded. Refusals are a *refusal.Error.
func (s *Service) Validate(ctx context.Context, tenantID int64, kind Kind, req *Request) error {
	bad, err := s.check(ctx, tenantID, kind, req)
	if err == nil {
		err = s.checkDatasetOwned(ctx, tenantID, req, &bad)
	}
	return cmp.Or(err, bad.Err())
}

// checkDatasetOwned refuses a dataset that is not the tenant's, unless
// the dataset is refused already.
func (s *Service) checkDatasetOwned(ctx context.Context, tenantID int64, req *Request, bad *refusal.Fields) error {
	if req.DatasetID <= 0 {
		return nil
	}
	ok, err := s.Store.HasDataset(ctx, tenantID, req.DatasetID)
	if err == nil && !ok {
		bad.Add("dataset_id", "training.unknown_dataset")
	}
	return err
}

// check is Validate but for whether the dataset is the tenant's: the
// refusals it adds to bad, or a server error.
func (s *Service) check(ctx context.Context, tenantID int64, kind Kind, req *Request) (refusal.Fields, error) {
	var bad refusal.Fields
	if !jobName.MatchString(req.Name) {
		bad.Add("name", "training.invalid_name")
	}
	if req.Image == "" {
		req.Image = s.Cfg.DefaultImage
	}
	rt, err := s.runtime(ctx)
	if err != nil {
		return nil, err
	}
	imageErr := rt.ValidateImage(req.Image)
	if imageErr != nil {
		bad.Add("image", "training.invalid_image", imageErr.Error())
	} else if req.Image == slurm.HostImage && !s.Cfg.AllowHostImage {
		bad.Add("image", "training.host_image_refused")
	}
	if strings.TrimSpace(req.Command) == "" {
		bad.Add("command", "training.command_required")
	}
	repoURL := req.GitRepository
	if acc, err := s.gitAccess(ctx, 0, req.GitRepository); err == nil {
		repoURL = acc.URL
		if key := s.checkRepository(repoURL); key != "" {
			bad.Add("git_repository", key)
		}
	} else if r, ok := refusal.Of(err); ok {
		key, arg := r.Key()
		bad.Add("git_repository", key, arg)
	} else {
		return nil, err
	}
	if err := kind.Check(ctx, s, tenantID, req, &bad); err != nil {
		return nil, err
	}
	if req.CPU < 1 {
		bad.Add("cpu", "training.cpu_min")
	} else if req.CPU > input.MaxCPU {
		bad.Add("cpu", "input.out_of_range", "cpu")
	}
	if req.MemoryGB < 1 {
		bad.Add("memory_gb", "training.memory_min")
	} else if req.MemoryGB > input.MaxMemoryGB {
		bad.Add("memory_gb", "input.out_of_range", "memory_gb")
	}
	if req.GPU < 0 {
		bad.Add("gpu", "training.gpu_min")
	} else if req.GPU > input.MaxGPU {
		bad.Add("gpu", "input.out_of_range", "gpu")
	}
	if !input.InRange(req.TimeLimitMin, 0, input.MaxMinutes) {
		bad.Add("time_limit", "input.out_of_range", "time_limit")
	}
	if utf8.RuneCountInString(req.Memo) > input.MaxMemo {
		bad.Add("memo", "data.memo_too_long")
	}
	if err := s.checkPartition(ctx, req, &bad); err != nil {
		return nil, err
	}
	// The rest (env names, read-only variables, #SBATCH extras, quoting
	// limits) is the slurm package's own check of the job it would run,
	// then the backend's: slurmrestd cannot send every #SBATCH option.
	j := storage.Job{ID: 1, TenantID: tenantID, Kind: kind.Name(), Name: req.Name, Image: req.Image,
		GitRepository: repoURL, GitBranch: req.GitBranch, GitCommit: req.GitCommit, Command: req.Command,
		CPU: max(req.CPU, 1), MemoryGB: max(req.MemoryGB, 1), GPU: max(req.GPU, 0), Partition: req.Partition,
		Env: req.Env, SbatchOptions: req.SbatchOptions, TimeLimitMin: req.TimeLimitMin, DatasetID: req.DatasetID, ParentIDs: req.ParentIDs}
	spec := s.spec(kind, &j, "/validate", Staged{}, Comment("validate", kind.Name(), 1))
	if err := spec.Validate(); err != nil {
		bad.Add("spec", "training.invalid_spec", err.Error())
	} else if _, err := rt.ShellFunction(spec); err != nil && imageErr == nil {
		// The runtime's own limits (Apptainer cannot pass CR LF).
		bad.Add("spec", "training.invalid_spec", err.Error())
	} else if err := s.Cluster.Check(spec); err != nil {
		bad.Add("sbatch_options", "training.backend_refuses", err.Error())
	}
	return bad, nil
}

// checkRepository allows http(s) repositories anywhere and file:// ones
// only inside GitFileRoot (after resolving links, where the portal sees
// the filesystem). It returns a catalog key, or "" when allowed.
func (s *Service) checkRepository(repo string) string {
	if repo == "" {
		return ""
	}
	u, err := url.Parse(repo)
	if err != nil {
		return "training.repository_scheme"
	}
	switch u.Scheme {
	case "http", "https":
		return ""
	case "file":
		root := s.Cfg.GitFileRoot
		if root == "" {
			return "training.repository_file_refused"
		}
		p := filepath.Clean(u.Path)
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		if p != root && !strings.HasPrefix(p, strings.TrimSuffix(root, "/")+"/") {
			return "training.repository_file_refused"
		}
		return ""
	}
	return "training.repository_scheme"
}

// checkRefs asks the repository, with the submitter's token, whether it
// answers and has the branch (or tag) asked for.
func (s *Service) checkRefs(ctx context.Context, userID int64, req *Request) error {
	if s.Refs == nil || req.GitRepository == "" {
		return nil
	}
	acc, err := s.gitAccess(ctx, userID, req.GitRepository)
	if err != nil {
		return err
	}
	has, err := s.Refs.Has(ctx, acc, req.GitBranch)
	if err != nil {
		return refusal.Invalidf("git_repository", "git.unreachable", err.Error())
	}
	if b := req.GitBranch; b != "" && !has {
		return refusal.Invalidf("git_branch", "git.unknown_branch", b)
	}
	return nil
}

// checkPartition refuses an unknown partition and resources beyond what
// one node of it has: Slurm would otherwise queue such a job forever.
func (s *Service) checkPartition(ctx context.Context, req *Request, bad *refusal.Fields) error {
	parts, err := s.Partitions(ctx)
	if err != nil {
		// Nothing is recorded yet: the user may simply try again.
		s.Log.Warn("the cluster does not answer: a submit is refused", "error", err)
		return refusal.Unavailablef("partition", "training.cluster_unavailable")
	}
	var p *slurm.Partition
	for i := range parts {
		if parts[i].Name == req.Partition || (req.Partition == "" && parts[i].Default) {
			p = &parts[i]
		}
	}
	if p == nil {
		bad.Add("partition", "training.unknown_partition", req.Partition)
		return nil
	}
	req.Partition = p.Name
	if req.CPU > p.CPUs {
		bad.Add("cpu", "training.cpu_max", strconv.Itoa(p.CPUs))
	}
	if req.MemoryGB*1024 > p.MemoryMB {
		bad.Add("memory_gb", "training.memory_max", strconv.Itoa(p.MemoryMB/1024))
	}
	gpus := 0
	for _, g := range p.GPUs {
		gpus += g.Count
	}
	if req.GPU > gpus {
		bad.Add("gpu", "training.gpu_max", strconv.Itoa(gpus))
	}
	return nil
}

// Submit validates, records and submits a job of kind. Once the row
// exists, a failure before Slurm has the job leaves it in `error` with the
// cause and without its secrets; once Slurm has it, the job is kept and a
// row that could not record it is settled by the reconcile.
//
// Each step's waits overlap where nothing orders them: the id is taken
// while the request is checked, and the directory's skeleton and the
// reads the job's files need are made while the row is recorded.
func (s *Service) Submit(ctx context.Context, who Actor, kind Kind, req Request) (*storage.Job, error) {
	defer metrics.ObserveSubmit(kind.Name(), time.Now())
	// A refused request leaves a gap in the ids, nothing else.
	var (
		wg    sync.WaitGroup
		id    int64
		idErr error
	)
	wg.Go(func() { id, idErr = s.Store.NextJobID(ctx) })
	bad, err := s.check(ctx, who.TenantID, kind, &req)
	if err == nil && len(bad) > 0 {
		// Refused anyway: the refusal says too whether the dataset is
		// unknown. Otherwise the row's own statement refuses it (below),
		// a round trip fewer.
		err = s.checkDatasetOwned(ctx, who.TenantID, &req, &bad)
	}
	if err = cmp.Or(err, bad.Err()); err == nil {
		err = s.checkRefs(ctx, who.UserID, &req)
	}
	wg.Wait()
	if err = cmp.Or(err, idErr); err != nil {
		return nil, err
	}
	req.TenantID, req.Kind, req.CreatedBy = who.TenantID, kind.Name(), who.UserID
	// The directory's name and the job's token are recorded with the row,
	// in its one commit; a submit that fails later discards both. The
	// directory's bare skeleton is made while the row is recorded; a
	// refused row takes it away again, and one a crash left is swept
	// (SweepUnrecorded).
	token := auth.NewSecret()
	req.ID, req.JobDirPrefix, req.Token, req.TokenExpires = id, jobDirPrefix(who.TenantID), token, s.now().Add(s.Cfg.TokenTTL)
	dir := JobDir(who.TenantID, id) // what the row records as its JobDir
	// Once the row exists the submission runs to its end even if the
	// caller goes away, so the row never waits on a reconcile needlessly.
	// It gives up at half the grace, so the reconcile never settles a row
	// whose submitter is still at work.
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.Cfg.SubmitGrace/2)
	defer cancel()
	var (
		skeletonErr, readErr error
		reads                submitReads
	)
	wg.Go(func() { skeletonErr = s.skeleton(lctx, dir) })
	wg.Go(func() { reads, readErr = s.readForSubmit(lctx, who.UserID, &req) })
	j, err := s.Store.CreateJob(ctx, req)
	wg.Wait()
	if err != nil {
		if rerr := s.Files.RemoveAll(lctx, dir); rerr != nil {
			s.Log.Warn("removing the directory of a refused submit", "job", id, "error", rerr)
		}
	}
	var quota *storage.QuotaError
	switch {
	case errors.As(err, &quota):
		return nil, refusal.Invalidf(quota.Resource, "training.quota_exceeded", fmt.Sprintf("%d + %d > %d", quota.InUse, quota.Asked, quota.Limit))
	case errors.Is(err, storage.ErrUnknownDataset): // not the tenant's, or deleted since
		return nil, refusal.Invalidf("dataset_id", "training.unknown_dataset")
	case errors.Is(err, storage.ErrUnknownParent): // deleted since Validate
		return nil, refusal.Invalidf("parent_id", kind.Name()+".unknown_parent")
	case err != nil:
		return nil, err
	}
	var spec slurm.JobSpec
	var script string
	if err = cmp.Or(skeletonErr, readErr); err == nil {
		spec, script, err = s.prepare(lctx, kind, j, token, reads)
	}
	if errors.Is(err, files.ErrNoSpace) {
		// The store is full: the user is told so (507), nothing is kept.
		s.Log.Error("the file store is full: a submit is withdrawn", "job", j.ID, "kind", j.Kind, "error", err)
		s.withdraw(lctx, j, err)
		return nil, err
	}
	var queued *storage.Job
	if err != nil {
		// Slurm never saw it: the row ends now, with nothing left behind.
		s.Log.Error("job submit failed before Slurm", "job", j.ID, "kind", j.Kind, "error", err)
		s.failUnsubmitted(lctx, j, err)
	} else if queued, err = s.submit(lctx, j, spec, script); errors.Is(err, slurm.ErrUnreachable) {
		// The request never reached Slurm: withdrawn, as if never made,
		// and the user is told to try again.
		s.Log.Warn("the cluster is not answering: a submit is withdrawn", "job", j.ID, "kind", j.Kind, "error", err)
		s.withdraw(lctx, j, err)
		return nil, refusal.Unavailablef("partition", "training.cluster_unavailable")
	} else if err != nil {
		s.Log.Error("job submit failed", "job", j.ID, "kind", j.Kind, "error", err)
		s.failSubmit(lctx, j, err)
	}
	if queued != nil {
		return queued, nil
	}
	return s.Store.JobByID(lctx, who.TenantID, j.ID)
}

// Staged is what a kind adds to a job's container: read-only inputs and
// environment variables (read-only too).
type Staged struct {
	// Input is the directory (relative to the store's root) bound at
	// /kqi/input when it is not the job's own input/: its dataset, staged
	// once for every job of it.
	Input  string
	Inputs []slurm.Bind
	Env    []slurm.EnvVar
}

// skeleton makes a job's directory, bare: a directory costs the disk more
// than anything else a submit writes. Staging makes input/ when the job
// has inputs of its own, and the batch script makes what is still missing
// (input/, output/, attach/); a child of a job that has not run yet makes
// its parent's output/ (parentInputs).
func (s *Service) skeleton(ctx context.Context, dir string) error {
	return s.Files.MkdirAll(ctx, dir)
}

// submitReads is what a job's files and script need from the database
// besides its row.
type submitReads struct {
	git                          accounts.GitAccess
	registryUser, registryPasswd string
	parents                      []slurm.Bind
	instance                     string
	tenant                       *storage.Tenant
	rt                           slurm.Runtime
	// datasetInput is the dataset's tree if a job has staged it already
	// (data.StagedDataset). Else datasetFiles are its files if it was
	// frozen already (the first job of a dataset reads them once the row
	// has frozen it).
	datasetInput string
	datasetFiles []storage.StagedFile
}

// readForSubmit reads what a job of req needs, in three parts side by side
// (the user's credentials, the dataset's files, and the rest). Nothing in
// it depends on the row: it is read while the row is recorded.
func (s *Service) readForSubmit(ctx context.Context, userID int64, req *Request) (submitReads, error) {
	var (
		r                          submitReads
		wg                         sync.WaitGroup
		credErr, filesErr, restErr error
	)
	if req.DatasetID != 0 {
		// The tree is the tenant's dataset if it is there at all: it was
		// staged by a job whose row was allowed the dataset.
		wg.Go(func() {
			r.datasetInput, filesErr = s.Data.StagedDataset(ctx, req.TenantID, req.DatasetID)
			if filesErr != nil || r.datasetInput != "" {
				return
			}
			list, frozen, err := s.Store.FrozenDatasetFiles(ctx, req.TenantID, req.DatasetID)
			if frozen {
				r.datasetFiles = list
			}
			filesErr = err
		})
	}
	wg.Go(func() {
		r.git, r.registryUser, r.registryPasswd, credErr = s.credentials(ctx, userID, req.GitRepository, req.Image)
	})
	r.parents, restErr = s.parentInputs(ctx, req.TenantID, req.ParentIDs)
	if restErr == nil {
		r.instance, restErr = s.Store.InstanceID(ctx)
	}
	if restErr == nil {
		r.tenant, restErr = s.Store.TenantByID(ctx, req.TenantID)
	}
	if restErr == nil {
		r.rt, restErr = s.runtime(ctx)
	}
	wg.Wait()
	return r, cmp.Or(credErr, filesErr, restErr)
}

// credentials resolves the user's access to a job's model repository and
// the login to its image's registry (none when not registered).
func (s *Service) credentials(ctx context.Context, userID int64, repo, image string) (git accounts.GitAccess, regUser, regPasswd string, err error) {
	if git, err = s.gitAccess(ctx, userID, repo); err != nil {
		return git, "", "", fmt.Errorf("model repository: %w", err)
	}
	if s.Sources != nil {
		if regUser, regPasswd, err = s.Sources.ResolveRegistry(ctx, userID, image); err != nil {
			return git, "", "", fmt.Errorf("registry credentials: %w", err)
		}
	}
	return git, regUser, regPasswd, nil
}

// prepare fills the job's directory (named in the row, its skeleton made)
// and renders the job's script. An error means nothing reached Slurm.
//
// The inputs (their links) and the secrets file (an fsync) are
// independent writes to the store, each a millisecond or more: they are
// made side by side.
func (s *Service) prepare(ctx context.Context, kind Kind, j *storage.Job, token string, r submitReads) (slurm.JobSpec, string, error) {
	var (
		none     slurm.JobSpec
		wg       sync.WaitGroup
		staged   Staged
		stageErr error
	)
	wg.Go(func() { staged, stageErr = s.stageInputs(ctx, kind, j, r.datasetInput, r.datasetFiles) })
	secretsErr := s.writeSecrets(ctx, j, slurm.Secrets{KQIToken: token, GitToken: r.git.Token, ModelRepositoryToken: r.git.Token,
		RegistryUsername: r.registryUser, RegistryPassword: r.registryPasswd})
	wg.Wait()
	if stageErr != nil {
		return none, "", fmt.Errorf("stage inputs: %w", stageErr)
	}
	if secretsErr != nil {
		return none, "", secretsErr
	}
	staged.Inputs = append(r.parents, staged.Inputs...)
	spec := s.spec(kind, j, s.Files.LocalPath(j.JobDir), staged, Comment(r.instance, j.Kind, j.ID))
	spec.Account = s.identity(r.tenant).Account
	spec.Git.URL, spec.Git.Username = r.git.URL, r.git.Username
	setEnv(spec.System, "MODEL_REPOSITORY", r.git.URL)
	script, err := slurm.Render(spec, r.rt)
	if err != nil {
		return none, "", fmt.Errorf("render script: %w", err)
	}
	return spec, script, nil
}

// stageInputs binds the job's dataset, if any: the tree staged for every
// job of it (shared, when found before the row), or staged now, by this
// job (from frozen, its files if read before the row, or read now). Then
// the kind's own inputs.
func (s *Service) stageInputs(ctx context.Context, kind Kind, j *storage.Job, shared string, frozen []storage.StagedFile) (Staged, error) {
	own, input := j.JobDir+"/"+slurm.InputDir, shared
	if j.DatasetID != 0 && input == "" {
		var stats files.StageStats
		var err error
		input, stats, err = s.Data.StageDatasetOnce(ctx, j.TenantID, j.DatasetID, frozen, own)
		if err != nil {
			return Staged{}, err
		}
		s.Log.Info("dataset staged", "job", j.ID, "dataset", j.DatasetID, "links", stats.Links, "duration", stats.Duration, "input", input)
	}
	staged, err := kind.Stage(ctx, s, j)
	if err != nil {
		return Staged{}, err
	}
	if input != own {
		staged.Input = input
	}
	return staged, nil
}

// writeSecrets writes the job's tokens (its own, the model repository's
// and the registry's) to its private secrets file.
func (s *Service) writeSecrets(ctx context.Context, j *storage.Job, sec slurm.Secrets) error {
	secrets, err := sec.Marshal()
	if err != nil {
		return err
	}
	if err := s.Files.CreatePrivate(ctx, j.JobDir+"/"+slurm.SecretsFile, secrets); err != nil {
		return fmt.Errorf("write secrets: %w", err)
	}
	return nil
}

// submit hands the prepared job to Slurm and records its id, returning
// the row as it is now.
func (s *Service) submit(ctx context.Context, j *storage.Job, spec slurm.JobSpec, script string) (*storage.Job, error) {
	jobID, err := s.Cluster.Submit(ctx, script, spec)
	if err != nil {
		return nil, err
	}
	s.Log.Info("job submitted", "job", j.ID, "kind", j.Kind, "slurm_job", jobID)
	// Slurm has the job now: it is kept unless no row can ever own it.
	ctx = context.WithoutCancel(ctx)
	// The script is kept with the row for its user to read (Script): Slurm
	// has its own copy, and a file beside the secrets would cost the store
	// a new name per submit.
	queued, err := s.Store.QueueJob(ctx, j.ID, jobID, script)
	if err != nil {
		// The row stays submitting; failSubmit or the reconcile settles it
		// from the job's comment.
		return nil, fmt.Errorf("recording Slurm job %s: %w", jobID, err)
	}
	if queued != nil {
		return queued, nil
	}
	now, err := s.Store.JobByID(ctx, j.TenantID, j.ID)
	switch {
	case err != nil:
		return nil, fmt.Errorf("recording Slurm job %s: %w", jobID, err)
	case now.SlurmJobID == jobID:
		return now, nil // the reconcile adopted it while Slurm's answer was on its way
	}
	// The poller gave up on this row before Slurm answered: no row will
	// ever own the job.
	if cerr := s.Cluster.Cancel(ctx, jobID); cerr != nil {
		s.Log.Error("cancelling a job no row owns", "slurm_job", jobID, "error", cerr)
	}
	return nil, errors.New("the submission took too long and was abandoned")
}

func (s *Service) identity(t *storage.Tenant) config.Identity {
	if s.Cfg.Identity != nil {
		return s.Cfg.Identity(t)
	}
	return (&config.Config{}).ClusterIdentity(t)
}

// parentInputs binds the parents' outputs read-only: one parent at
// /kqi/parent (the training contract), several at /kqi/parent/{id}.
func (s *Service) parentInputs(ctx context.Context, tenantID int64, parentIDs []int64) ([]slurm.Bind, error) {
	var binds []slurm.Bind
	for _, id := range parentIDs {
		p, err := s.Store.JobByID(ctx, tenantID, id)
		if errors.Is(err, storage.ErrNotFound) {
			continue // deleted since: the job runs without it, as PARENT_ID still says
		}
		if err != nil {
			return nil, err
		}
		if p.JobDir == "" {
			continue
		}
		// A parent that has not run yet has no output/ (see skeleton): it
		// is made now, so that the bind has a source. A parent whose
		// directory is gone is not brought back.
		out := p.JobDir + "/" + slurm.OutputDir
		if _, err := s.Files.Stat(ctx, p.JobDir); err == nil {
			if err := s.Files.MkdirAll(ctx, out); err != nil {
				return nil, err
			}
		} else if !errors.Is(err, files.ErrNotExist) {
			return nil, err
		}
		target := "/kqi/parent"
		if len(parentIDs) > 1 {
			target += "/" + strconv.FormatInt(id, 10)
		}
		binds = append(binds, slurm.Bind{Source: s.Files.LocalPath(out), Target: target})
	}
	return binds, nil
}

// spec builds the JobSpec of a job in jobDir (as the nodes see it).
func (s *Service) spec(kind Kind, j *storage.Job, jobDir string, staged Staged, comment string) slurm.JobSpec {
	env := make([]slurm.EnvVar, len(j.Env))
	for i, e := range j.Env {
		env[i] = slurm.EnvVar{Name: e.Name, Value: e.Value}
	}
	parents := make([]string, len(j.ParentIDs))
	for i, id := range j.ParentIDs {
		parents[i] = strconv.FormatInt(id, 10)
	}
	dataset, input := "", ""
	if j.DatasetID != 0 {
		dataset = strconv.FormatInt(j.DatasetID, 10)
	}
	if staged.Input != "" {
		input = s.Files.LocalPath(staged.Input)
	}
	system := []slurm.EnvVar{
		{Name: kind.IDVariable(), Value: strconv.FormatInt(j.ID, 10)},
		{Name: "DATASET_ID", Value: dataset},
		{Name: "PARENT_ID", Value: strings.Join(parents, ",")},
		{Name: "MODEL_REPOSITORY", Value: j.GitRepository},
		{Name: "COMMIT_ID", Value: j.GitCommit},
		{Name: "KQI_SERVER", Value: s.Cfg.ServerURL},
		{Name: "ENTRY_POINT", Value: j.Command},
	}
	return slurm.JobSpec{
		Name:        j.Kind + "-" + j.Name + "-" + strconv.FormatInt(j.ID, 10),
		Comment:     comment,
		Partition:   j.Partition,
		CPUs:        j.CPU,
		MemoryGiB:   j.MemoryGB,
		GPUs:        j.GPU,
		TimeLimit:   time.Duration(j.TimeLimitMin) * time.Minute,
		Extra:       j.SbatchOptions,
		SiteEnv:     s.Cfg.SiteEnv,
		System:      append(system, staged.Env...),
		Env:         env,
		Git:         slurm.GitSource{URL: j.GitRepository, Branch: j.GitBranch, Commit: j.GitCommit},
		Image:       j.Image,
		Command:     j.Command,
		JobDir:      jobDir,
		InputSource: input,
		Inputs:      staged.Inputs,
	}
}

// gitAccess resolves the repository a job names (a URL, or server/path
// of a registered Git server) and the user's token for it.
func (s *Service) gitAccess(ctx context.Context, userID int64, repo string) (accounts.GitAccess, error) {
	if s.Sources == nil {
		return accounts.GitAccess{URL: repo}, nil
	}
	return s.Sources.ResolveGit(ctx, userID, repo)
}

func setEnv(env []slurm.EnvVar, name, value string) {
	for i := range env {
		if env[i].Name == name {
			env[i].Value = value
		}
	}
}

// failUnsubmitted ends a row whose job never reached Slurm: nothing can
// run in its directory, so the directory goes with the secrets and token.
func (s *Service) failUnsubmitted(ctx context.Context, j *storage.Job, cause error) {
	if err := s.Store.FailSubmitting(ctx, j.ID, slurm.CauseSubmitFailed, cause.Error()); err != nil {
		s.Log.Error("recording a failed submission", "job", j.ID, "error", err)
	}
	s.discardIfEnded(ctx, j)
}

// withdraw removes a row whose job never reached Slurm, with everything
// prepared for it. If the row cannot be deleted it stays, ended in error.
func (s *Service) withdraw(ctx context.Context, j *storage.Job, cause error) {
	s.failUnsubmitted(ctx, j, cause)
	if err := s.Store.DeleteJob(ctx, j.TenantID, j.ID); err != nil {
		s.Log.Warn("withdrawing a submission: its row stays, in error", "job", j.ID, "error", err)
	}
}

// failSubmit settles a submission Slurm's call returned an error for.
// Slurm may have accepted the job all the same (a reply lost on the way
// back): a job carrying the row's comment is adopted rather than orphaned,
// and when Slurm cannot be asked the row stays submitting for the
// reconcile. Only a row Slurm surely does not have ends here.
func (s *Service) failSubmit(ctx context.Context, j *storage.Job, cause error) {
	instance, err := s.Store.InstanceID(ctx)
	if err != nil {
		s.Log.Warn("a failed submission is left to the reconcile", "job", j.ID, "error", err)
		return
	}
	comment := commentOf(instance, j)
	_, byComment, err := s.Cluster.FindJobs(ctx, nil, []string{comment})
	if err != nil {
		s.Log.Warn("a failed submission is left to the reconcile: Slurm cannot say whether it has the job", "job", j.ID, "error", err)
		return
	}
	found := byComment[comment]
	if len(found) > 0 {
		// Slurm has it: adopt it, or leave the row submitting for the
		// reconcile; never an error row beside a live job.
		s.Log.Info("adopting a job whose submission reported an error", "job", j.ID, "slurm_job", slurmIDOf(j, found[0]))
		if _, err := s.Store.SetJobQueued(ctx, j.ID, slurmIDOf(j, found[0])); err != nil {
			s.Log.Warn("adopting a job: the reconcile will", "job", j.ID, "error", err)
		}
		return
	}
	s.failUnsubmitted(ctx, j, cause)
}

// discardIfEnded removes what a row that never reached Slurm leaves once
// it has ended: its job directory (secrets file included) and its token.
// A row another path moved on (a job adopted meanwhile) keeps them.
func (s *Service) discardIfEnded(ctx context.Context, j *storage.Job) {
	now, err := s.Store.JobByID(ctx, j.TenantID, j.ID)
	if err != nil {
		s.Log.Warn("reading a job to discard its directory", "job", j.ID, "error", err)
		return
	}
	if now.Active() {
		return
	}
	s.retireSecrets(ctx, now)
	if now.JobDir != "" {
		if err := s.Files.RemoveAll(ctx, now.JobDir); err != nil {
			s.Log.Warn("removing the directory of a job that never ran", "job", j.ID, "error", err)
		}
	}
}
