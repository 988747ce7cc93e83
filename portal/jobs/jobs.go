// Package jobs runs trainings on the cluster: it validates a request,
// records it, lays out the job directory, renders and submits the batch
// script, and keeps every active job's status current (the poller).
package jobs

import (
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

	"kqi/portal/accounts"
	"kqi/portal/auth"
	"kqi/portal/data"
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
}

// Service is the training lifecycle.
type Service struct {
	Store   *storage.Store
	Files   files.FS
	Data    *data.Service
	Cluster slurm.Cluster
	Sources *accounts.Sources // Git servers, registries and users' tokens; nil: URLs as typed, no tokens
	Cfg     Config
	Log     *slog.Logger

	partsMu sync.Mutex
	parts   []slurm.Partition
	partsAt time.Time
}

// partitionsTTL is how long the cluster's partition list is reused: it
// changes rarely, and asking slurmrestd twice per submit doubled its cost.
const partitionsTTL = 30 * time.Second

// Partitions lists the cluster's partitions, cached for partitionsTTL.
func (s *Service) Partitions(ctx context.Context) ([]slurm.Partition, error) {
	s.partsMu.Lock()
	defer s.partsMu.Unlock()
	if s.parts != nil && time.Since(s.partsAt) < partitionsTTL {
		return s.parts, nil
	}
	parts, err := s.Cluster.Partitions(ctx)
	if err != nil {
		return nil, err
	}
	s.parts, s.partsAt = parts, time.Now()
	return parts, nil
}

// Request is a training as the user asked for it: the row to record.
// Submit sets TenantID, Kind and CreatedBy itself, whatever the caller put
// there.
type Request = storage.NewTraining

// FieldError is one refusal, tied to the form field it concerns. Key is a
// catalog key; Arg fills it in.
type FieldError struct {
	Field string
	Key   string
	Arg   string
}

// InvalidError lists every refusal of a request, so a form can show them
// all at once.
type InvalidError struct{ Errors []FieldError }

func (e *InvalidError) Error() string {
	parts := make([]string, len(e.Errors))
	for i, f := range e.Errors {
		parts[i] = f.Field + ": " + f.Key + " " + f.Arg
	}
	return "jobs: invalid request: " + strings.Join(parts, "; ")
}

// AsInvalid returns the refusals inside err, if any.
func AsInvalid(err error) (*InvalidError, bool) {
	var inv *InvalidError
	return inv, errors.As(err, &inv)
}

var trainingName = regexp.MustCompile(`^[a-z0-9.-]{1,30}$`)

// Comment is the --comment that ties a Slurm job to its row, so a job
// submitted just before a crash is found again. instance (the database's
// own id) keeps portals that share a cluster apart.
func Comment(instance string, id int64) string {
	return "kqi:" + instance + ":training:" + strconv.FormatInt(id, 10)
}

// JobDir is where a training's job directory lives in the file store.
func JobDir(tenantID, id int64) string {
	return "tenants/" + strconv.FormatInt(tenantID, 10) + "/jobs/" + strconv.FormatInt(id, 10)
}

