package jobs_test

import (
	"context"
	"errors"
	"os"
	"path"
	"testing"
	"time"

	"kqi/portal/jobs"
	"kqi/portal/refusal"
	"kqi/storage/files"
)

// A submit makes its directory's skeleton while the row is recorded: a row
// refused (here by the quota) takes the skeleton away with it.
func TestRefusedRowLeavesNoDirectory(t *testing.T) {
	svc, _, who, ds, _ := fakeEnv(t)
	ctx := context.Background()
	zero := 0
	if err := svc.Store.SetTenantQuota(ctx, who.TenantID, &zero, nil, nil); err != nil {
		t.Fatal(err)
	}
	_, err := svc.Submit(ctx, who, jobs.Training, jobs.Request{Name: "over", DatasetID: ds, Command: "true", CPU: 1, MemoryGB: 1})
	if e, ok := refusal.Of(err); !ok || e.Kind != refusal.Invalid {
		t.Fatalf("Submit over the quota: %v; want it refused", err)
	}
	left, err := svc.Files.List(ctx, path.Dir(jobs.JobDir(who.TenantID, 1)))
	if err != nil && !errors.Is(err, files.ErrNotExist) {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("the refused submit left %v", left)
	}
}

// A crash between a submit's skeleton and its row leaves a directory no
// row names: the sweep takes it once old enough, and keeps every recorded
// job's directory and any recent one.
func TestSweepUnrecordedJobDirectories(t *testing.T) {
	svc, _, who, ds, _ := fakeEnv(t)
	ctx := context.Background()
	recorded, err := svc.Submit(ctx, who, jobs.Training, jobs.Request{Name: "kept", DatasetID: ds, Command: "true", CPU: 1, MemoryGB: 1})
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-48 * time.Hour)
	skeleton := func(id int64, at time.Time) string {
		dir := jobs.JobDir(who.TenantID, id)
		if err := svc.Files.MkdirAll(ctx, dir+"/output"); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{dir + "/output", dir} {
			os.Chtimes(svc.Files.LocalPath(p), at, at)
		}
		return dir
	}
	os.Chtimes(svc.Files.LocalPath(recorded.JobDir), old, old)
	crashed := skeleton(recorded.ID+100, old)
	inFlight := skeleton(recorded.ID+101, time.Now())

	n, err := svc.SweepUnrecorded(ctx, 24*time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("swept %d, %v; want the crashed submit's directory", n, err)
	}
	for dir, want := range map[string]bool{recorded.JobDir: true, crashed: false, inFlight: true} {
		if _, err := svc.Files.Stat(ctx, dir); (err == nil) != want {
			t.Errorf("%s: kept %v, want %v (%v)", dir, err == nil, want, err)
		}
	}
}
