package storage_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"kqi/storage"
	"kqi/storage/storagetest"
)

func TestMigrateIsIdempotent(t *testing.T) {
	st, _ := storagetest.NewStore(t)
	ctx := context.Background()
	v, err := st.SchemaVersion(ctx)
	if err != nil || v != storage.LatestSchemaVersion() || v < 1 {
		t.Fatalf("version %d (want %d), %v", v, storage.LatestSchemaVersion(), err)
	}
	n, err := st.Migrate(ctx)
	if err != nil || n != 0 {
		t.Fatalf("second migrate applied %d, %v", n, err)
	}
}

func TestTenantsUsersMemberships(t *testing.T) {
	st, _ := storagetest.NewStore(t)
	ctx := context.Background()
	a, err := st.CreateTenant(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateTenant(ctx, "a"); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("duplicate tenant: %v", err)
	}
	b, _ := st.CreateTenant(ctx, "b")
	u, err := st.CreateUser(ctx, storage.NewUser{Username: "alice", PasswordHash: "x"}, storage.TenantRole{TenantID: b.ID, Role: storage.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	if u.DefaultTenantID == nil || *u.DefaultTenantID != b.ID {
		t.Fatalf("default tenant %v", u.DefaultTenantID)
	}
	if _, err := st.CreateUser(ctx, storage.NewUser{Username: "alice", PasswordHash: "y"}); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("duplicate user: %v", err)
	}
	// A failed membership rolls the user back.
	if _, err := st.CreateUser(ctx, storage.NewUser{Username: "bob", PasswordHash: "x"}, storage.TenantRole{TenantID: 999999, Role: storage.RoleUser}); err == nil {
		t.Fatal("user with a missing tenant created")
	}
	if _, err := st.UserByName(ctx, "bob"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("half-made user left behind: %v", err)
	}
	if err := st.AddMembership(ctx, u.ID, a.ID, storage.RoleUser); err != nil {
		t.Fatal(err)
	}
	ms, err := st.MembershipsOfUser(ctx, u.ID)
	if err != nil || len(ms) != 2 || ms[0].Tenant.Name != "a" || ms[1].Role != storage.RoleAdmin {
		t.Fatalf("memberships %+v %v", ms, err)
	}
	if _, err := st.Membership(ctx, u.ID, 999999); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("membership of a missing tenant: %v", err)
	}
	if got, err := st.TenantByRef(ctx, "b"); err != nil || got.ID != b.ID {
		t.Fatalf("by name: %v %v", got, err)
	}
	if _, err := st.TenantByRef(ctx, "nope"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("unknown ref: %v", err)
	}
}

func TestSessionsExpireAndEndWithPasswordChange(t *testing.T) {
	st, _ := storagetest.NewStore(t)
	ctx := context.Background()
	u, _ := st.CreateUser(ctx, storage.NewUser{Username: "alice", PasswordHash: "x"})
	live := storage.Session{UserID: u.ID, ExpiresAt: time.Now().Add(time.Hour)}
	if err := st.CreateSession(ctx, "s-live", live); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateSession(ctx, "s-other", live); err != nil {
		t.Fatal(err)
	}
	dead := live
	dead.ExpiresAt = time.Now().Add(-time.Second)
	if err := st.CreateSession(ctx, "s-dead", dead); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SessionByID(ctx, "s-dead", time.Now()); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("expired session found: %v", err)
	}
	if s, err := st.SessionByID(ctx, "s-live", time.Now()); err != nil || s.UserID != u.ID {
		t.Fatalf("live session: %v %v", s, err)
	}
	if _, err := st.SessionByID(ctx, "s-live", time.Now().Add(2*time.Hour)); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("session found past its expiry by the caller's clock: %v", err)
	}
	if n, err := st.DeleteExpired(ctx); err != nil || n != 1 {
		t.Fatalf("swept %d, %v", n, err)
	}
	if err := st.SetPassword(ctx, u.ID, "new", storage.SessionKey("s-live")); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SessionByID(ctx, "s-live", time.Now()); err != nil {
		t.Fatalf("the kept session ended: %v", err)
	}
	if _, err := st.SessionByID(ctx, "s-other", time.Now()); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("another session survived the password change: %v", err)
	}
}

// Slurm reports whole seconds, cut down; a job that starts at once must not
// seem to start before the portal queued it.
func TestTrainingTimesStayInOrder(t *testing.T) {
	st, _ := storagetest.NewStore(t)
	ctx := context.Background()
	tenant, err := st.CreateTenant(ctx, "times")
	if err != nil {
		t.Fatal(err)
	}
	id, err := st.NextDataID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateData(ctx, storage.NewData{ID: id, TenantID: tenant.ID, Name: "d", Files: []storage.NewFile{{Name: "f", Size: 1}}}); err != nil {
		t.Fatal(err)
	}
	ds, err := st.CreateDataset(ctx, storage.NewDataset{TenantID: tenant.ID, Name: "s", Entries: []storage.Entry{{DataID: id, Area: "training"}}})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := st.CreateJob(ctx, storage.NewJob{TenantID: tenant.ID, Kind: "training", Name: "t", DatasetID: ds,
		Command: "true", CPU: 1, MemoryGB: 1, Partition: "cpu"})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := st.SetJobQueued(ctx, tr.ID, "1"); !ok || err != nil {
		t.Fatalf("queued: %v %v", ok, err)
	}
	queued, err := st.JobByID(ctx, tenant.ID, tr.ID)
	if err != nil {
		t.Fatal(err)
	}
	early := queued.QueuedAt.Add(-900 * time.Millisecond).Truncate(time.Second)
	if err := st.UpdateJobState(ctx, tr.ID, storage.JobState{Status: "running", StartedAt: &early}); err != nil {
		t.Fatal(err)
	}
	if err := st.UpdateJobState(ctx, tr.ID, storage.JobState{Status: "completed", EndedAt: &early}); err != nil {
		t.Fatal(err)
	}
	got, err := st.JobByID(ctx, tenant.ID, tr.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.StartedAt == nil || got.StartedAt.Before(*got.QueuedAt) {
		t.Fatalf("started %v before queued %v", got.StartedAt, got.QueuedAt)
	}
	if got.EndedAt == nil || got.EndedAt.Before(*got.StartedAt) {
		t.Fatalf("ended %v before started %v", got.EndedAt, got.StartedAt)
	}
	// A later start Slurm reports is kept as it is.
	later := got.StartedAt.Add(5 * time.Second)
	tr2, err := st.CreateJob(ctx, storage.NewJob{TenantID: tenant.ID, Kind: "training", Name: "t2", DatasetID: ds,
		Command: "true", CPU: 1, MemoryGB: 1, Partition: "cpu"})
	if err != nil {
		t.Fatal(err)
	}
	st.SetJobQueued(ctx, tr2.ID, "2")
	if err := st.UpdateJobState(ctx, tr2.ID, storage.JobState{Status: "running", StartedAt: &later}); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.JobByID(ctx, tenant.ID, tr2.ID); got.StartedAt == nil || !got.StartedAt.Equal(later) {
		t.Fatalf("started %v, want %v", got.StartedAt, later)
	}
}

// Start-up errors reach logs: a bad connection URL is never quoted with
// its password.
func TestOpenErrorHidesThePassword(t *testing.T) {
	for _, u := range []string{"postgres://kqi:s3cret@local host/kqi", "postgres://kqi:s3cret@127.0.0.1:1/kqi%zz"} {
		_, err := storage.Open(context.Background(), u)
		if err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Open(%s): %v", storage.RedactURL(u), err)
		}
	}
}
