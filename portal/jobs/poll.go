package jobs

import (
	"context"
	"errors"
	"io"
	"strings"
	"time"

	"kqi/slurm"
	"kqi/storage"
	"kqi/storage/files"
)

// pollerLockKey is the advisory lock the poller's leader holds.
const pollerLockKey = 0x6b7169_706f6c6c // "kqi" "poll"

// Run polls every interval until ctx ends, while this process leads.
func (s *Service) Run(ctx context.Context, interval time.Duration) {
	leader := s.Store.Leader(pollerLockKey)
	defer leader.Release()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if lead, err := leader.TryLead(ctx); err != nil {
			s.Log.Warn("poller election", "error", err)
		} else if lead {
			if err := s.Poll(ctx); err != nil && ctx.Err() == nil {
				s.Log.Warn("poll", "error", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Poll brings every active training up to date with one Slurm query for
// all their jobs, cancels those a user asked to stop, and settles rows a
// crash left in submitting.
func (s *Service) Poll(ctx context.Context) error {
	active, err := s.Store.ActiveTrainings(ctx)
	if err != nil {
		return err
	}
	var ids []string
	for _, t := range active {
		if t.SlurmJobID != "" {
			ids = append(ids, t.SlurmJobID)
		}
	}
	infos := map[string]slurm.JobInfo{}
	if len(ids) > 0 {
		if infos, err = s.Cluster.Jobs(ctx, ids); err != nil {
			return err
		}
	}
	instance, err := s.Store.InstanceID(ctx)
	if err != nil {
		return err
	}
	for i := range active {
		t := &active[i]
		if t.SlurmJobID == "" {
			s.reconcile(ctx, t, instance)
			continue
		}
		info, found := infos[t.SlurmJobID]
		if found && info.Comment != Comment(instance, t.ID) {
			// Same number, another job: the controller's job ids started
			// over (a cluster reset). Ours is gone.
			found = false
		}
		if t.StopRequested && found && !info.Ended() {
			if err := s.Cluster.Cancel(ctx, t.SlurmJobID); err != nil && !errors.Is(err, slurm.ErrJobNotFound) {
				s.Log.Warn("cancel", "training", t.ID, "error", err)
			}
		}
		if err := s.update(ctx, t, info, found); err != nil {
			s.Log.Warn("update training", "training", t.ID, "error", err)
		}
	}
	return nil
}

// update records what Slurm and the job directory say about one job.
func (s *Service) update(ctx context.Context, t *storage.Training, info slurm.JobInfo, found bool) error {
	var rec slurm.Record
	if !found || info.Ended() {
		var err error
		if rec, err = s.readRecord(ctx, t.JobDir); err != nil {
			return err
		}
	}
	out, err := slurm.Decide(slurm.Observe(info, found, rec))
	if err != nil {
		return err
	}
	st := storage.JobState{Status: string(out.Status), Reason: out.Reason, Node: info.Node}
	if out.Status == slurm.StatusCompleted || out.Status == slurm.StatusFailed {
		st.ExitCode = &out.ExitCode
	}
	if !info.StartTime.IsZero() {
		st.StartedAt = &info.StartTime
	}
	if out.Status.Final() {
		end := info.EndTime
		if end.IsZero() {
			end = time.Now()
		}
		st.EndedAt = &end
	}
	if out.Status == slurm.StatusKilled {
		if t.StopRequested {
			st.Reason = "stopped by a user"
		} else {
			// killed means stopped by its user; anything else that cancelled
			// the job (an administrator, Slurm itself) is an error.
			st.Status = storage.StatusError
			st.Reason = strings.TrimSpace("cancelled outside KQI " + out.Reason)
		}
	}
	if err := s.Store.UpdateTrainingState(ctx, t.ID, st); err != nil {
		return err
	}
	if out.Status.Final() {
		s.retireSecrets(ctx, t)
	}
	return nil
}

// retireSecrets removes what an ended job no longer needs: its secrets file
// (Git token, registry password) and its API token.
func (s *Service) retireSecrets(ctx context.Context, t *storage.Training) {
	if t.JobDir != "" {
		if err := s.Files.Remove(ctx, t.JobDir+"/"+slurm.SecretsFile); err != nil {
			s.Log.Warn("removing an ended job's secrets", "training", t.ID, "error", err)
		}
	}
	if err := s.Store.DeleteJobTokens(ctx, t.ID); err != nil {
		s.Log.Warn("revoking an ended job's token", "training", t.ID, "error", err)
	}
}

// readRecord reads the exit code and error files the script leaves,
// through the file store (the portal may not mount the filesystem).
func (s *Service) readRecord(ctx context.Context, dir string) (slurm.Record, error) {
	var r slurm.Record
	for name, dst := range map[string]*[]byte{slurm.ExitCodeFile: &r.ExitCode, slurm.ErrorFile: &r.Error} {
		f, err := s.Files.OpenNoFollow(ctx, dir+"/"+name)
		if errors.Is(err, files.ErrNotExist) {
			continue
		}
		if err != nil {
			return r, err
		}
		b, err := io.ReadAll(io.LimitReader(f, 4096))
		f.Close()
		if err != nil {
			return r, err
		}
		*dst = b
	}
	return r, nil
}

// reconcile settles a row left in submitting: a job carrying its comment is
// adopted; with none after the grace period the row becomes an error.
func (s *Service) reconcile(ctx context.Context, t *storage.Training, instance string) {
	jobs, err := s.Cluster.FindByComment(ctx, Comment(instance, t.ID))
	if err != nil {
		s.Log.Warn("reconcile", "training", t.ID, "error", err)
		return
	}
	if len(jobs) > 0 {
		s.Log.Info("adopting a job submitted before a crash", "training", t.ID, "slurm_job", jobs[0].ID)
		if _, err := s.Store.SetTrainingQueued(ctx, t.ID, jobs[0].ID); err != nil {
			s.Log.Warn("reconcile", "training", t.ID, "error", err)
		}
		return
	}
	if time.Since(t.CreatedAt) > s.Cfg.SubmitGrace {
		// Only while still submitting with no job: a submit finishing right
		// now wins, and its job is never left without a row.
		if err := s.Store.FailSubmitting(ctx, t.ID, "submission was interrupted before Slurm accepted the job"); err != nil {
			s.Log.Warn("reconcile", "training", t.ID, "error", err)
		}
	}
}
