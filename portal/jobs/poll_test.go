package jobs_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"kqi/portal/jobs"
	"kqi/slurm"
	"kqi/storage"
	"kqi/storage/files"
	"kqi/storage/storagetest"
)

// fakeCluster answers Jobs from a fixed map; the poller needs nothing else
// here.
type fakeCluster struct {
	slurm.Cluster
	jobs map[string]slurm.JobInfo
}

func (f fakeCluster) Jobs(ctx context.Context, ids []string) (map[string]slurm.JobInfo, error) {
	return f.jobs, nil
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
