package jobs_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"kqi/slurm"
	"kqi/storage"
	"kqi/storage/files"
)

// A job's script is what Slurm was given, kept with its row: no script.sh
// is written beside the secrets. A job from before scripts were kept
// reads its script.sh, and a job with neither has none to show.
func TestScriptIsKeptWithTheRow(t *testing.T) {
	e, fake := newFakeEnv(t)
	ctx := t.Context()
	j := e.submit(t, "kept", "echo kept")
	sent, ok := fake.Job(j.SlurmJobID)
	if !ok {
		t.Fatalf("no Slurm job %q", j.SlurmJobID)
	}
	got, err := e.svc.Script(ctx, j)
	if err != nil || got != sent.Script {
		t.Fatalf("Script = %q, %v; want what Slurm was given:\n%s", got, err, sent.Script)
	}
	if _, err := e.svc.Files.Stat(ctx, j.JobDir+"/"+slurm.ScriptFile); !errors.Is(err, files.ErrNotExist) {
		t.Errorf("a submit wrote %s: %v", slurm.ScriptFile, err)
	}

	// A row without a kept script (queued before migration 0016, or an
	// array's task) is read from its directory.
	old, err := e.store.CreateJob(ctx, storage.NewJob{TenantID: e.tenant.ID, Kind: "training", Name: "old", Image: slurm.HostImage,
		Command: "true", CPU: 1, MemoryGB: 1, Partition: "cpu", JobDirPrefix: "tenants/1/jobs/"})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := e.store.SetJobQueued(ctx, old.ID, "4242"); !ok || err != nil {
		t.Fatalf("SetJobQueued: %v, %v", ok, err)
	}
	if _, err := e.svc.Script(ctx, old); !errors.Is(err, files.ErrNotExist) {
		t.Errorf("Script of a job with neither a kept script nor a file: %v, want ErrNotExist", err)
	}
	if _, err := e.svc.Files.Put(ctx, old.JobDir+"/"+slurm.ScriptFile, strings.NewReader("#!/bin/bash\n# the file's\n")); err != nil {
		t.Fatal(err)
	}
	if got, err := e.svc.Script(ctx, old); err != nil || got != "#!/bin/bash\n# the file's\n" {
		t.Errorf("Script of a job with only its file = %q, %v", got, err)
	}
	// The directory is the job's: a script.sh it swapped for a link is no
	// script, not an error of its pages.
	path := e.svc.Files.LocalPath(old.JobDir + "/" + slurm.ScriptFile)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", path); err != nil {
		t.Fatal(err)
	}
	if got, err := e.svc.Script(ctx, old); !errors.Is(err, files.ErrNotExist) || got != "" {
		t.Errorf("Script of a job whose script.sh is a link = %q, %v; want ErrNotExist", got, err)
	}

	// Another tenant's job of the same id has no script to read here.
	other, err := e.store.CreateTenant(ctx, "other")
	if err != nil {
		t.Fatal(err)
	}
	stranger := *j
	stranger.TenantID, stranger.JobDir = other.ID, ""
	if _, err := e.svc.Script(ctx, &stranger); !errors.Is(err, files.ErrNotExist) {
		t.Errorf("Script of a job under another tenant: %v, want ErrNotExist", err)
	}
}
