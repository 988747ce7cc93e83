package jobs_test

import (
	"kqi/slurm"
	"kqi/slurm/slurmtest"

	"context"
	"testing"
	"time"

	"kqi/portal/jobs"
	"kqi/storage"
)

// A training asking for more GPUs than are free waits in queued with
// Slurm's reason, and runs once a training holding GPUs is stopped.
func TestGPUTrainingWaitsForFreeGPUs(t *testing.T) {
	dev := slurmtest.Integration(t, "KQI_DEV_GPU_PARTITION", "KQI_DEV_GPUS")
	slurmtest.LockGPUs(t)
	partition := dev["KQI_DEV_GPU_PARTITION"]
	if n := dev["KQI_DEV_GPUS"]; n != "4" {
		t.Fatalf("KQI_DEV_GPUS=%s: this test fills a node of 4 GPUs with two trainings of 2", n)
	}
	cs := clusters(t)
	// One backend after the other: both need the node's every GPU.
	for _, name := range []string{"rest", "ssh"} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, cs[name])
			twoGPUs := func(r *jobs.Request) { r.Partition, r.GPU = partition, 2 }
			first := e.submit(t, "gpu-first-"+name, "sleep 120", twoGPUs)
			second := e.submit(t, "gpu-second-"+name, "sleep 120", twoGPUs)
			// Other tests of the dev cluster may hold GPUs for a while.
			e.awaitGPU(t, first.ID, "the first training to run", 2*time.Minute, isRunning)
			e.awaitGPU(t, second.ID, "the second training to run", 2*time.Minute, isRunning)

			third := e.submit(t, "gpu-third-"+name, "sleep 120", twoGPUs)
			// Resources, or Priority while a GPU job of a test that does not
			// take the lock waits ahead of it.
			tr := e.awaitGPU(t, third.ID, "the third training to wait with Slurm's reason Resources", time.Minute, func(tr *storage.Job) bool {
				return tr.Status == string(slurm.StatusQueued) && (tr.ReasonArg == "Resources" || tr.ReasonArg == "Priority")
			})
			t.Logf("third training queued with reason %q", tr.Reason)
			if tr.StartedAt != nil || tr.Node != "" {
				t.Fatalf("queued training has a start %v or node %q", tr.StartedAt, tr.Node)
			}
			for _, id := range []int64{first.ID, second.ID} {
				if got, _ := e.store.JobByID(context.Background(), e.tenant.ID, id); got.Status != string(slurm.StatusRunning) {
					t.Fatalf("training %d holding GPUs is %s (%s) while the third waits", id, got.Status, got.Reason)
				}
			}

			e.stop(t, first.ID)
			tr = e.awaitGPU(t, first.ID, "the stopped first training to end", 2*time.Minute, final)
			if tr.Status != string(slurm.StatusKilled) {
				t.Fatalf("stopped first training: %s (%s)", tr.Status, tr.Reason)
			}
			tr = e.awaitGPU(t, third.ID, "the third training to run on the freed GPUs", 2*time.Minute, isRunning)
			if tr.StartedAt == nil || tr.Node == "" {
				t.Fatalf("running third training lacks a start %v or node %q", tr.StartedAt, tr.Node)
			}

			for _, id := range []int64{second.ID, third.ID} {
				e.stop(t, id)
			}
			for _, id := range []int64{second.ID, third.ID} {
				if tr := e.awaitGPU(t, id, "a stopped training to end", 2*time.Minute, final); tr.Status != string(slurm.StatusKilled) {
					t.Fatalf("stopped training %d: %s (%s)", id, tr.Status, tr.Reason)
				}
			}
		})
	}
}

func isRunning(tr *storage.Job) bool { return tr.Status == string(slurm.StatusRunning) }

func (e *env) stop(t *testing.T, id int64) {
	t.Helper()
	if err := e.store.RequestStop(context.Background(), e.tenant.ID, id); err != nil {
		t.Fatalf("request stop of training %d: %v", id, err)
	}
}

// awaitGPU polls like waitFor, failing with what it waited for; a training
// that ends while it should wait or run fails at once.
func (e *env) awaitGPU(t *testing.T, id int64, what string, limit time.Duration, done func(*storage.Job) bool) *storage.Job {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		if err := e.svc.Poll(context.Background()); err != nil {
			t.Fatalf("waiting for %s: poll: %v", what, err)
		}
		tr, err := e.store.JobByID(context.Background(), e.tenant.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		if done(tr) {
			return tr
		}
		if !tr.Active() {
			t.Fatalf("waiting for %s: training %d ended %s (%s)", what, id, tr.Status, tr.Reason)
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: training %d still %s (reason %q) after %v", what, id, tr.Status, tr.Reason, limit)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
