package jobs_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"kqi/portal/jobs"
	"kqi/portal/refusal"
	"kqi/slurm"
	"kqi/slurm/slurmfake"
	"kqi/storage"
)

// submitKind submits a job of kind running "true" on e's dataset.
func (e *env) submitKind(t *testing.T, kind jobs.Kind, name string, parents ...int64) *storage.Job {
	t.Helper()
	return e.submitCommand(t, kind, name, "true", parents...)
}

// submitCommand submits a job of kind on e's dataset and fails the test
// unless Slurm has it; the job is cancelled when the test ends.
func (e *env) submitCommand(t *testing.T, kind jobs.Kind, name, command string, parents ...int64) *storage.Job {
	t.Helper()
	j, err := e.svc.Submit(context.Background(), jobs.Actor{TenantID: e.tenant.ID, UserID: e.user.ID}, kind,
		jobs.Request{Name: name, DatasetID: e.dataset, ParentIDs: parents, Command: command, CPU: 1, MemoryGB: 1, Partition: "cpu"})
	if err != nil {
		t.Fatalf("submit %s: %v", name, err)
	}
	if j.Status != string(slurm.StatusQueued) || j.SlurmJobID == "" {
		t.Fatalf("submit %s: %s (%s %s)", name, j.Status, j.Reason, j.ReasonArg)
	}
	t.Cleanup(func() { e.svc.Cluster.Cancel(context.Background(), j.SlurmJobID) })
	return j
}

// endOnFake makes the fake cluster report j ended with exit code and
// polls once.
func (e *env) endOnFake(t *testing.T, fake *slurmfake.Fake, j *storage.Job, exit int) *storage.Job {
	t.Helper()
	ctx := context.Background()
	if _, err := e.svc.Files.Put(ctx, j.JobDir+"/"+slurm.ExitCodeFile, strings.NewReader(fmt.Sprintln(exit))); err != nil {
		t.Fatal(err)
	}
	state := "COMPLETED"
	if exit != 0 {
		state = "FAILED"
	}
	fake.Set(j.SlurmJobID, func(i *slurm.JobInfo) { i.State, i.ExitCode = state, exit })
	if err := e.svc.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	return e.job(t, j.ID)
}

// An inference takes one or more parents, each a training or an inference
// of the tenant, and a dataset; everything else is refused before anything
// is recorded. A training cannot take an inference as its parent.
func TestInferenceRefusals(t *testing.T) {
	e, _ := newFakeEnv(t)
	ctx := context.Background()
	parent := e.submitKind(t, jobs.Training, "parent")
	other, _ := e.store.CreateTenant(ctx, "other")
	theirs, err := e.store.CreateJob(ctx, storage.NewJob{TenantID: other.ID, Kind: "training", Name: "theirs", Image: "host", Command: "true", CPU: 1, MemoryGB: 1, Partition: "cpu"})
	if err != nil {
		t.Fatal(err)
	}
	board, err := e.store.CreateJob(ctx, storage.NewJob{TenantID: e.tenant.ID, Kind: "tensorboard", Name: "tb", Image: "host", Command: "true", CPU: 1, MemoryGB: 1, Partition: "cpu"})
	if err != nil {
		t.Fatal(err)
	}
	earlier := e.submitKind(t, jobs.Inference, "earlier", parent.ID)
	many := make([]int64, 33)
	for i := range many {
		many[i] = parent.ID
	}
	tests := []struct {
		name  string
		kind  jobs.Kind
		mod   func(*jobs.Request)
		field string
		key   string
	}{
		{"no parent", jobs.Inference, func(r *jobs.Request) { r.ParentIDs = nil }, "parent_id", "inference.parent_required"},
		{"another tenant's training", jobs.Inference, func(r *jobs.Request) { r.ParentIDs = []int64{theirs.ID} }, "parent_id", "inference.unknown_parent"},
		{"a job of another kind", jobs.Inference, func(r *jobs.Request) { r.ParentIDs = []int64{board.ID} }, "parent_id", "inference.unknown_parent"},
		{"no such job", jobs.Inference, func(r *jobs.Request) { r.ParentIDs = []int64{parent.ID, 999999} }, "parent_id", "inference.unknown_parent"},
		{"a parent twice", jobs.Inference, func(r *jobs.Request) { r.ParentIDs = []int64{parent.ID, parent.ID} }, "parent_id", "inference.duplicate_parent"},
		{"too many parents", jobs.Inference, func(r *jobs.Request) { r.ParentIDs = many }, "parent_id", "inference.too_many_parents"},
		{"no dataset", jobs.Inference, func(r *jobs.Request) { r.DatasetID = 0 }, "dataset_id", "training.unknown_dataset"},
		{"env overriding INFERENCE_ID", jobs.Inference, func(r *jobs.Request) { r.Env = []storage.EnvPair{{Name: "INFERENCE_ID", Value: "1"}} }, "spec", "training.invalid_spec"},
		{"a training from an inference", jobs.Training, func(r *jobs.Request) { r.ParentIDs = []int64{earlier.ID} }, "parent_id", "training.unknown_parent"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := jobs.Request{Name: "refused", DatasetID: e.dataset, ParentIDs: []int64{parent.ID}, Command: "true", CPU: 1, MemoryGB: 1, Partition: "cpu"}
			tc.mod(&req)
			_, err := e.svc.Submit(ctx, jobs.Actor{TenantID: e.tenant.ID, UserID: e.user.ID}, tc.kind, req)
			inv, ok := refusal.Of(err)
			if !ok || inv.Kind != refusal.Invalid {
				t.Fatalf("not refused: %v", err)
			}
			found := false
			for _, f := range inv.Fields {
				found = found || (f.Field == tc.field && f.Key == tc.key)
			}
			if !found {
				t.Fatalf("refusals %+v lack %s/%s", inv.Fields, tc.field, tc.key)
			}
		})
	}
	if _, n, _ := e.store.ListJobs(ctx, e.tenant.ID, storage.JobFilter{Kind: "inference"}); n != 1 {
		t.Fatalf("%d inferences recorded, want the one accepted", n)
	}
}

