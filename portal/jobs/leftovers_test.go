package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"testing"
	"time"

	"kqi/portal/jobs"
	"kqi/portal/refusal"
	"kqi/slurm"
	"kqi/slurm/slurmfake"
	"kqi/storage/files"
)

// fullStore is a file store whose disk is full: nothing can be written.
type fullStore struct{ files.FS }

func (fullStore) Put(context.Context, string, io.Reader) (int64, error) {
	return 0, fmt.Errorf("put: %w", files.ErrNoSpace)
}

func (fullStore) CreatePrivate(context.Context, string, []byte) error {
	return fmt.Errorf("create: %w", files.ErrNoSpace)
}

// A submission that fails, by whatever path, leaves no job directory, no
// secrets file and no live job token; and a row whose request knows it
// failed ends at once instead of waiting for the reconcile's grace.
func TestFailedSubmitLeavesNothing(t *testing.T) {
	unreachable := errors.New("slurm: submit: dial tcp 127.0.0.1:6820: connection refused")
	for _, tc := range []struct {
		name  string
		setup func(svc *jobs.Service, fake *slurmfake.Fake)
		// waits: Slurm could not be asked whether it has the job, so the
		// row stays submitting until the reconcile can ask.
		waits bool
	}{
		{name: "refused by Slurm", setup: func(_ *jobs.Service, f *slurmfake.Fake) {
			f.OnSubmit = failWith(errors.New("slurm: submit: Invalid job option (refused)"))
		}},
		{name: "Slurm unreachable then answers it has nothing", setup: func(_ *jobs.Service, f *slurmfake.Fake) {
			f.OnSubmit = failWith(unreachable)
		}},
		{name: "Slurm unreachable also when asked", waits: true, setup: func(_ *jobs.Service, f *slurmfake.Fake) {
			f.OnSubmit, f.FindErr = failWith(unreachable), unreachable
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc, fake, who, ds, db := fakeEnv(t)
			ctx := context.Background()
			realFiles := svc.Files
			tc.setup(svc, fake)
			j, err := svc.Submit(ctx, who, jobs.Training, jobs.Request{Name: "doomed", DatasetID: ds, Command: "true", CPU: 1, MemoryGB: 1})
			if err != nil {
				t.Fatal(err)
			}
			tokens := func() int {
				var n int
				if err := db.QueryRowContext(ctx, `SELECT count(*) FROM api_tokens WHERE job_id = $1`, j.ID).Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}
			if tc.waits {
				if j.Status != string(slurm.StatusSubmitting) {
					t.Fatalf("job %s (%s %q), want submitting: Slurm may have it", j.Status, j.Reason, j.ReasonArg)
				}
				// Slurm answers again, with no such job, after the grace.
				fake.OnSubmit, fake.FindErr = nil, nil
				svc.Now = func() time.Time { return time.Now().Add(2 * time.Minute) }
				if err := svc.Poll(ctx); err != nil {
					t.Fatal(err)
				}
				if j, err = svc.Store.JobByID(ctx, who.TenantID, j.ID); err != nil {
					t.Fatal(err)
				}
			}
			if j.Status != string(slurm.StatusError) || j.SlurmJobID != "" {
				t.Fatalf("job %s %q (%s %q), want error with no Slurm job", j.Status, j.SlurmJobID, j.Reason, j.ReasonArg)
			}
			if j.JobDir == "" {
				t.Fatal("the row names no job directory")
			}
			if _, err := realFiles.Stat(ctx, j.JobDir); !errors.Is(err, files.ErrNotExist) {
				t.Errorf("job directory %s still there (%v)", j.JobDir, err)
			}
			if n := tokens(); n != 0 {
				t.Errorf("%d job tokens left", n)
			}
		})
	}
}

func failWith(err error) func(string, slurm.JobSpec) error {
	return func(string, slurm.JobSpec) error { return err }
}

// A submit that never reached the cluster (the connection was refused) is
// withdrawn: a 503-kind refusal, and no row, directory or token left.
func TestUnreachableClusterWithdrawsTheSubmit(t *testing.T) {
	svc, fake, who, ds, db := fakeEnv(t)
	ctx := context.Background()
	var dir string
	fake.OnSubmit = func(_ string, spec slurm.JobSpec) error {
		dir = spec.JobDir
		return fmt.Errorf("slurm: POST /job/submit: %w: dial tcp 127.0.0.1:6820: connection refused", slurm.ErrUnreachable)
	}
	_, err := svc.Submit(ctx, who, jobs.Training, jobs.Request{Name: "never", DatasetID: ds, Command: "true", CPU: 1, MemoryGB: 1})
	e, ok := refusal.Of(err)
	if !ok || e.Kind != refusal.Unavailable {
		t.Fatalf("Submit: %v; want an Unavailable refusal", err)
	}
	var rows, tokens int
	db.QueryRowContext(ctx, `SELECT count(*) FROM jobs`).Scan(&rows)
	db.QueryRowContext(ctx, `SELECT count(*) FROM api_tokens`).Scan(&tokens)
	if rows != 0 || tokens != 0 {
		t.Errorf("%d rows and %d tokens left", rows, tokens)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("job directory %s left (%v)", dir, err)
	}
}

// A submit the file store has no room for is refused as such (507) and
// leaves nothing.
func TestFullStoreWithdrawsTheSubmit(t *testing.T) {
	svc, _, who, ds, db := fakeEnv(t)
	ctx := context.Background()
	svc.Files = fullStore{svc.Files}
	_, err := svc.Submit(ctx, who, jobs.Training, jobs.Request{Name: "no-room", DatasetID: ds, Command: "true", CPU: 1, MemoryGB: 1})
	e, ok := refusal.Of(err)
	if !ok || e.Kind != refusal.NoSpace {
		t.Fatalf("Submit: %v; want a NoSpace refusal", err)
	}
	var rows, tokens int
	db.QueryRowContext(ctx, `SELECT count(*) FROM jobs`).Scan(&rows)
	db.QueryRowContext(ctx, `SELECT count(*) FROM api_tokens`).Scan(&tokens)
	if rows != 0 || tokens != 0 {
		t.Errorf("%d rows and %d tokens left", rows, tokens)
	}
	if left, _ := svc.Files.List(ctx, fmt.Sprintf("tenants/%d/jobs", who.TenantID)); len(left) != 0 {
		t.Errorf("job directories left: %+v", left)
	}
}
