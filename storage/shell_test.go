package storage_test

import (
	"context"
	"errors"
	"testing"

	"kqi/storage"
	"kqi/storage/storagetest"
)

func TestSSHKeys(t *testing.T) {
	st, _ := storagetest.NewStore(t)
	ctx := context.Background()
	ann, _ := st.CreateUser(ctx, storage.NewUser{Username: "ann", PasswordHash: "x"})
	bob, _ := st.CreateUser(ctx, storage.NewUser{Username: "bob", PasswordHash: "x"})

	k, err := st.CreateSSHKey(ctx, ann.ID, "laptop", "ssh-ed25519 AAAA1", "SHA256:one")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateSSHKey(ctx, ann.ID, "laptop", "ssh-ed25519 AAAA2", "SHA256:two"); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("a second key of the same name: %v, want ErrConflict", err)
	}
	for _, who := range []int64{ann.ID, bob.ID} {
		if _, err := st.CreateSSHKey(ctx, who, "again", "ssh-ed25519 AAAA1", "SHA256:one"); !errors.Is(err, storage.ErrSSHKeyTaken) {
			t.Errorf("user %d registering a registered key: %v, want ErrSSHKeyTaken", who, err)
		}
	}
	if _, err := st.CreateSSHKey(ctx, bob.ID, "laptop", "ssh-ed25519 AAAA2", "SHA256:two"); err != nil {
		t.Errorf("another user's key of the same name: %v", err)
	}
	if keys, _ := st.SSHKeys(ctx, ann.ID); len(keys) != 1 || keys[0].Fingerprint != "SHA256:one" || keys[0].LastUsedAt != nil {
		t.Errorf("ann's keys: %+v", keys)
	}
	found, err := st.SSHKeyByFingerprint(ctx, "SHA256:one")
	if err != nil || found.UserID != ann.ID || found.LastUsedAt != nil {
		t.Errorf("SSHKeyByFingerprint: %+v, %v", found, err)
	}
	if err := st.UsedSSHKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	if used, _ := st.SSHKeyByFingerprint(ctx, "SHA256:one"); used.LastUsedAt == nil {
		t.Error("UsedSSHKey did not record the use")
	}
	if _, err := st.SSHKeyByFingerprint(ctx, "SHA256:none"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("an unknown key: %v", err)
	}
	if err := st.DeleteSSHKey(ctx, bob.ID, k.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("bob deleting ann's key: %v, want ErrNotFound", err)
	}
	if err := st.DeleteSSHKey(ctx, ann.ID, k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SSHKeyByFingerprint(ctx, "SHA256:one"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("a deleted key still logs in: %v", err)
	}
}

func TestShellSessions(t *testing.T) {
	st, _ := storagetest.NewStore(t)
	ctx := context.Background()
	lab, _ := st.CreateTenant(ctx, "lab")
	other, _ := st.CreateTenant(ctx, "other")
	ann, _ := st.CreateUser(ctx, storage.NewUser{Username: "ann", PasswordHash: "x"}, storage.TenantRole{TenantID: lab.ID, Role: storage.RoleUser})
	job, err := st.CreateJob(ctx, storage.NewJob{TenantID: lab.ID, Kind: "training", Name: "t", Image: "host", Command: "true", CPU: 1, MemoryGB: 1, Partition: "cpu"})
	if err != nil {
		t.Fatal(err)
	}
	foreign, _ := st.CreateJob(ctx, storage.NewJob{TenantID: other.ID, Kind: "training", Name: "f", Image: "host", Command: "true", CPU: 1, MemoryGB: 1, Partition: "cpu"})

	if j, err := st.JobOfMember(ctx, ann.ID, job.ID); err != nil || j.ID != job.ID {
		t.Errorf("JobOfMember of ann's tenant: %v, %v", j, err)
	}
	if _, err := st.JobOfMember(ctx, ann.ID, foreign.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("JobOfMember of another tenant's job: %v, want ErrNotFound", err)
	}

	n := storage.NewShellSession{TenantID: lab.ID, JobID: job.ID, UserID: ann.ID, Via: "ssh", RemoteAddr: "192.0.2.1:5555", Interactive: true}
	first, err := st.OpenShellSession(ctx, n, 2)
	if err != nil || first.Username != "ann" || first.EndedAt != nil {
		t.Fatalf("open: %+v, %v", first, err)
	}
	if _, err := st.OpenShellSession(ctx, n, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := st.OpenShellSession(ctx, n, 2); !errors.Is(err, storage.ErrShellLimit) {
		t.Errorf("a third open shell with a limit of 2: %v", err)
	}
	code := 3
	if err := st.EndShellSession(ctx, first.ID, &code, "exit"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.OpenShellSession(ctx, n, 2); err != nil {
		t.Errorf("a shell after one ended: %v", err)
	}
	if n, err := st.EndOpenShellSessions(ctx, "portal_stopped"); err != nil || n != 2 {
		t.Errorf("EndOpenShellSessions = %d, %v; want 2", n, err)
	}
	list, err := st.ShellSessions(ctx, lab.ID, job.ID, 10)
	if err != nil || len(list) != 3 {
		t.Fatalf("sessions: %d, %v", len(list), err)
	}
	last := list[len(list)-1]
	if last.ID != first.ID || last.ExitCode == nil || *last.ExitCode != 3 || last.EndReason != "exit" || last.EndedAt == nil || last.RemoteAddr != "192.0.2.1:5555" {
		t.Errorf("the first session reads %+v", last)
	}
	if list, _ := st.ShellSessions(ctx, other.ID, job.ID, 10); len(list) != 0 {
		t.Errorf("another tenant sees %d sessions of the job", len(list))
	}
}
