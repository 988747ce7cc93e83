package jobs

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"kqi/portal/auth"
	"kqi/portal/refusal"
	"kqi/slurm"
	"kqi/storage"
)

// A job array is N jobs of one kind that differ only in their inputs (a
// preprocess run on N data): one row per task, submitted as one Slurm job
// array so a user sees one job in squeue. Each task has its own job
// directory, script, token, log and exit code, and the poller follows it
// by its task id ("123_4") like any job.

// ArrayDir is where the task directories of the array whose first row is
// id live: task i in ArrayDir/i.
func ArrayDir(tenantID, id int64) string {
	return "tenants/" + strconv.FormatInt(tenantID, 10) + "/arrays/" + strconv.FormatInt(id, 10)
}

// commentOf is the --comment of the Slurm job behind row j: a task
// carries its array's.
func commentOf(instance string, j *storage.Job) string {
	id := j.ID
	if j.ArrayID != 0 {
		id = j.ArrayID
	}
	return Comment(instance, j.Kind, id)
}

// slurmIDOf is row j's Slurm id given a job found by its comment: for a
// task, its own task of that array.
func slurmIDOf(j *storage.Job, found slurm.JobInfo) string {
	if j.ArrayID == 0 {
		return found.ID
	}
	return slurm.TaskID(slurm.ArrayJobOf(found.ID), j.ArrayIndex)
}

// CreateTasks records the rows of an array from the validated request
// they share, one per task in task order, all submitting.
type CreateTasks func(ctx context.Context, req Request) ([]*storage.Job, error)

