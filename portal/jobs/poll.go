package jobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

	"kqi/portal/metrics"
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

// Poll brings every active job up to date and settles rows a crash left in
// submitting, with one Slurm query for all of them, and cancels those a
// user asked to stop (and TensorBoards left idle or without their
// trainings).
func (s *Service) Poll(ctx context.Context) error {
	defer metrics.ObservePoll(time.Now())
	s.reapTensorBoards(ctx)
	// The query needs only ids and comments; the rows themselves are read
	// after it, one at a time, so memory stays flat in the number of jobs.
	refs, err := s.Store.ActiveRefs(ctx)
	if err != nil {
		return err
	}
	instance, err := s.Store.InstanceID(ctx)
	if err != nil {
		return err
	}
	var ids, comments []string
	for _, r := range refs {
		if r.SlurmJobID != "" {
			ids = append(ids, r.SlurmJobID)
		} else {
			comments = append(comments, commentOf(instance, &storage.Job{ID: r.ID, Kind: r.Kind, ArrayID: r.ArrayID}))
		}
	}
	infos, byComment := map[string]slurm.JobInfo{}, map[string][]slurm.JobInfo{}
	if len(ids) > 0 || len(comments) > 0 {
		if infos, byComment, err = s.Cluster.FindJobs(ctx, ids, comments); err != nil {
			return err
		}
	}
	// Rows come by id, as refs did. One that is new or has changed its
	// Slurm job since waits for the next tick: the query did not ask
	// about it, and "not found" would be a wrong answer.
	next := 0
	return s.Store.EachActiveJob(ctx, func(j *storage.Job) error {
		for next < len(refs) && refs[next].ID < j.ID {
			next++
		}
		if next == len(refs) || refs[next].ID != j.ID || refs[next].SlurmJobID != j.SlurmJobID {
			return nil
		}
		if j.SlurmJobID == "" {
			s.settle(ctx, j, byComment[commentOf(instance, j)])
			return nil
		}
		info, found := infos[j.SlurmJobID]
		if found && info.Comment != commentOf(instance, j) {
			// Same number, another job: the controller's job ids started
			// over (a cluster reset). Ours is gone.
			found = false
		}
		if j.StopRequested && found && !info.Ended() {
			if err := s.Cluster.Cancel(ctx, j.SlurmJobID); err != nil && !errors.Is(err, slurm.ErrJobNotFound) {
				s.Log.Warn("cancel", "job", j.ID, "error", err)
			}
		}
		if err := s.update(ctx, j, info, found); err != nil {
			s.Log.Warn("update job", "job", j.ID, "error", err)
		}
		return nil
	})
}

// update records what Slurm and the job directory say about one job.
func (s *Service) update(ctx context.Context, j *storage.Job, info slurm.JobInfo, found bool) error {
	var rec slurm.Record
	if !found || info.Ended() {
		var err error
		if rec, err = s.readRecord(ctx, j.JobDir); err != nil {
			return err
		}
	}
	obs := slurm.Observe(info, found, rec)
	obs.StopRequested, obs.MemoryGiB = j.StopRequested, j.MemoryGB
	out, err := slurm.Decide(obs)
	if err != nil {
		return err
	}
	if out.Status.Final() {
		kind, ok := KindOf(j.Kind)
		if !ok {
			return fmt.Errorf("unknown job kind %q", j.Kind)
		}
		// The poller's list holds only what it reads: the kind gets the
		// whole row.
		full, err := s.Store.JobByID(ctx, j.TenantID, j.ID)
		if err != nil {
			return err
		}
		if err := kind.Ended(ctx, s, full, &out); err != nil {
			return fmt.Errorf("%s ended: %w", j.Kind, err)
		}
	}
	if out.Status == slurm.StatusRunning && out.Cause.Code == "" && s.pulling(ctx, j) {
		out.Cause = slurm.Cause{Code: slurm.CausePullingImage}
	}
	st := storage.JobState{Status: string(out.Status), Reason: out.Cause.Code, ReasonArg: out.Cause.Arg, Node: info.Node}
	if out.Status == slurm.StatusCompleted || out.Status == slurm.StatusFailed {
		st.ExitCode = &out.ExitCode
	}
	if !info.StartTime.IsZero() {
		st.StartedAt = &info.StartTime
	}
	if out.Status.Final() {
		end := info.EndTime
		if end.IsZero() {
			end = s.now()
		}
		st.EndedAt = &end
	}
	if !out.Status.Final() && unchanged(j, st) {
		// Most active jobs change nothing between two ticks: no write.
		return nil
	}
	if err := s.Store.UpdateJobState(ctx, j.ID, st); err != nil {
		return err
	}
	if out.Status.Final() {
		s.retireSecrets(ctx, j)
	}
	return nil
}

