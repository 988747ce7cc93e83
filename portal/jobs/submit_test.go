package jobs_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"mime/multipart"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kqi/portal/data"
	"kqi/portal/jobs"
	"kqi/portal/refusal"
	"kqi/portal/transfer"
	"kqi/slurm"
	"kqi/slurm/slurmfake"
	"kqi/storage"
	"kqi/storage/files"

	_ "github.com/lib/pq"
	"kqi/storage/storagetest"
)

// fakeEnv is a jobs service on the in-memory cluster: PostgreSQL and a
// local file store, no Slurm.
func fakeEnv(t *testing.T) (*jobs.Service, *slurmfake.Fake, jobs.Actor, int64, *sql.DB) {
	t.Helper()
	ctx := context.Background()
	st, dbURL := storagetest.NewStore(t)
	db, err := sql.Open("postgres", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	fs, err := files.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	tenant, _ := st.CreateTenant(ctx, "lab")
	usr, _ := st.CreateUser(ctx, storage.NewUser{Username: "alice", PasswordHash: "x"}, storage.TenantRole{TenantID: tenant.ID, Role: storage.RoleUser})
	dsvc := &data.Service{Store: st, Files: fs, Log: log}
	ds, err := dsvc.CreateDataset(ctx, data.Actor{TenantID: tenant.ID}, data.DatasetForm{Name: "ds"})
	if err != nil {
		t.Fatal(err)
	}
	fake := slurmfake.NewFake()
	svc := &jobs.Service{Store: st, Files: fs, Data: dsvc, Cluster: fake, Log: log, Cfg: jobs.Config{
		ServerURL: "http://127.0.0.1:8080", Runtime: slurm.Bubblewrap{}, DefaultImage: slurm.HostImage,
		TokenTTL: time.Hour, SubmitGrace: time.Minute, AllowHostImage: true,
	}}
	return svc, fake, jobs.Actor{TenantID: tenant.ID, UserID: usr.ID}, ds, db
}

// A submission Slurm refuses ends in error without its secrets file and
// with its KQI_TOKEN revoked: neither may outlive the job (they used to
// stay for the token's whole lifetime).
func TestRefusedSubmitLeavesNoSecrets(t *testing.T) {
	svc, fake, who, ds, _ := fakeEnv(t)
	ctx := context.Background()
	var token, secretsPath string
	fake.OnSubmit = func(script string, spec slurm.JobSpec) error {
		secretsPath = filepath.Join(spec.JobDir, slurm.SecretsFile)
		f, err := os.Open(secretsPath)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "KQI_TOKEN="); ok {
				token = v
			}
		}
		if _, err := svc.Store.APITokenByValue(context.Background(), token); err != nil {
			t.Errorf("the job's KQI_TOKEN does not answer while it is submitted: %v", err)
		}
		return errors.New("slurm: submit: Invalid job option (refused)")
	}
	j, err := svc.Submit(ctx, who, jobs.Training, jobs.Request{Name: "refused", DatasetID: ds, Command: "true", CPU: 1, MemoryGB: 1})
	if err != nil {
		t.Fatal(err)
	}
	if j.Status != string(slurm.StatusError) || j.Reason != slurm.CauseSubmitFailed || !strings.Contains(j.ReasonArg, "Invalid job option") {
		t.Fatalf("job %s (%s %q), want error submit_failed with Slurm's message", j.Status, j.Reason, j.ReasonArg)
	}
	if token == "" {
		t.Fatal("the job had no KQI_TOKEN in its secrets file")
	}
	if _, err := os.Stat(secretsPath); !os.IsNotExist(err) {
		t.Errorf("secrets file still there after a refused submit (%v)", err)
	}
	if _, err := svc.Store.APITokenByValue(ctx, token); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("the job's KQI_TOKEN still answers after a refused submit: %v", err)
	}
}

// A row left submitting by a crash, with no Slurm job, becomes an error
// after the grace period and loses its secrets too.
func TestInterruptedSubmitLeavesNoSecrets(t *testing.T) {
	svc, fake, who, ds, db := fakeEnv(t)
	ctx := context.Background()
	// The portal "crashes" right after writing the secrets: the submit
	// never reaches Slurm and the row stays submitting.
	var secretsPath string
	fake.OnSubmit = func(script string, spec slurm.JobSpec) error {
		secretsPath = filepath.Join(spec.JobDir, slurm.SecretsFile)
		return nil
	}
	j, err := svc.Submit(ctx, who, jobs.Training, jobs.Request{Name: "crash", DatasetID: ds, Command: "true", CPU: 1, MemoryGB: 1})
	if err != nil {
		t.Fatal(err)
	}
	// Undo what the submit recorded, as if it had never come back.
	if _, err := os.Stat(secretsPath); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `UPDATE jobs SET status = 'submitting', slurm_job_id = '', queued_at = NULL WHERE id = $1`, j.ID); err != nil {
		t.Fatal(err)
	}
	fake.Set(j.SlurmJobID, func(i *slurm.JobInfo) { i.Comment = "gone" }) // Slurm never had it
	svc.Now = func() time.Time { return time.Now().Add(2 * time.Minute) }
	if err := svc.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := svc.Store.JobByID(ctx, who.TenantID, j.ID)
	if got.Status != string(slurm.StatusError) || got.Reason != slurm.CauseSubmitInterrupted {
		t.Fatalf("job %s (%s), want error submit_interrupted", got.Status, got.Reason)
	}
	if _, err := os.Stat(secretsPath); !os.IsNotExist(err) {
		t.Errorf("secrets file still there after an interrupted submit (%v)", err)
	}
}

