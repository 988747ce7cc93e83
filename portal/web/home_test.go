package web_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"kqi/portal/portaltest"
	"kqi/slurm"
	"kqi/storage"
)

// homeJob records a training of user in tenant and moves it to status.
func homeJob(t *testing.T, env *portaltest.Env, tenantID, userID int64, name, status, reason string) *storage.Job {
	t.Helper()
	ctx := context.Background()
	j, err := env.Store.CreateJob(ctx, storage.NewJob{TenantID: tenantID, Kind: "training", Name: name, Image: slurm.HostImage,
		Command: "true", CPU: 2, MemoryGB: 3, GPU: 1, Partition: "gpu-a100", CreatedBy: userID})
	if err != nil {
		t.Fatal(err)
	}
	if status == "submitting" {
		return j
	}
	if _, err := env.Store.SetJobQueued(ctx, j.ID, fmt.Sprint(j.ID)); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	st := storage.JobState{Status: status, Reason: reason}
	switch status {
	case "running":
		st.StartedAt = &now
	case "completed", "failed", "killed", "error":
		st.StartedAt, st.EndedAt = &now, &now
	}
	if status != "queued" || reason != "" {
		if err := env.Store.UpdateJobState(ctx, j.ID, st); err != nil {
			t.Fatal(err)
		}
	}
	return j
}