// SubmitArray validates req (what every task shares), records the tasks
// with create and submits them as one job array running at most so many
// tasks at once (Cfg.ArrayLimit, 0 = no limit). As with Submit, once the rows exist a
// failure before Slurm has the array leaves each in error with the cause.
func (s *Service) SubmitArray(ctx context.Context, who Actor, kind Kind, req Request, create CreateTasks) ([]*storage.Job, error) {
	if err := s.Validate(ctx, who.TenantID, kind, &req); err != nil {
		return nil, err
	}
	req.TenantID, req.Kind, req.CreatedBy = who.TenantID, kind.Name(), who.UserID
	rows, err := create(ctx, req)
	var quota *storage.QuotaError
	switch {
	case errors.As(err, &quota):
		return nil, refusal.Invalidf(quota.Resource, "training.quota_exceeded", fmt.Sprintf("%d + %d > %d", quota.InUse, quota.Asked, quota.Limit))
	case err != nil:
		return nil, err
	case len(rows) == 0 || len(rows) > slurm.MaxArraySize:
		return nil, fmt.Errorf("jobs: an array of %d tasks", len(rows))
	}
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.Cfg.SubmitGrace/2)
	defer cancel()
	if err := s.launchArray(lctx, who, kind, rows, s.Cfg.ArrayLimit); err != nil {
		s.Log.Error("job array submit failed", "job", rows[0].ID, "kind", kind.Name(), "tasks", len(rows), "error", err)
		for _, j := range rows {
			s.failSubmit(lctx, j, err)
		}
	}
	out := make([]*storage.Job, len(rows))
	for i, j := range rows {
		if out[i], err = s.Store.JobByID(lctx, who.TenantID, j.ID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// launchArray lays out each task's directory and script, then submits the
// array's script, which dispatches to them.
func (s *Service) launchArray(ctx context.Context, who Actor, kind Kind, rows []*storage.Job, limit int) error {
	first := rows[0]
	arrayDir := ArrayDir(first.TenantID, first.ID)
	instance, err := s.Store.InstanceID(ctx)
	if err != nil {
		return err
	}
	tenant, err := s.Store.TenantByID(ctx, first.TenantID)
	if err != nil {
		return err
	}
	git, regUser, regPassword, err := s.credentials(ctx, who.UserID, first.GitRepository, first.Image)
	if err != nil {
		return err
	}
	rt, err := s.runtime(ctx)
	if err != nil {
		return err
	}
	comment := commentOf(instance, first)
	var array slurm.JobSpec
	for i, j := range rows {
		dir := slurm.TaskDir(arrayDir, i)
		if err := s.Store.SetJobDir(ctx, j.ID, dir); err != nil {
			return err
		}
		j.JobDir = dir
		for _, sub := range []string{slurm.OutputDir, slurm.AttachDir, slurm.InputDir} {
			if err := s.Files.MkdirAll(ctx, dir+"/"+sub); err != nil {
				return err
			}
		}
		staged, err := s.stageInputs(ctx, kind, j, "", nil)
		if err != nil {
			return fmt.Errorf("stage inputs of task %d: %w", i, err)
		}
		token := auth.NewSecret()
		if err := s.Store.CreateJobToken(ctx, token, who.UserID, j.TenantID, j.ID, s.now().Add(s.Cfg.TokenTTL)); err != nil {
			return err
		}
		secrets, err := slurm.Secrets{KQIToken: token, GitToken: git.Token, ModelRepositoryToken: git.Token,
			RegistryUsername: regUser, RegistryPassword: regPassword}.Marshal()
		if err != nil {
			return err
		}
		if err := s.Files.CreatePrivate(ctx, dir+"/"+slurm.SecretsFile, secrets); err != nil {
			return fmt.Errorf("write secrets: %w", err)
		}
		spec := s.spec(kind, j, s.Files.LocalPath(dir), staged, comment)
		spec.Name = kind.Name() + "-" + first.Name + "-" + strconv.FormatInt(first.ID, 10)
		spec.Account = s.identity(tenant).Account
		spec.Git.URL, spec.Git.Username = git.URL, git.Username
		setEnv(spec.System, "MODEL_REPOSITORY", git.URL)
		script, err := slurm.Render(spec, rt)
		if err != nil {
			return fmt.Errorf("render script of task %d: %w", i, err)
		}
		if _, err := s.Files.Put(ctx, dir+"/"+slurm.ScriptFile, strings.NewReader(script)); err != nil {
			return fmt.Errorf("write script: %w", err)
		}
		if i == 0 {
			array = spec
		}
	}
	array.JobDir, array.ArraySize, array.ArrayLimit = s.Files.LocalPath(arrayDir), len(rows), limit
	array.Inputs = nil
	script, err := slurm.RenderArray(array)
	if err != nil {
		return fmt.Errorf("render array script: %w", err)
	}
	if _, err := s.Files.Put(ctx, arrayDir+"/"+slurm.ScriptFile, strings.NewReader(script)); err != nil {
		return fmt.Errorf("write array script: %w", err)
	}
	jobID, err := s.Cluster.Submit(ctx, script, array)
	if err != nil {
		return err
	}
	s.Log.Info("job array submitted", "job", first.ID, "kind", kind.Name(), "slurm_job", jobID, "tasks", len(rows))
	ctx = context.WithoutCancel(ctx)
	var lost []string
	for i, j := range rows {
		task := slurm.TaskID(jobID, i)
		ok, err := s.Store.SetJobQueued(ctx, j.ID, task)
		if err != nil {
			// The row stays submitting; the reconcile adopts it by comment.
			s.Log.Warn("recording an array task", "job", j.ID, "slurm_job", task, "error", err)
			continue
		}
		if ok {
			continue
		}
		if now, err := s.Store.JobByID(ctx, j.TenantID, j.ID); err == nil && now.SlurmJobID == task {
			continue // adopted by the reconcile meanwhile
		}
		// The poller gave up on this row: no row will own the task.
		if cerr := s.Cluster.Cancel(ctx, task); cerr != nil {
			s.Log.Error("cancelling a task no row owns", "slurm_job", task, "error", cerr)
		}
		lost = append(lost, task)
	}
	if len(lost) > 0 {
		s.Log.Warn("array tasks abandoned: their submission took too long", "tasks", lost)
	}
	return nil
}