// What the batch job of an inference is: named inference-{name}-{id},
// INFERENCE_ID (not TRAINING_ID) and PARENT_ID set, one parent's outputs
// at /kqi/parent, several at /kqi/parent/{id}, an earlier inference among
// them.
func TestInferenceJob(t *testing.T) {
	e, fake := newFakeEnv(t)
	first := e.submitKind(t, jobs.Training, "first")
	second := e.submitKind(t, jobs.Training, "second")
	one := e.submitKind(t, jobs.Inference, "one", first.ID)
	two := e.submitKind(t, jobs.Inference, "two", second.ID, one.ID)
	outputs := func(j *storage.Job) string { return e.svc.Files.LocalPath(j.JobDir + "/" + slurm.OutputDir) }
	for _, c := range []struct {
		job     *storage.Job
		parents string
		binds   map[string]string // target → source
	}{
		{one, fmt.Sprint(first.ID), map[string]string{"/kqi/parent": outputs(first)}},
		{two, fmt.Sprintf("%d,%d", second.ID, one.ID), map[string]string{
			fmt.Sprintf("/kqi/parent/%d", second.ID): outputs(second), fmt.Sprintf("/kqi/parent/%d", one.ID): outputs(one)}},
	} {
		got, ok := fake.Job(c.job.SlurmJobID)
		if !ok {
			t.Fatalf("%s: not on the cluster", c.job.Name)
		}
		if want := fmt.Sprintf("inference-%s-%d", c.job.Name, c.job.ID); got.Spec.Name != want {
			t.Errorf("Slurm job named %q, want %q", got.Spec.Name, want)
		}
		env := map[string]string{}
		for _, v := range got.Spec.System {
			env[v.Name] = v.Value
		}
		if env["INFERENCE_ID"] != fmt.Sprint(c.job.ID) || env["PARENT_ID"] != c.parents || env["DATASET_ID"] != fmt.Sprint(e.dataset) {
			t.Errorf("%s: variables %v", c.job.Name, env)
		}
		if _, ok := env["TRAINING_ID"]; ok {
			t.Errorf("%s: an inference has TRAINING_ID", c.job.Name)
		}
		binds := map[string]string{}
		for _, b := range got.Spec.Inputs {
			if strings.HasPrefix(b.Target, "/kqi/parent") {
				binds[b.Target] = b.Source
			}
		}
		if fmt.Sprint(binds) != fmt.Sprint(c.binds) {
			t.Errorf("%s: parent binds %v, want %v", c.job.Name, binds, c.binds)
		}
		// The parents never ran here: their output/ was made for the bind.
		for target, src := range binds {
			if fi, err := os.Stat(src); err != nil || !fi.IsDir() {
				t.Errorf("%s: the source of %s is no directory: %v", c.job.Name, target, err)
			}
		}
		if !strings.Contains(got.Script, "inference-"+c.job.Name) {
			t.Errorf("%s: the script does not carry the job name", c.job.Name)
		}
	}
}