// Validate checks a request against the tenant's data and the cluster's
// partitions, before anything is recorded.
func (s *Service) Validate(ctx context.Context, tenantID int64, req *Request) error {
	var errs []FieldError
	bad := func(field, key string, arg ...string) {
		fe := FieldError{Field: field, Key: key}
		if len(arg) > 0 {
			fe.Arg = arg[0]
		}
		errs = append(errs, fe)
	}
	if !trainingName.MatchString(req.Name) {
		bad("name", "training.invalid_name")
	}
	if req.Image == "" {
		req.Image = s.Cfg.DefaultImage
	}
	if err := s.Cfg.Runtime.ValidateImage(req.Image); err != nil {
		bad("image", "training.invalid_image", err.Error())
	} else if req.Image == slurm.HostImage && !s.Cfg.AllowHostImage {
		bad("image", "training.host_image_refused")
	}
	if strings.TrimSpace(req.Command) == "" {
		bad("command", "training.command_required")
	}
	repoURL := req.GitRepository
	if acc, err := s.gitAccess(ctx, 0, req.GitRepository); err == nil {
		repoURL = acc.URL
		if key := s.checkRepository(repoURL); key != "" {
			bad("git_repository", key)
		}
	} else {
		if e, ok := refusal.Of(err); ok {
			key, _ := e.Key()
			bad("git_repository", key)
		} else {
			return err
		}
	}
	if _, err := s.Store.DatasetByID(ctx, tenantID, req.DatasetID); errors.Is(err, storage.ErrNotFound) {
		bad("dataset_id", "training.unknown_dataset")
	} else if err != nil {
		return err
	}
	if req.ParentID != nil {
		if _, err := s.Store.TrainingByID(ctx, tenantID, *req.ParentID); errors.Is(err, storage.ErrNotFound) {
			bad("parent_id", "training.unknown_parent")
		} else if err != nil {
			return err
		}
	}
	if req.CPU < 1 {
		bad("cpu", "training.cpu_min")
	}
	if req.MemoryGB < 1 {
		bad("memory_gb", "training.memory_min")
	}
	if req.GPU < 0 {
		bad("gpu", "training.gpu_min")
	}
	if err := s.checkPartition(ctx, req, bad); err != nil {
		return err
	}
	// The rest (env names, read-only variables, #SBATCH extras, quoting
	// limits) is the slurm package's own check of the job it would run.
	spec := s.spec(&storage.Training{ID: 1, TenantID: tenantID, Name: req.Name, Image: req.Image,
		GitRepository: repoURL, GitBranch: req.GitBranch, GitCommit: req.GitCommit, Command: req.Command,
		CPU: max(req.CPU, 1), MemoryGB: max(req.MemoryGB, 1), GPU: max(req.GPU, 0), Partition: req.Partition,
		Env: req.Env, SbatchOptions: req.SbatchOptions, TimeLimitMin: req.TimeLimitMin, DatasetID: req.DatasetID}, "/validate", "", Comment("validate", 1))
	if err := spec.Validate(); err != nil {
		bad("spec", "training.invalid_spec", err.Error())
	}
	if len(errs) > 0 {
		return &InvalidError{Errors: errs}
	}
	return nil
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

// checkPartition refuses an unknown partition and resources beyond what
// one node of it has: Slurm would otherwise queue such a job forever.
func (s *Service) checkPartition(ctx context.Context, req *Request, bad func(field, key string, arg ...string)) error {
	parts, err := s.Partitions(ctx)
	if err != nil {
		return fmt.Errorf("jobs: list partitions: %w", err)
	}
	var p *slurm.Partition
	for i := range parts {
		if parts[i].Name == req.Partition || (req.Partition == "" && parts[i].Default) {
			p = &parts[i]
		}
	}
	if p == nil {
		bad("partition", "training.unknown_partition", req.Partition)
		return nil
	}
	req.Partition = p.Name
	if req.CPU > p.CPUs {
		bad("cpu", "training.cpu_max", strconv.Itoa(p.CPUs))
	}
	if req.MemoryGB*1024 > p.MemoryMB {
		bad("memory_gb", "training.memory_max", strconv.Itoa(p.MemoryMB/1024))
	}
	gpus := 0
	for _, g := range p.GPUs {
		gpus += g.Count
	}
	if req.GPU > gpus {
		bad("gpu", "training.gpu_max", strconv.Itoa(gpus))
	}
	return nil
}

// Actor is who submits: tenant and user.
type Actor struct {
	TenantID int64
	UserID   int64
}

// Submit validates, records and submits a training. Once the row exists,
// any failure leaves it in `error` with the cause, never `submitting`.
func (s *Service) Submit(ctx context.Context, who Actor, req Request) (*storage.Training, error) {
	if err := s.Validate(ctx, who.TenantID, &req); err != nil {
		return nil, err
	}
	req.TenantID, req.Kind, req.CreatedBy = who.TenantID, "training", who.UserID
	t, err := s.Store.CreateTraining(ctx, req)
	var quota *storage.QuotaError
	if errors.As(err, &quota) {
		return nil, &InvalidError{Errors: []FieldError{{Field: quota.Resource, Key: "training.quota_exceeded",
			Arg: fmt.Sprintf("%d + %d > %d", quota.InUse, quota.Asked, quota.Limit)}}}
	}
	if err != nil {
		return nil, err
	}
	// Once the row exists the submission runs to its end even if the
	// caller goes away, so the row never waits on a reconcile needlessly.
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), launchTimeout)
	defer cancel()
	if err := s.launch(lctx, who, t); err != nil {
		s.Log.Error("training submit failed", "training", t.ID, "error", err)
		s.failSubmit(lctx, t, err)
	}
	return s.Store.TrainingByID(lctx, who.TenantID, t.ID)
}

