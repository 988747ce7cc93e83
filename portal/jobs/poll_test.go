package jobs_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"kqi/portal/jobs"
	"kqi/slurm"
	"kqi/storage"
	"kqi/storage/files"
	"kqi/storage/storagetest"
)

// fakeCluster answers FindJobs from a fixed map; the poller needs nothing
// else here.
type fakeCluster struct {
	slurm.Cluster
	jobs map[string]slurm.JobInfo
}

func (f fakeCluster) FindJobs(ctx context.Context, ids, comments []string) (map[string]slurm.JobInfo, map[string][]slurm.JobInfo, error) {
	return f.jobs, nil, nil
}

// After a cluster reset, job numbers start over: a job with our number but
// another comment is not ours, and ours is reported as vanished.
func TestPollIgnoresAJobWithAnotherComment(t *testing.T) {
	ctx := context.Background()
	st, _ := storagetest.NewStore(t)
	fs, err := files.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tenant, _ := st.CreateTenant(ctx, "lab")
	ds, _ := st.CreateDataset(ctx, storage.NewDataset{TenantID: tenant.ID, Name: "d"})
	tr, err := st.CreateJob(ctx, storage.NewJob{Kind: "training", TenantID: tenant.ID, Name: "t", DatasetID: ds, Image: "host", Command: "true", CPU: 1, MemoryGB: 1, Partition: "cpu"})
	if err != nil {
		t.Fatal(err)
	}
	st.SetJobDir(ctx, tr.ID, "tenants/1/jobs/1")
	st.SetJobQueued(ctx, tr.ID, "77")
	instance, _ := st.InstanceID(ctx)
	svc := &jobs.Service{Store: st, Files: fs, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Cluster: fakeCluster{jobs: map[string]slurm.JobInfo{
		"77": {ID: "77", State: "RUNNING", Comment: "kqi:someone-else:training:1"},
	}}}
	if err := svc.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := st.JobByID(ctx, tenant.ID, tr.ID)
	if got.Status != string(slurm.StatusError) || got.Reason != slurm.CauseVanished {
		t.Fatalf("status %s (%s), want error: vanished", got.Status, got.Reason)
	}

	// With our comment the same answer is believed.
	tr2, _ := st.CreateJob(ctx, storage.NewJob{Kind: "training", TenantID: tenant.ID, Name: "t2", DatasetID: ds, Image: "host", Command: "true", CPU: 1, MemoryGB: 1, Partition: "cpu"})
	st.SetJobQueued(ctx, tr2.ID, "78")
	svc.Cluster = fakeCluster{jobs: map[string]slurm.JobInfo{"78": {ID: "78", State: "RUNNING", Comment: jobs.Comment(instance, "training", tr2.ID), Node: "n1"}}}
	svc.Poll(ctx)
	if got, _ := st.JobByID(ctx, tenant.ID, tr2.ID); got.Status != string(slurm.StatusRunning) || got.Node != "n1" {
		t.Fatalf("status %s node %q, want running on n1", got.Status, got.Node)
	}
}

// A job cancelled by someone other than its user (an administrator, Slurm)
// is an error, not "killed".
func TestPollCancelledOutsideIsError(t *testing.T) {
	ctx := context.Background()
	st, _ := storagetest.NewStore(t)
	fs, _ := files.NewLocal(t.TempDir())
	tenant, _ := st.CreateTenant(ctx, "lab")
	ds, _ := st.CreateDataset(ctx, storage.NewDataset{TenantID: tenant.ID, Name: "d"})
	tr, _ := st.CreateJob(ctx, storage.NewJob{Kind: "training", TenantID: tenant.ID, Name: "t", DatasetID: ds, Image: "host", Command: "true", CPU: 1, MemoryGB: 1, Partition: "cpu"})
	st.SetJobDir(ctx, tr.ID, "tenants/1/jobs/1")
	st.SetJobQueued(ctx, tr.ID, "90")
	instance, _ := st.InstanceID(ctx)
	svc := &jobs.Service{Store: st, Files: fs, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Cluster: fakeCluster{jobs: map[string]slurm.JobInfo{
		"90": {ID: "90", State: "CANCELLED", Comment: jobs.Comment(instance, "training", tr.ID)},
	}}}
	if err := svc.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := st.JobByID(ctx, tenant.ID, tr.ID)
	if got.Status != string(slurm.StatusError) || got.Reason != slurm.CauseCancelledOutside {
		t.Fatalf("status %s (%s)", got.Status, got.Reason)
	}
}