// A parent whose directory is gone (its job never reached Slurm) is not
// brought back by a child's bind.
func TestAChildDoesNotBringBackItsParentsDirectory(t *testing.T) {
	e, _ := newFakeEnv(t)
	parent := e.submitKind(t, jobs.Training, "parent")
	if err := e.svc.Files.RemoveAll(context.Background(), parent.JobDir); err != nil {
		t.Fatal(err)
	}
	e.submitKind(t, jobs.Inference, "child", parent.ID)
	if _, err := os.Stat(e.svc.Files.LocalPath(parent.JobDir)); !os.IsNotExist(err) {
		t.Fatalf("the parent's directory is back: %v", err)
	}
}

// The first line of value.txt becomes the output value when it is a
// finite number; anything else (none, text, a link, a FIFO, a directory)
// is no value, and never changes how the job ended.
func TestInferenceValue(t *testing.T) {
	e, fake := newFakeEnv(t)
	ctx := context.Background()
	parent := e.submitKind(t, jobs.Training, "parent")
	e.endOnFake(t, fake, parent, 0)
	num := func(v float64) *float64 { return &v }
	// output is the job's output/, made as its script makes it on the node.
	output := func(j *storage.Job) string {
		dir := e.svc.Files.LocalPath(j.JobDir + "/" + slurm.OutputDir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	// elsewhere is a file with a number, outside the job's output.
	elsewhere := filepath.Join(output(parent), "number.txt")
	if err := os.WriteFile(elsewhere, []byte("13\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		leave func(path string) error // what the job leaves at value.txt
		exit  int
		want  *float64
	}{
		{"a number", content("0.93\n"), 0, num(0.93)},
		{"spaces and no newline", content("  42 "), 0, num(42)},
		{"exponent", content("-1.5e-3\r\n"), 0, num(-0.0015)},
		{"the first line only", content("7\nloss 0.1\n"), 0, num(7)},
		{"a failed job's value", content("3\n"), 2, num(3)},
		{"text", content("accuracy: 0.9\n"), 0, nil},
		{"empty", content(""), 0, nil},
		{"not a number", content("NaN\n"), 0, nil},
		{"infinite", content("inf\n"), 0, nil},
		{"decimal comma", content("0,93\n"), 0, nil},
		{"a first line too long", content(strings.Repeat("1", 300)), 0, nil},
		{"none", func(string) error { return nil }, 0, nil},
		{"a link to a number", func(p string) error { return os.Symlink(elsewhere, p) }, 0, nil},
		{"a directory", func(p string) error { return os.Mkdir(p, 0o755) }, 0, nil},
		{"a FIFO", func(p string) error { return syscall.Mkfifo(p, 0o644) }, 0, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			j := e.submitKind(t, jobs.Inference, "v", parent.ID)
			if err := c.leave(filepath.Join(output(j), jobs.ValueFile)); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			got := e.endOnFake(t, fake, j, c.exit)
			if time.Since(start) > 10*time.Second {
				t.Errorf("the poll took %v", time.Since(start))
			}
			wantStatus := slurm.StatusCompleted
			if c.exit != 0 {
				wantStatus = slurm.StatusFailed
			}
			if got.Status != string(wantStatus) {
				t.Fatalf("status %s (%s), want %s", got.Status, got.Reason, wantStatus)
			}
			if fmt.Sprint(deref(got.OutputValue)) != fmt.Sprint(deref(c.want)) {
				t.Fatalf("value %v, want %v", deref(got.OutputValue), deref(c.want))
			}
			if list, _, _ := e.svc.List(ctx, e.tenant.ID, jobs.Inference, storage.JobFilter{ParentID: parent.ID, Sort: "id", Desc: true, PerPage: 1}); len(list) != 1 ||
				fmt.Sprint(deref(list[0].OutputValue)) != fmt.Sprint(deref(c.want)) {
				t.Fatalf("the list shows %+v", list)
			}
		})
	}
}

func content(s string) func(string) error {
	return func(p string) error { return os.WriteFile(p, []byte(s), 0o644) }
}

func deref(v *float64) any {
	if v == nil {
		return nil
	}
	return *v
}

// A training (or inference) an inference was made from is not deleted
// while the inference exists, alone or in a bulk delete; once the
// inference is gone it may be. A training's training child does not hold
// its parent.
func TestInferenceKeepsItsParents(t *testing.T) {
	e, fake := newFakeEnv(t)
	ctx := context.Background()
	base := e.endOnFake(t, fake, e.submitKind(t, jobs.Training, "base"), 0)
	child := e.endOnFake(t, fake, e.submitKind(t, jobs.Training, "child", base.ID), 0)
	first := e.endOnFake(t, fake, e.submitKind(t, jobs.Inference, "first", base.ID), 0)
	second := e.endOnFake(t, fake, e.submitKind(t, jobs.Inference, "second", first.ID, child.ID), 0)

	conflict := func(err error, key, arg string) {
		t.Helper()
		r, ok := refusal.Of(err)
		if !ok || r.Kind != refusal.Conflict {
			t.Fatalf("not a conflict: %v", err)
		}
		if k, a := r.Key(); k != key || a != arg {
			t.Fatalf("refused with %s %q, want %s %q", k, a, key, arg)
		}
	}
	conflict(e.svc.Delete(ctx, e.tenant.ID, jobs.Training, base.ID), "training.parent_in_use", fmt.Sprintf("#%d", first.ID))
	conflict(e.svc.Delete(ctx, e.tenant.ID, jobs.Inference, first.ID), "inference.parent_in_use", fmt.Sprintf("#%d", second.ID))
	kept, err := e.svc.Bulk(ctx, e.tenant.ID, jobs.Training, []int64{base.ID, child.ID}, "delete", nil)
	if err != nil || kept != (jobs.Kept{InUse: 2}) {
		t.Fatalf("bulk delete kept %+v (%v), want both in use", kept, err)
	}
	if _, err := e.svc.Job(ctx, e.tenant.ID, jobs.Training, base.ID); err != nil {
		t.Fatalf("the parent is gone: %v", err)
	}
	for _, j := range []*storage.Job{second, first} {
		if err := e.svc.Delete(ctx, e.tenant.ID, jobs.Inference, j.ID); err != nil {
			t.Fatal(err)
		}
	}
	// Nothing holds base's outputs now but a training child, which does not.
	if err := e.svc.Delete(ctx, e.tenant.ID, jobs.Training, base.ID); err != nil {
		t.Fatalf("delete once the inferences are gone: %v", err)
	}
	if _, err := os.Stat(e.svc.Files.LocalPath(base.JobDir)); !os.IsNotExist(err) {
		t.Errorf("the deleted training's files are still there (%v)", err)
	}
	if got := e.job(t, child.ID); len(got.ParentIDs) != 0 {
		t.Errorf("the training child still links to its deleted parent: %v", got.ParentIDs)
	}
}

// Inferences on the dev cluster, both backends: one reads its parent's
// outputs at /kqi/parent and cannot write there, and its value.txt becomes
// its value; a malformed value.txt is no value and the inference still
// completes; two parents are at /kqi/parent/{id} each; squeue shows a
// running one as inference-{name}-{id}; exit 2 fails it and Stop kills it.
func TestInferencesOnTheCluster(t *testing.T) {
	for name, cluster := range clusters(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, cluster)
			model := e.submitCommand(t, jobs.Training, "model-"+name, "mkdir -p /kqi/output/sub && echo weights-a > /kqi/output/model.txt && echo w > /kqi/output/sub/w.txt")
			other := e.submitCommand(t, jobs.Training, "other-"+name, "echo weights-b > /kqi/output/model.txt")
			for _, tr := range []*storage.Job{model, other} {
				if got := e.waitFor(t, tr.ID, 2*time.Minute, final); got.Status != string(slurm.StatusCompleted) {
					t.Fatalf("training %s: %s (%s)", got.Name, got.Status, got.Reason)
				}
			}
			// wrote records any write into a parent's directory that works.
			wrote := func(dir string) string {
				return fmt.Sprintf(`{ touch %[1]s/new || mkdir %[1]s/d || rm -f %[1]s/model.txt; } 2>/dev/null && echo %[1]s >> /kqi/output/wrote.txt; `, dir)
			}
			one := e.submitCommand(t, jobs.Inference, "one-"+name, `cat /kqi/parent/model.txt /kqi/parent/sub/w.txt > /kqi/output/read.txt; `+wrote("/kqi/parent")+
				`echo "$INFERENCE_ID $PARENT_ID ${TRAINING_ID-none}" > /kqi/output/env.txt; echo 0.93 > /kqi/output/value.txt`, model.ID)
			malformed := e.submitCommand(t, jobs.Inference, "malformed-"+name, `echo "about 0.9" > /kqi/output/value.txt`, model.ID)
			a, b := fmt.Sprintf("/kqi/parent/%d", model.ID), fmt.Sprintf("/kqi/parent/%d", other.ID)
			two := e.submitCommand(t, jobs.Inference, "two-"+name, fmt.Sprintf(`cat %s/model.txt %s/model.txt > /kqi/output/both.txt; `, a, b)+wrote(a)+wrote(b)+
				`echo "$PARENT_ID" > /kqi/output/parents.txt; printf '2\n' > /kqi/output/value.txt`, model.ID, other.ID)
			failing := e.submitCommand(t, jobs.Inference, "fail-"+name, "echo 5 > /kqi/output/value.txt; exit 2", model.ID)
			long := e.submitCommand(t, jobs.Inference, "long-"+name, "sleep 300", model.ID, other.ID)

			got := e.waitFor(t, one.ID, 2*time.Minute, final)
			if got.Status != string(slurm.StatusCompleted) || got.OutputValue == nil || *got.OutputValue != 0.93 {
				t.Fatalf("one: %s (%s) value %v\nlog:\n%s", got.Status, got.Reason, deref(got.OutputValue), e.file(t, got, "log"))
			}
			if read := e.file(t, got, "output/read.txt"); read != "weights-a\nw\n" {
				t.Errorf("one read %q from /kqi/parent", read)
			}
			if env := e.file(t, got, "output/env.txt"); env != fmt.Sprintf("%d %d none\n", one.ID, model.ID) {
				t.Errorf("one's INFERENCE_ID PARENT_ID TRAINING_ID: %q", env)
			}
			for _, j := range []*storage.Job{one, two} {
				if _, err := e.svc.Files.Stat(context.Background(), j.JobDir+"/output/wrote.txt"); err == nil {
					t.Errorf("%s wrote into its parents: %s", j.Name, e.file(t, j, "output/wrote.txt"))
				}
			}
			if got := e.waitFor(t, malformed.ID, 2*time.Minute, final); got.Status != string(slurm.StatusCompleted) || got.OutputValue != nil {
				t.Errorf("malformed: %s (%s) value %v", got.Status, got.Reason, deref(got.OutputValue))
			}
			got = e.waitFor(t, two.ID, 2*time.Minute, final)
			if got.Status != string(slurm.StatusCompleted) || deref(got.OutputValue) != 2.0 {
				t.Fatalf("two: %s (%s) value %v\nlog:\n%s", got.Status, got.Reason, deref(got.OutputValue), e.file(t, got, "log"))
			}
			if both := e.file(t, got, "output/both.txt"); both != "weights-a\nweights-b\n" {
				t.Errorf("two read %q from /kqi/parent/{id}", both)
			}
			if parents := e.file(t, got, "output/parents.txt"); parents != fmt.Sprintf("%d,%d\n", model.ID, other.ID) {
				t.Errorf("two's PARENT_ID: %q", parents)
			}
			if got := e.waitFor(t, failing.ID, 2*time.Minute, final); got.Status != string(slurm.StatusFailed) || got.ExitCode == nil || *got.ExitCode != 2 {
				t.Errorf("exit 2: %s (%s) exit %v", got.Status, got.Reason, got.ExitCode)
			}
			// The list sorts by value, those without one last.
			list, _, err := e.svc.List(context.Background(), e.tenant.ID, jobs.Inference, storage.JobFilter{Sort: "value", Desc: true, ParentID: model.ID})
			if err != nil {
				t.Fatal(err)
			}
			var order []string
			for _, j := range list {
				order = append(order, fmt.Sprintf("%s=%v", j.Name, deref(j.OutputValue)))
			}
			want := fmt.Sprintf("[fail-%[1]s=5 two-%[1]s=2 one-%[1]s=0.93 long-%[1]s=<nil> malformed-%[1]s=<nil>]", name)
			if fmt.Sprint(order) != want {
				t.Errorf("by value: %v, want %s", order, want)
			}

			e.waitFor(t, long.ID, 2*time.Minute, func(j *storage.Job) bool { return j.Status == string(slurm.StatusRunning) })
			out, err := exec.Command("squeue", "-h", "-j", long.SlurmJobID, "-o", "%j").CombinedOutput()
			if want := fmt.Sprintf("inference-long-%s-%d", name, long.ID); err != nil || strings.TrimSpace(string(out)) != want {
				t.Errorf("squeue -o %%j: %q (%v), want %s", out, err, want)
			}
			if err := e.svc.Stop(context.Background(), e.tenant.ID, jobs.Inference, long.ID); err != nil {
				t.Fatal(err)
			}
			if got := e.waitFor(t, long.ID, 2*time.Minute, final); got.Status != string(slurm.StatusKilled) || got.Reason != slurm.CauseStoppedByUser {
				t.Errorf("stopped: %s (%s)", got.Status, got.Reason)
			}
		})
	}
}
