package jobs_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kqi/portal/accounts"
	"kqi/portal/jobs"
	"kqi/portal/refusal"
	"kqi/slurm"
	"kqi/storage"
)

// With Apptainer, a plain image name is looked up in the site's image
// store at submit, then among the registered registries; one that is in
// neither is a form error, never a Docker Hub pull, and nothing is recorded.
func TestApptainerImagesResolveAtSubmit(t *testing.T) {
	e, _ := newFakeEnv(t)
	store := t.TempDir()
	if err := os.MkdirAll(filepath.Join(store, "local", "python", "3", "usr"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(store, "torch-2.sif"), []byte("sif"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.svc.Cfg.Runtime = slurm.Apptainer{ImageDir: store, PullDir: store + "/pulled"}
	e.svc.Sources = &accounts.Sources{Store: e.store}
	if _, err := e.svc.Sources.CreateRegistry(context.Background(), "lab", "registry.example.org"); err != nil {
		t.Fatal(err)
	}
	who := jobs.Actor{TenantID: e.tenant.ID, UserID: e.user.ID}
	submit := func(image string) error {
		_, err := e.svc.Submit(context.Background(), who, jobs.Training, jobs.Request{Name: "img", DatasetID: e.dataset,
			Image: image, Command: "true", CPU: 1, MemoryGB: 1, Partition: "cpu"})
		return err
	}
	for _, image := range []string{"local/python:3", store + "/torch-2.sif", "registry.example.org/ml/torch:2", "docker://python:3.12"} {
		if err := submit(image); err != nil {
			t.Errorf("image %q refused: %v", image, err)
		}
	}
	count := func() int {
		_, n, err := e.store.ListJobs(context.Background(), e.tenant.ID, storage.JobFilter{Kind: "training"})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := count()
	for image, says := range map[string]string{
		"python:3.12":             "docker://python:3.12",
		"local/python:4":          "not in the site's image store",
		"ghcr.io/org/img:1":       "registered registry",
		store + "/missing.sif":    "not in the site's image store",
		store + "/pulled/x/1.sif": "docker:// reference",
	} {
		err := submit(image)
		r, ok := refusal.Of(err)
		if !ok || len(r.Fields) == 0 || r.Fields[0].Field != "image" || !strings.Contains(r.Fields[0].Arg, says) {
			t.Errorf("image %q: %v, want an image field error saying %q", image, err, says)
		}
	}
	if after := count(); after != before {
		t.Errorf("refused submits left %d rows", after-before)
	}
	// Apptainer cannot deliver CR LF: refused at submit, not in the job.
	_, err := e.svc.Submit(context.Background(), who, jobs.Training, jobs.Request{Name: "crlf", DatasetID: e.dataset,
		Image: "local/python:3", Command: "true", CPU: 1, MemoryGB: 1, Partition: "cpu",
		Env: []storage.EnvPair{{Name: "WIN", Value: "a\r\nb"}}})
	if r, ok := refusal.Of(err); !ok || len(r.Fields) != 1 || r.Fields[0].Field != "spec" || !strings.Contains(r.Fields[0].Arg, "WIN") {
		t.Errorf("CR LF value: %v", err)
	}
}