// job reads a job's row.
func (e *env) job(t *testing.T, id int64) *storage.Job {
	t.Helper()
	j, err := e.store.JobByID(context.Background(), e.tenant.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func (e *env) poll(t *testing.T) {
	t.Helper()
	if err := e.svc.Poll(context.Background()); err != nil {
		t.Fatalf("poll: %v", err)
	}
}

// The poller follows a training through what Slurm reports: waiting with
// Slurm's reason, running on a node, completed with the exit code the
// script wrote, each time recorded as Slurm gave it.
func TestPollFollowsATrainingOnTheFakeCluster(t *testing.T) {
	e, fake := newFakeEnv(t)
	ctx := context.Background()
	tr := e.submit(t, "follow", "true")
	if j, ok := fake.Job(tr.SlurmJobID); !ok || j.Info.Comment == "" || !strings.Contains(j.Script, "true") {
		t.Fatalf("the fake holds %+v (found %v), want the rendered script with the row's comment", j, ok)
	}

	fake.Set(tr.SlurmJobID, func(j *slurm.JobInfo) { j.Reason = "Resources" })
	e.poll(t)
	if got := e.job(t, tr.ID); got.Status != string(slurm.StatusQueued) || got.Reason != slurm.CauseSlurm || got.ReasonArg != "Resources" {
		t.Fatalf("pending: %s (%s %q), want queued (slurm \"Resources\")", got.Status, got.Reason, got.ReasonArg)
	}

	// Slurm's times, in whole seconds, after the portal queued the job
	// (earlier ones are raised to queued_at: TestTrainingTimesStayInOrder).
	start := time.Now().Add(2 * time.Second).Truncate(time.Second)
	fake.Set(tr.SlurmJobID, func(j *slurm.JobInfo) { j.State, j.Reason, j.Node, j.StartTime = "RUNNING", "None", "node7", start })
	e.poll(t)
	got := e.job(t, tr.ID)
	if got.Status != string(slurm.StatusRunning) || got.Reason != "" || got.Node != "node7" || got.StartedAt == nil || !got.StartedAt.Equal(start) {
		t.Fatalf("running: %s (%s) on %q since %v, want running on node7 since %v", got.Status, got.Reason, got.Node, got.StartedAt, start)
	}

	// The batch script writes the command's exit code before Slurm sees
	// the job end.
	if _, err := e.svc.Files.Put(ctx, got.JobDir+"/"+slurm.ExitCodeFile, strings.NewReader("0\n")); err != nil {
		t.Fatal(err)
	}
	end := start.Add(30 * time.Second)
	fake.Set(tr.SlurmJobID, func(j *slurm.JobInfo) { j.State, j.EndTime = "COMPLETED", end })
	e.poll(t)
	got = e.job(t, tr.ID)
	if got.Status != string(slurm.StatusCompleted) || got.ExitCode == nil || *got.ExitCode != 0 || got.EndedAt == nil || !got.EndedAt.Equal(end) {
		t.Fatalf("completed: %s (%s) exit %v ended %v, want completed, exit 0, ended %v", got.Status, got.Reason, got.ExitCode, got.EndedAt, end)
	}
}

// Rows a crash left in submitting: one whose job reached Slurm (it carries
// the row's comment) is adopted at once; one whose job never did stays
// submitting through the grace period, in case its submit is still under
// way, and becomes an error after it. The clock moves; nothing sleeps.
func TestReconcileOnTheFakeCluster(t *testing.T) {
	e, fake := newFakeEnv(t)
	ctx := context.Background()
	now := time.Now()
	e.svc.Now = func() time.Time { return now }
	row := func(name string) *storage.Job {
		t.Helper()
		j, err := e.store.CreateJob(ctx, storage.NewJob{Kind: "training", TenantID: e.tenant.ID, Name: name, DatasetID: e.dataset,
			Image: slurm.HostImage, Command: "true", CPU: 1, MemoryGB: 1, Partition: "cpu"})
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	orphan, lost := row("orphan"), row("lost")
	instance, _ := e.store.InstanceID(ctx)
	jobID, err := fake.Submit(ctx, "#!/bin/sh\n", slurm.JobSpec{Name: "training-orphan", Comment: jobs.Comment(instance, "training", orphan.ID),
		Partition: "cpu", CPUs: 1, MemoryGiB: 1, Image: slurm.HostImage, Command: "true", JobDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}

	e.poll(t)
	if got := e.job(t, orphan.ID); got.Status != string(slurm.StatusQueued) || got.SlurmJobID != jobID {
		t.Fatalf("orphan: %s job %q, want queued as job %s", got.Status, got.SlurmJobID, jobID)
	}
	if got := e.job(t, lost.ID); got.Status != string(slurm.StatusSubmitting) {
		t.Fatalf("lost, within the grace period: %s (%s), want still submitting", got.Status, got.Reason)
	}

	now = now.Add(e.svc.Cfg.SubmitGrace + time.Second)
	e.poll(t)
	if got := e.job(t, lost.ID); got.Status != string(slurm.StatusError) || got.Reason != slurm.CauseSubmitInterrupted {
		t.Fatalf("lost, past the grace period: %s (%s), want error (%s)", got.Status, got.Reason, slurm.CauseSubmitInterrupted)
	}
}