// pulling reports whether a running job is still pulling its image. Only
// docker:// images are pulled, so only their jobs cost a file lookup.
func (s *Service) pulling(ctx context.Context, j *storage.Job) bool {
	if !strings.HasPrefix(j.Image, "docker://") || j.JobDir == "" {
		return false
	}
	_, err := s.Files.Stat(ctx, j.JobDir+"/"+slurm.PullingFile)
	return err == nil
}

// unchanged reports whether recording st would leave j's row as it is.
// A start time, once recorded, stays until the status changes (a requeue).
func unchanged(j *storage.Job, st storage.JobState) bool {
	return j.Status == st.Status && j.Reason == st.Reason && j.ReasonArg == st.ReasonArg &&
		(st.Node == "" || st.Node == j.Node) && (st.StartedAt == nil || j.StartedAt != nil)
}

// retireSecrets removes what an ended job no longer needs: its secrets file
// (Git token, registry password) and its API token.
func (s *Service) retireSecrets(ctx context.Context, j *storage.Job) {
	if j.JobDir != "" {
		if err := s.Files.Remove(ctx, j.JobDir+"/"+slurm.SecretsFile); err != nil && !errors.Is(err, files.ErrNotExist) {
			s.Log.Warn("removing an ended job's secrets", "job", j.ID, "error", err)
		}
	}
	if err := s.Store.DeleteJobTokens(ctx, j.ID); err != nil {
		s.Log.Warn("revoking an ended job's token", "job", j.ID, "error", err)
	}
}

// readRecord reads the record the script leaves, through the file store
// (the portal may not mount the filesystem).
func (s *Service) readRecord(ctx context.Context, dir string) (slurm.Record, error) {
	return slurm.ReadRecordFrom(func(name string) (io.ReadSeekCloser, error) {
		f, err := s.Files.OpenNoFollow(ctx, dir+"/"+name)
		if errors.Is(err, files.ErrNotExist) {
			return nil, fs.ErrNotExist
		}
		return f, err
	})
}

// settle adopts the job Slurm has for a row a crash left in submitting, or
// fails the row once the grace period is over.
func (s *Service) settle(ctx context.Context, j *storage.Job, found []slurm.JobInfo) {
	if len(found) > 0 {
		s.Log.Info("adopting a job submitted before a crash", "job", j.ID, "slurm_job", slurmIDOf(j, found[0]))
		if _, err := s.Store.SetJobQueued(ctx, j.ID, slurmIDOf(j, found[0])); err != nil {
			s.Log.Warn("reconcile", "job", j.ID, "error", err)
		}
		return
	}
	if s.now().Sub(j.CreatedAt) > s.Cfg.SubmitGrace {
		// Only while still submitting with no job: a submit finishing right
		// now wins, and its job is never left without a row.
		if err := s.Store.FailSubmitting(ctx, j.ID, slurm.CauseSubmitInterrupted, ""); err != nil {
			s.Log.Warn("reconcile", "job", j.ID, "error", err)
			return
		}
		s.discardIfEnded(ctx, j)
	}
}