func TestHomeStates(t *testing.T) {
	ctx := context.Background()
	t.Run("no-tenant", func(t *testing.T) {
		env := portaltest.New(t)
		env.User(t, "alice", pw, false)
		b := env.Browser(t)
		b.Login("alice", pw)
		p := b.Get("/")
		if p.Status != http.StatusOK || !strings.Contains(p.Body, "not a member of any tenant") || strings.Contains(p.Body, "home-live") {
			t.Fatalf("status %d:\n%s", p.Status, p.Body)
		}
		if p := b.Get("/home/live"); p.Status != http.StatusNoContent || p.Body != "" {
			t.Fatalf("live part without a tenant: %d %s", p.Status, p.Body)
		}
	})
	t.Run("empty", func(t *testing.T) {
		env := portaltest.New(t)
		env.Tenant(t, "lab")
		env.User(t, "alice", pw, false, "lab")
		b := env.Browser(t)
		b.Login("alice", pw)
		p := b.Get("/")
		for _, want := range []string{`id="home-no-active"`, "No data yet.", "No datasets yet.", "None of your jobs has ended yet.",
			`data-partition="gpu-a100"`, "8 CPUs, 16.384 GB, 4× a100", `class="num free-gpus">4<`, "0 (no limit)"} {
			if !strings.Contains(p.Body, want) {
				t.Errorf("empty home lacks %q", want)
			}
		}
		if strings.Contains(p.Body, "<meter") {
			t.Error("a bar without a quota")
		}
	})
	t.Run("busy", func(t *testing.T) {
		env := portaltest.New(t)
		lab := env.Tenant(t, "lab")
		other := env.Tenant(t, "other")
		alice := env.User(t, "alice", pw, false, "lab")
		bob := env.User(t, "bob", pw, false, "lab", "other")
		sub := homeJob(t, env, lab.ID, alice.ID, "sub-job", "submitting", "")
		q := homeJob(t, env, lab.ID, alice.ID, "queued-job", "queued", "resources")
		run := homeJob(t, env, lab.ID, alice.ID, "running-job", "running", "")
		done := homeJob(t, env, lab.ID, alice.ID, "done-job", "failed", "exit_code")
		homeJob(t, env, lab.ID, bob.ID, "bobs-job", "running", "")
		homeJob(t, env, other.ID, bob.ID, "other-tenant-job", "running", "")
		// Limits lowered under the use: the bars show it.
		cpu, gpu := 4, 1
		if err := env.Store.SetTenantQuota(ctx, lab.ID, &cpu, nil, &gpu); err != nil {
			t.Fatal(err)
		}
		id, _ := env.Store.NextDataID(ctx)
		if err := env.Store.CreateData(ctx, storage.NewData{ID: id, TenantID: lab.ID, Name: "raw-images", CreatedBy: alice.ID}); err != nil {
			t.Fatal(err)
		}
		if _, err := env.Store.CreateDataset(ctx, storage.NewDataset{TenantID: lab.ID, Name: "mnist-split"}); err != nil {
			t.Fatal(err)
		}
		b := env.Browser(t)
		b.Login("alice", pw)
		p := b.Get("/")
		for _, want := range []string{
			fmt.Sprintf(`href="/trainings/%d">sub-job<`, sub.ID), fmt.Sprintf(`href="/trainings/%d">queued-job<`, q.ID),
			fmt.Sprintf(`href="/trainings/%d">running-job<`, run.ID), fmt.Sprintf(`href="/trainings/%d">training #%d done-job<`, done.ID, done.ID),
			"status status-running", "status status-queued", "status status-submitting", "running for ", "waiting for ",
			// Every active job of the tenant counts, bob's too: 4 × 2 CPUs, 4 GPUs.
			`max="4" value="8"`, `class="over"`, "8 of 4", `max="1" value="4"`, "12 (no limit)",
			"raw-images", "mnist-split",
		} {
			if !strings.Contains(p.Body, want) {
				t.Errorf("home lacks %q", want)
			}
		}
		for _, leak := range []string{"bobs-job", "other-tenant-job"} {
			if strings.Contains(p.Body, leak) {
				t.Errorf("home shows %s", leak)
			}
		}
		live := b.Get("/home/live")
		if live.Status != http.StatusOK || !strings.Contains(live.Body, "running-job") || strings.Contains(live.Body, "<html") || strings.Contains(live.Body, "raw-images") {
			t.Fatalf("live part %d:\n%s", live.Status, live.Body)
		}
	})
	t.Run("cluster-down", func(t *testing.T) {
		env := portaltest.New(t)
		env.Tenant(t, "lab")
		env.User(t, "alice", pw, false, "lab")
		env.Fake.PartitionsErr = errors.New("connection refused")
		b := env.Browser(t)
		b.Login("alice", pw)
		p := b.Get("/")
		if p.Status != http.StatusOK || !strings.Contains(p.Body, `id="home-partitions-error"`) || !strings.Contains(p.Body, `id="home-no-active"`) {
			t.Fatalf("status %d:\n%s", p.Status, p.Body)
		}
	})
	t.Run("japanese", func(t *testing.T) {
		env := portaltest.New(t)
		lab := env.Tenant(t, "lab")
		alice := env.User(t, "alice", pw, false, "lab")
		if err := env.Store.SetLanguage(ctx, alice.ID, "ja"); err != nil {
			t.Fatal(err)
		}
		homeJob(t, env, lab.ID, alice.ID, "running-job", "running", "")
		b := env.Browser(t)
		b.Login("alice", pw)
		p := b.Get("/")
		for _, want := range []string{"実行中・待機中の自分のジョブ", "クラスタの現況", "上限なし"} {
			if !strings.Contains(p.Body, want) {
				t.Errorf("Japanese home lacks %q", want)
			}
		}
	})
}

// A tenant switch stays in the section it was made from; from one thing's
// page (not the other tenant's) it lands on that section's list; anything
// else goes home.
func TestTenantSwitchKeepsTheSection(t *testing.T) {
	env := portaltest.New(t)
	env.Tenant(t, "lab")
	other := env.Tenant(t, "other")
	env.User(t, "alice", pw, false, "lab", "other")
	b := env.Browser(t)
	b.Login("alice", pw)
	if p := b.Get("/trainings"); !strings.Contains(p.Body, `name="back" value="trainings"`) {
		t.Fatal("the switch form does not say where it was made")
	}
	for back, want := range map[string]string{"trainings": "/trainings", "data": "/data", "home": "/", "https://evil.example": "/", "adminUsers": "/"} {
		p := b.Submit("/", "/tenant", map[string][]string{"tenant_id": {fmt.Sprint(other.ID)}, "back": {back}})
		if p.Status != http.StatusSeeOther || p.Location != want {
			t.Errorf("switch from %q: %d to %q, want %q", back, p.Status, p.Location, want)
		}
	}
}