// launch lays out the job directory and submits the job.
func (s *Service) launch(ctx context.Context, who Actor, t *storage.Training) error {
	dir := JobDir(t.TenantID, t.ID)
	if err := s.Store.SetTrainingJobDir(ctx, t.ID, dir); err != nil {
		return err
	}
	for _, sub := range []string{slurm.OutputDir, slurm.AttachDir, slurm.InputDir} {
		if err := s.Files.MkdirAll(ctx, dir+"/"+sub); err != nil {
			return err
		}
	}
	stats, err := s.Data.StageDataset(ctx, t.TenantID, t.DatasetID, dir+"/"+slurm.InputDir)
	if err != nil {
		return fmt.Errorf("stage dataset: %w", err)
	}
	s.Log.Info("dataset staged", "training", t.ID, "links", stats.Links, "duration", stats.Duration)

	token := auth.NewSecret()
	if err := s.Store.CreateJobToken(ctx, token, who.UserID, t.TenantID, t.ID, time.Now().Add(s.Cfg.TokenTTL)); err != nil {
		return err
	}
	git, err := s.gitAccess(ctx, who.UserID, t.GitRepository)
	if err != nil {
		return fmt.Errorf("model repository: %w", err)
	}
	sec := slurm.Secrets{KQIToken: token, GitToken: git.Token, ModelRepositoryToken: git.Token}
	if s.Sources != nil {
		if sec.RegistryUsername, sec.RegistryPassword, err = s.Sources.ResolveRegistry(ctx, who.UserID, t.Image); err != nil {
			return fmt.Errorf("registry credentials: %w", err)
		}
	}
	secrets, err := sec.Marshal()
	if err != nil {
		return err
	}
	if _, err := s.Files.PutPrivate(ctx, dir+"/"+slurm.SecretsFile, strings.NewReader(string(secrets))); err != nil {
		return fmt.Errorf("write secrets: %w", err)
	}
	parentOut := ""
	if t.ParentID != nil {
		if p, err := s.Store.TrainingByID(ctx, t.TenantID, *t.ParentID); err == nil && p.JobDir != "" {
			parentOut = s.Files.LocalPath(p.JobDir + "/" + slurm.OutputDir)
		}
	}
	instance, err := s.Store.InstanceID(ctx)
	if err != nil {
		return err
	}
	tenant, err := s.Store.TenantByID(ctx, t.TenantID)
	if err != nil {
		return err
	}
	spec := s.spec(t, s.Files.LocalPath(dir), parentOut, Comment(instance, t.ID))
	spec.Account = tenant.SlurmAccount
	spec.Git.URL, spec.Git.Username = git.URL, git.Username
	setEnv(spec.System, "MODEL_REPOSITORY", git.URL)
	script, err := slurm.Render(spec, s.Cfg.Runtime)
	if err != nil {
		return fmt.Errorf("render script: %w", err)
	}
	if _, err := s.Files.Put(ctx, dir+"/"+slurm.ScriptFile, strings.NewReader(script)); err != nil {
		return fmt.Errorf("write script: %w", err)
	}
	jobID, err := s.Cluster.Submit(ctx, script, spec)
	if err != nil {
		return err
	}
	s.Log.Info("training submitted", "training", t.ID, "slurm_job", jobID)
	ctx = context.WithoutCancel(ctx)
	ok, err := s.Store.SetTrainingQueued(ctx, t.ID, jobID)
	if err == nil && !ok {
		// The poller already gave up on this row: no job may run for it.
		err = errors.New("the submission took too long and was abandoned")
	}
	if err != nil {
		if cerr := s.Cluster.Cancel(ctx, jobID); cerr != nil {
			s.Log.Error("cancelling a job whose row could not be updated", "slurm_job", jobID, "error", cerr)
		}
		return err
	}
	return nil
}