// An upload of attachments that fails midway (a name refused) takes back
// the files it already wrote.
func TestAttachmentsAllOrNothing(t *testing.T) {
	svc, _, who, ds, _ := fakeEnv(t)
	ctx := context.Background()
	j, err := svc.Submit(ctx, who, jobs.Training, jobs.Request{Name: "att", DatasetID: ds, Command: "true", CPU: 1, MemoryGB: 1})
	if err != nil {
		t.Fatal(err)
	}
	upload := func(names ...string) *transfer.Form {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		for _, n := range names {
			w, _ := mw.CreateFormFile("file", n)
			io.WriteString(w, "content of "+n)
		}
		mw.Close()
		form, err := transfer.NewForm(&body, mw.Boundary())
		if err != nil {
			t.Fatal(err)
		}
		return form
	}
	err = svc.AddAttachments(ctx, j, upload("good.txt", "../evil.txt"))
	if r, ok := refusal.Of(err); !ok || r.Fields[0].Key != "training.bad_attachment_name" {
		t.Fatalf("bad name: %v", err)
	}
	if list, _ := svc.Attachments(ctx, j); len(list) != 0 {
		t.Fatalf("a failed upload left %+v", list)
	}
	if err := svc.AddAttachments(ctx, j, upload("a.txt", "b.txt")); err != nil {
		t.Fatal(err)
	}
	if list, _ := svc.Attachments(ctx, j); len(list) != 2 {
		t.Fatalf("attachments %+v, want a.txt and b.txt", list)
	}
}

// slurmrestd answering slower than a poll tick: the reconcile adopts the
// job from its comment while the submit still waits for Slurm's answer.
// The submitter must take that as success, not cancel its own job.
func TestSlowSubmitAndReconcileAgree(t *testing.T) {
	svc, fake, who, ds, _ := fakeEnv(t)
	ctx := context.Background()
	fake.Accepted = func(id string) error { return svc.Poll(ctx) } // a poll tick while the answer is on its way
	j, err := svc.Submit(ctx, who, jobs.Training, jobs.Request{Name: "slow", DatasetID: ds, Command: "true", CPU: 1, MemoryGB: 1})
	if err != nil {
		t.Fatal(err)
	}
	if j.Status != string(slurm.StatusQueued) || j.SlurmJobID == "" {
		t.Fatalf("job %s (%s %s) slurm job %q, want queued", j.Status, j.Reason, j.ReasonArg, j.SlurmJobID)
	}
	if fj, _ := fake.Job(j.SlurmJobID); fj.Info.State != "PENDING" {
		t.Fatalf("KQI cancelled its own job: %s", fj.Info.State)
	}
}

// A database error right after Slurm accepted the job: the job is kept,
// the row stays submitting (never error beside a live job), and the next
// poll adopts it.
func TestDatabaseErrorAfterSlurmAcceptedKeepsTheJob(t *testing.T) {
	svc, fake, who, ds, db := fakeEnv(t)
	ctx := context.Background()
	exec := func(q string) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	// Recording the job fails while Slurm's answer arrives.
	exec(`CREATE FUNCTION refuse_queued() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'database unavailable'; END $$`)
	exec(`CREATE TRIGGER refuse_queued BEFORE UPDATE ON jobs FOR EACH ROW WHEN (NEW.slurm_job_id <> '') EXECUTE FUNCTION refuse_queued()`)
	j, err := svc.Submit(ctx, who, jobs.Training, jobs.Request{Name: "dbdown", DatasetID: ds, Command: "true", CPU: 1, MemoryGB: 1})
	if err != nil {
		t.Fatal(err)
	}
	if j.Status != string(slurm.StatusSubmitting) {
		t.Fatalf("job %s (%s %s), want still submitting", j.Status, j.Reason, j.ReasonArg)
	}
	exec(`DROP TRIGGER refuse_queued ON jobs`)
	if err := svc.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := svc.Store.JobByID(ctx, who.TenantID, j.ID)
	if got.Status != string(slurm.StatusQueued) || got.SlurmJobID == "" {
		t.Fatalf("after the database is back: %s (%s) job %q, want queued", got.Status, got.Reason, got.SlurmJobID)
	}
	if fj, _ := fake.Job(got.SlurmJobID); fj.Info.State != "PENDING" {
		t.Fatalf("the job was cancelled: %s", fj.Info.State)
	}
}
