package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"kqi/portal/jobs"
	"kqi/slurm"
	"kqi/storage"
)

// A tick writes only the rows whose state changed: a running job polled
// again and again is not rewritten (a tick over 5,000 active jobs used to
// be 5,000 updates).
func TestPollWritesOnlyChangedRows(t *testing.T) {
	svc, fake, who, ds, db := fakeEnv(t)
	ctx := context.Background()
	j, err := svc.Submit(ctx, who, jobs.Training, jobs.Request{Name: "steady", DatasetID: ds, Command: "sleep 1", CPU: 1, MemoryGB: 1})
	if err != nil {
		t.Fatal(err)
	}
	updated := func() time.Time {
		var at time.Time
		if err := db.QueryRowContext(ctx, `SELECT updated_at FROM jobs WHERE id = $1`, j.ID).Scan(&at); err != nil {
			t.Fatal(err)
		}
		return at
	}
	fake.Set(j.SlurmJobID, func(i *slurm.JobInfo) {
		i.State, i.Node, i.StartTime = "RUNNING", "node1", time.Now().Add(time.Second).Truncate(time.Second)
	})
	if err := svc.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	first := updated()
	for i := 0; i < 3; i++ {
		if err := svc.Poll(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if again := updated(); !again.Equal(first) {
		t.Errorf("an unchanged running job was rewritten (updated_at %v, then %v)", first, again)
	}
	fake.Set(j.SlurmJobID, func(i *slurm.JobInfo) { i.State = "SUSPENDED" })
	if err := svc.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := svc.Store.JobByID(ctx, who.TenantID, j.ID); got.Reason != slurm.CauseSuspended || updated().Equal(first) {
		t.Errorf("a change was not recorded: reason %q", got.Reason)
	}
}

// A running job that is still pulling its docker:// image (the script's
// marker file) says so; once the pull is over, it is plainly running.
func TestPollShowsAPullingImage(t *testing.T) {
	svc, fake, who, ds, _ := fakeEnv(t)
	svc.Cfg.Runtime = slurm.Apptainer{PullDir: t.TempDir()} // only Apptainer pulls
	ctx := context.Background()
	j, err := svc.Submit(ctx, who, jobs.Training, jobs.Request{Name: "pull", DatasetID: ds, Command: "true", CPU: 1, MemoryGB: 1,
		Image: "docker://registry.example.org/ml/torch:2"})
	if err != nil {
		t.Fatal(err)
	}
	if j.Status != string(slurm.StatusQueued) {
		t.Fatalf("submit: %s %s %q", j.Status, j.Reason, j.ReasonArg)
	}
	fake.Set(j.SlurmJobID, func(i *slurm.JobInfo) { i.State, i.Node = "RUNNING", "node1" })
	if _, err := svc.Files.Put(ctx, j.JobDir+"/"+slurm.PullingFile, strings.NewReader("")); err != nil {
		t.Fatal(err)
	}
	if err := svc.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := svc.Store.JobByID(ctx, who.TenantID, j.ID); got.Status != string(slurm.StatusRunning) || got.Reason != slurm.CausePullingImage {
		t.Fatalf("while pulling: %s %q, want running, pulling_image", got.Status, got.Reason)
	}
	if err := svc.Files.Remove(ctx, j.JobDir+"/"+slurm.PullingFile); err != nil {
		t.Fatal(err)
	}
	if err := svc.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := svc.Store.JobByID(ctx, who.TenantID, j.ID); got.Status != string(slurm.StatusRunning) || got.Reason != "" {
		t.Fatalf("after the pull: %s %q, want running with no reason", got.Status, got.Reason)
	}
}

// A tick asks Slurm once, about the active jobs and all the rows left in
// submitting however many there are (it used to fetch every job of the
// cluster again for each such row), and adopts each row's own job.
func TestPollReconcilesInOneQuery(t *testing.T) {
	svc, fake, who, ds, _ := fakeEnv(t)
	ctx := context.Background()
	running, err := svc.Submit(ctx, who, jobs.Training, jobs.Request{Name: "running", DatasetID: ds, Command: "true", CPU: 1, MemoryGB: 1})
	if err != nil {
		t.Fatal(err)
	}
	// Slurm takes each job but the answer is lost, and it cannot be asked
	// afterwards: the rows stay submitting for the reconcile.
	lost := errors.New("slurm: submit: connection reset by peer")
	fake.Accepted = func(string) error { return lost }
	fake.FindErr = lost
	var stuck []int64
	for i := range 5 {
		j, err := svc.Submit(ctx, who, jobs.Training, jobs.Request{Name: fmt.Sprintf("lost-%d", i), DatasetID: ds, Command: "true", CPU: 1, MemoryGB: 1})
		if err != nil || j.Status != string(slurm.StatusSubmitting) {
			t.Fatalf("submit %d: %+v, %v; want a row left submitting", i, j, err)
		}
		stuck = append(stuck, j.ID)
	}
	fake.Accepted, fake.FindErr, fake.Queries = nil, nil, 0
	if err := svc.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if fake.Queries != 1 {
		t.Errorf("a tick over 1 queued and 5 submitting rows asked Slurm %d times, want once", fake.Queries)
	}
	seen := map[string]bool{running.SlurmJobID: true}
	for _, id := range stuck {
		j, err := svc.Store.JobByID(ctx, who.TenantID, id)
		if err != nil {
			t.Fatal(err)
		}
		if j.Status != string(slurm.StatusQueued) || j.SlurmJobID == "" || seen[j.SlurmJobID] {
			t.Errorf("job %d: %s with Slurm job %q, want queued with a job of its own", id, j.Status, j.SlurmJobID)
		}
		seen[j.SlurmJobID] = true
	}
}

// raceCluster runs between, once, when the poller's Slurm query is made:
// what changes in the database while Slurm answers.
type raceCluster struct {
	slurm.Cluster
	between func()
}

func (c *raceCluster) FindJobs(ctx context.Context, ids, comments []string) (map[string]slurm.JobInfo, map[string][]slurm.JobInfo, error) {
	if c.between != nil {
		c.between()
		c.between = nil
	}
	return c.Cluster.FindJobs(ctx, ids, comments)
}

// The tick reads its rows after the Slurm query: a row that got its Slurm
// job meanwhile was not asked about, so it waits for the next tick instead
// of being taken for a job Slurm lost. The others are polled as usual.
func TestPollLeavesRowsChangedDuringTheQuery(t *testing.T) {
	svc, fake, who, ds, _ := fakeEnv(t)
	ctx := context.Background()
	steady, err := svc.Submit(ctx, who, jobs.Training, jobs.Request{Name: "steady", DatasetID: ds, Command: "true", CPU: 1, MemoryGB: 1})
	if err != nil {
		t.Fatal(err)
	}
	late, err := svc.Store.CreateJob(ctx, storage.NewJob{Kind: "training", TenantID: who.TenantID, Name: "late", DatasetID: ds,
		Image: slurm.HostImage, Command: "true", CPU: 1, MemoryGB: 1, Partition: "cpu", CreatedBy: who.UserID,
		JobDirPrefix: fmt.Sprintf("tenants/%d/jobs/", who.TenantID)})
	if err != nil {
		t.Fatal(err)
	}
	fake.Set(steady.SlurmJobID, func(i *slurm.JobInfo) { i.State, i.Node = "RUNNING", "node1" })
	svc.Cluster = &raceCluster{Cluster: fake, between: func() {
		// Its submit records a Slurm job the query was not asked about.
		if _, err := svc.Store.SetJobQueued(ctx, late.ID, "987654"); err != nil {
			t.Error(err)
		}
	}}
	if err := svc.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := svc.Store.JobByID(ctx, who.TenantID, late.ID); got.Status != string(slurm.StatusQueued) || got.Reason != "" {
		t.Errorf("the row queued during the query is %s (%s): polled against a query that did not ask for it", got.Status, got.Reason)
	}
	if got, _ := svc.Store.JobByID(ctx, who.TenantID, steady.ID); got.Status != string(slurm.StatusRunning) {
		t.Errorf("the other job is %s, want running", got.Status)
	}
}