// spec builds the JobSpec of a training in jobDir (as the nodes see it).
func (s *Service) spec(t *storage.Training, jobDir, parentOutput, comment string) slurm.JobSpec {
	env := make([]slurm.EnvVar, len(t.Env))
	for i, e := range t.Env {
		env[i] = slurm.EnvVar{Name: e.Name, Value: e.Value}
	}
	parentID := ""
	if t.ParentID != nil {
		parentID = strconv.FormatInt(*t.ParentID, 10)
	}
	return slurm.JobSpec{
		Name:      "training-" + t.Name + "-" + strconv.FormatInt(t.ID, 10),
		Comment:   comment,
		Partition: t.Partition,
		CPUs:      t.CPU,
		MemoryGiB: t.MemoryGB,
		GPUs:      t.GPU,
		TimeLimit: time.Duration(t.TimeLimitMin) * time.Minute,
		Extra:     t.SbatchOptions,
		SiteEnv:   s.Cfg.SiteEnv,
		System: []slurm.EnvVar{
			{Name: "TRAINING_ID", Value: strconv.FormatInt(t.ID, 10)},
			{Name: "DATASET_ID", Value: strconv.FormatInt(t.DatasetID, 10)},
			{Name: "PARENT_ID", Value: parentID},
			{Name: "MODEL_REPOSITORY", Value: t.GitRepository},
			{Name: "COMMIT_ID", Value: t.GitCommit},
			{Name: "KQI_SERVER", Value: s.Cfg.ServerURL},
			{Name: "ENTRY_POINT", Value: t.Command},
		},
		Env:          env,
		Git:          slurm.GitSource{URL: t.GitRepository, Branch: t.GitBranch, Commit: t.GitCommit},
		Image:        t.Image,
		Command:      t.Command,
		JobDir:       jobDir,
		ParentOutput: parentOutput,
	}
}

// gitAccess resolves the repository a training names (a URL, or
// server/path of a registered Git server) and the user's token for it.
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

// launchTimeout bounds laying out and submitting one job.
const launchTimeout = 5 * time.Minute

// failSubmit settles a submission that returned an error. Slurm may have
// accepted the job all the same (a reply lost on the way back): a job
// carrying the row's comment is adopted rather than orphaned.
func (s *Service) failSubmit(ctx context.Context, t *storage.Training, cause error) {
	if instance, err := s.Store.InstanceID(ctx); err == nil {
		if found, err := s.Cluster.FindByComment(ctx, Comment(instance, t.ID)); err == nil && len(found) > 0 {
			s.Log.Info("adopting a job whose submission reported an error", "training", t.ID, "slurm_job", found[0].ID)
			if ok, err := s.Store.SetTrainingQueued(ctx, t.ID, found[0].ID); ok && err == nil {
				return
			}
		}
	}
	if err := s.Store.FailSubmitting(ctx, t.ID, "submission failed: "+cause.Error()); err != nil {
		s.Log.Error("recording a failed submission", "training", t.ID, "error", err)
	}
}
