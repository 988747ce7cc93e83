package preprocess_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"kqi/portal/preprocess"
	"kqi/slurm"
	"kqi/storage"
)

func (e *env) runnable(t *testing.T) *storage.Preprocess {
	t.Helper()
	return e.define(t, preprocess.Fields{Name: "p", Image: slurm.HostImage, GitRepository: e.repo, Command: "true", CPU: 1, MemoryGB: 1})
}

// A run is one array on the fake cluster too: its tasks are followed by
// their task ids, and each ends on its own.
func TestRunIsOneArray(t *testing.T) {
	e, fake := newFakeEnv(t)
	p := e.runnable(t)
	a, b := e.datum(t, "a", map[string]string{"x": "1"}), e.datum(t, "b", map[string]string{"x": "2"})
	hs := e.run(t, p.ID, a, b)
	array := slurm.ArrayJobOf(hs[0].Job.SlurmJobID)
	job, ok := fake.Job(array + "_0")
	if !ok || job.Spec.ArraySize != 2 || !strings.Contains(job.Script, "#SBATCH --array=0-1\n") {
		t.Fatalf("submitted %+v", job)
	}
	for i, h := range hs {
		if h.Job.SlurmJobID != slurm.TaskID(array, i) || h.Job.JobDir != "tenants/1/arrays/"+itoa(hs[0].Job.ID)+"/"+itoa(int64(i)) {
			t.Fatalf("task %d: %s in %s", i, h.Job.SlurmJobID, h.Job.JobDir)
		}
		if _, err := e.fs.Stat(context.Background(), h.Job.JobDir+"/input/"+itoa(h.DataID)+"/x"); err != nil {
			t.Errorf("task %d: input not staged: %v", i, err)
		}
	}
	fake.Set(slurm.TaskID(array, 1), func(j *slurm.JobInfo) { j.State = "RUNNING" })
	if err := e.jobs.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	h0, _ := e.svc.History(context.Background(), e.tenant, p.ID, a)
	h1, _ := e.svc.History(context.Background(), e.tenant, p.ID, b)
	if h0.Status() != "queued" || h1.Status() != "running" {
		t.Fatalf("statuses %s %s", h0.Status(), h1.Status())
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// The quota counts the tasks an array may run at once.
func TestQuotaCountsWhatAnArrayRunsAtOnce(t *testing.T) {
	e, _ := newFakeEnv(t)
	ctx := context.Background()
	two := 2
	if err := e.store.SetTenantQuota(ctx, e.tenant, &two, nil, nil); err != nil {
		t.Fatal(err)
	}
	p := e.runnable(t)
	var ds []int64
	for _, n := range []string{"a", "b", "c", "d"} {
		ds = append(ds, e.datum(t, n, map[string]string{"x": n}))
	}
	_, err := e.svc.Run(ctx, e.who, p.ID, preprocess.Run{DataIDs: ds[:3], CPU: 1, MemoryGB: 1})
	refusedWith(t, err, "training.quota_exceeded")
	e.jobs.Cfg.ArrayLimit = 2
	e.run(t, p.ID, ds[:3]...)
	_, err = e.svc.Run(ctx, e.who, p.ID, preprocess.Run{DataIDs: ds[3:], CPU: 1, MemoryGB: 1})
	refusedWith(t, err, "training.quota_exceeded")
}

// Refused runs record nothing: a preprocess that cannot run in the
// cluster, no data, data named twice, another tenant's data.
func TestRunRefusals(t *testing.T) {
	e, _ := newFakeEnv(t)
	ctx := context.Background()
	p := e.runnable(t)
	mine := e.datum(t, "mine", map[string]string{"x": "1"})
	other, _ := e.store.CreateTenant(ctx, "other")
	theirs := e.otherDatum(t, other.ID)
	external := e.define(t, preprocess.Fields{Name: "only a name"})
	for _, tc := range []struct {
		name string
		id   int64
		data []int64
		key  string
	}{
		{"name only", external.ID, []int64{mine}, "preprocess.command_required"},
		{"no data", p.ID, nil, "preprocess.data_required"},
		{"twice", p.ID, []int64{mine, mine}, "preprocess.duplicate_data"},
		{"another tenant's datum", p.ID, []int64{mine, theirs}, "preprocess.unknown_data"},
		{"no such datum", p.ID, []int64{999999}, "preprocess.unknown_data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.svc.Run(ctx, e.who, tc.id, preprocess.Run{DataIDs: tc.data, CPU: 1, MemoryGB: 1})
			refusedWith(t, err, tc.key)
		})
	}
	hs, n, err := e.store.ListHistories(ctx, e.tenant, storage.HistoryFilter{})
	if err != nil || n != 0 || len(hs) != 0 {
		t.Fatalf("refused runs left %d entries: %v", n, err)
	}
	var jobs int
	e.db.QueryRow(`SELECT count(*) FROM jobs`).Scan(&jobs)
	if jobs != 0 {
		t.Fatalf("refused runs left %d jobs", jobs)
	}
	// Another tenant's preprocess is not found.
	_, err = e.svc.Run(ctx, preprocess.Actor{TenantID: other.ID, UserID: e.who.UserID}, p.ID, preprocess.Run{DataIDs: []int64{theirs}, CPU: 1, MemoryGB: 1})
	refusedWith(t, err, "error.not_found")
}

func (e *env) otherDatum(t *testing.T, tenantID int64) int64 {
	t.Helper()
	ctx := context.Background()
	id, _ := e.store.NextDataID(ctx)
	if err := e.store.CreateData(ctx, storage.NewData{ID: id, TenantID: tenantID, Name: "theirs"}); err != nil {
		t.Fatal(err)
	}
	return id
}

// A crash between Slurm accepting the array and the rows recording it:
// the reconcile adopts each row as its own task of the array.
func TestReconcileAdoptsArrayTasks(t *testing.T) {
	e, fake := newFakeEnv(t)
	ctx := context.Background()
	fake.Accepted = func(string) error { return errors.New("connection reset") }
	p := e.runnable(t)
	a, b := e.datum(t, "a", map[string]string{"x": "1"}), e.datum(t, "b", map[string]string{"x": "2"})
	hs := e.run(t, p.ID, a, b)
	for i, h := range hs {
		if h.Job.Status != "queued" || slurm.ArrayJobOf(h.Job.SlurmJobID)+"_"+itoa(int64(i)) != h.Job.SlurmJobID {
			t.Fatalf("task %d after a lost answer: %s %q", i, h.Job.Status, h.Job.SlurmJobID)
		}
	}
	// The same, found by the poller's reconcile.
	if _, err := e.db.Exec(`UPDATE jobs SET status = 'submitting', slurm_job_id = '' `); err != nil {
		t.Fatal(err)
	}
	if err := e.jobs.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	for i, d := range []int64{a, b} {
		h, _ := e.svc.History(ctx, e.tenant, p.ID, d)
		if h.Job.Status != "queued" || h.Job.SlurmJobID != hs[i].Job.SlurmJobID {
			t.Fatalf("task %d reconciled as %s %q, want %q", i, h.Job.Status, h.Job.SlurmJobID, hs[i].Job.SlurmJobID)
		}
	}
}

// An array Slurm refuses leaves every task in error with the cause, and
// none of them with a secrets file or a live token.
func TestRefusedArrayLeavesNothingLive(t *testing.T) {
	e, fake := newFakeEnv(t)
	ctx := context.Background()
	fake.OnSubmit = func(string, slurm.JobSpec) error { return errors.New("slurm: submit: Invalid job array specification") }
	p := e.runnable(t)
	a, b := e.datum(t, "a", map[string]string{"x": "1"}), e.datum(t, "b", map[string]string{"x": "2"})
	hs := e.run(t, p.ID, a, b)
	for i, h := range hs {
		if h.Job.Status != "error" || h.Job.Reason != slurm.CauseSubmitFailed || !strings.Contains(h.Job.ReasonArg, "Invalid job array") {
			t.Fatalf("task %d: %s (%s %q)", i, h.Job.Status, h.Job.Reason, h.Job.ReasonArg)
		}
		if _, err := e.fs.Stat(ctx, h.Job.JobDir+"/"+slurm.SecretsFile); err == nil {
			t.Errorf("task %d kept its secrets file", i)
		}
	}
	var tokens int
	e.db.QueryRow(`SELECT count(*) FROM api_tokens`).Scan(&tokens)
	if tokens != 0 {
		t.Errorf("%d job tokens live after a refused array", tokens)
	}
	// The entries exist (the datum ran, and failed to start): deleting one
	// lets it run again.
	if err := e.svc.DeleteHistory(ctx, e.tenant, p.ID, a); err != nil {
		t.Fatal(err)
	}
	fake.OnSubmit = nil
	if h := e.run(t, p.ID, a)[0]; h.Job.Status != "queued" {
		t.Fatalf("after deleting the entry: %s", h.Job.Status)
	}
}

// A source datum deleted while its run waits: the entry goes with it, and
// once the run ends its job and directory go too, registering nothing.
func TestSourceDeletedWhileRunning(t *testing.T) {
	e, fake := newFakeEnv(t)
	ctx := context.Background()
	p := e.runnable(t)
	d := e.datum(t, "gone", map[string]string{"x": "1"})
	h := e.run(t, p.ID, d)[0]
	if err := e.store.DeleteData(ctx, e.tenant, d); err != nil {
		t.Fatal(err)
	}
	e.fs.Put(ctx, h.Job.JobDir+"/output/made/a", strings.NewReader("a"))
	e.fs.Put(ctx, h.Job.JobDir+"/"+slurm.ExitCodeFile, strings.NewReader("0\n"))
	fake.Set(h.Job.SlurmJobID, func(i *slurm.JobInfo) { i.State = "COMPLETED" })
	before := e.dataCount(t)
	if err := e.jobs.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.JobByID(ctx, e.tenant, h.Job.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("the run of a deleted datum is still there: %v", err)
	}
	if _, err := e.fs.Stat(ctx, h.Job.JobDir); err == nil {
		t.Error("its directory is still there")
	}
	if e.dataCount(t) != before {
		t.Error("its outputs were registered")
	}
}
