package web_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"kqi/portal/portaltest"
	"kqi/slurm"
	"kqi/storage"
)

// What the form says when a submit cannot reach the cluster, or Slurm
// refuses the job: never a bare 500, never "submitted".
func TestTrainingSubmitWhenTheClusterFails(t *testing.T) {
	env := portaltest.New(t)
	lab := env.Tenant(t, "lab")
	env.User(t, "alice", pw, false, "lab")
	ctx := context.Background()
	dsID, err := env.Store.CreateDataset(ctx, storage.NewDataset{TenantID: lab.ID, Name: "ds"})
	if err != nil {
		t.Fatal(err)
	}
	b := env.Browser(t)
	b.Login("alice", pw)
	form := func() url.Values {
		return url.Values{"name": {"kept-name"}, "dataset_id": {fmt.Sprint(dsID)}, "command": {"python3 train.py"},
			"cpu": {"1"}, "memory_gb": {"1"}, "gpu": {"0"}, "memo": {"typed memo"}}
	}

	t.Run("cluster not answering", func(t *testing.T) {
		env.Fake.PartitionsErr = errors.New("slurmrestd: connection refused")
		defer func() { env.Fake.PartitionsErr = nil }()
		p := b.Submit("/trainings/new", "/trainings", form())
		if p.Status != http.StatusServiceUnavailable {
			t.Fatalf("status %d, want 503", p.Status)
		}
		for _, want := range []string{"The cluster is not answering: nothing was submitted", `value="kept-name"`, "python3 train.py", "typed memo"} {
			if !strings.Contains(p.Body, want) {
				t.Errorf("the form lacks %q", want)
			}
		}
		if _, n, _ := env.Store.ListJobs(ctx, lab.ID, storage.JobFilter{Kind: "training"}); n != 0 {
			t.Fatal("a submit the cluster never saw was recorded")
		}
	})

	t.Run("Slurm refuses the job", func(t *testing.T) {
		env.Fake.OnSubmit = func(string, slurm.JobSpec) error { return errors.New("sbatch: error: Batch job submission failed") }
		defer func() { env.Fake.OnSubmit = nil }()
		p := b.Submit("/trainings/new", "/trainings", form())
		if p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location, "/trainings/") {
			t.Fatalf("status %d to %q, want 303 to the training's page", p.Status, p.Location)
		}
		if p = b.Get(p.Location); p.Status != http.StatusOK {
			t.Fatalf("the training's page: %d", p.Status)
		}
		if strings.Contains(p.Body, "Training submitted to Slurm.") {
			t.Error("the page says submitted for a job Slurm refused")
		}
		for _, want := range []string{"Slurm did not accept it", "Batch job submission failed"} {
			if !strings.Contains(p.Body, want) {
				t.Errorf("the training's page lacks %q", want)
			}
		}
	})
}
