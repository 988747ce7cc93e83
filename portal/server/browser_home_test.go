package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"kqi/portal/jobs"
	"kqi/portal/portaltest"
	"kqi/storage"
)

// The home page, left open, shows a training submitted to the dev cluster
// run, and the tenant's quota bars fill as it starts, without a reload.
func TestBrowserHomeFollowsARunningJob(t *testing.T) {
	env := portaltest.New(t, portaltest.WithCluster)
	lab := env.Tenant(t, "vision")
	u := env.User(t, "alice", "correct-horse-9", false, "vision")
	ctx0 := context.Background()
	cpu, mem := 4, 8
	if err := env.Store.SetTenantQuota(ctx0, lab.ID, &cpu, &mem, nil); err != nil {
		t.Fatal(err)
	}
	dsID, err := env.Store.CreateDataset(ctx0, storage.NewDataset{TenantID: lab.ID, Name: "mnist"})
	if err != nil {
		t.Fatal(err)
	}
	pollCtx, stopPoll := context.WithCancel(ctx0)
	defer stopPoll()
	go env.Jobs.Run(pollCtx, 300*time.Millisecond)

	browser := portaltest.Chrome(t)
	ctx, cancel := context.WithTimeout(browser, 2*time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, logIn(env, "alice", "correct-horse-9"), chromedp.WaitVisible("#home-no-active")); err != nil {
		t.Fatalf("home: %v", err)
	}
	used := func() string {
		v, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector('[data-quota="home.quota_cpu"] meter') || {}).value + ""`))
		return v
	}
	if got := used(); got != "0" {
		t.Fatalf("CPU bar before the job: %q", got)
	}
	free, _ := chromedp.Run(ctx, chromedp.Text(`[data-partition="gpu-a100"] .free-gpus`))
	if strings.TrimSpace(free) == "" {
		t.Fatal("no free GPU count for the GPU partition")
	}

	tr, err := env.Jobs.Submit(ctx0, jobs.Actor{TenantID: lab.ID, UserID: u.ID}, jobs.Training,
		jobs.Request{Name: "long-run", DatasetID: dsID, CPU: 2, MemoryGB: 1, Partition: "cpu", Command: "sleep 120"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.Jobs.Cluster.Cancel(context.Background(), tr.SlurmJobID) })
	row := fmt.Sprintf(`#home-active-table tr[data-id="%d"]`, tr.ID)
	deadline := time.Now().Add(90 * time.Second)
	for {
		status, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector('`+row+` .status') || {}).className || ""`))
		if strings.Contains(status, "status-running") && used() == "2" {
			break
		}
		if time.Now().After(deadline) {
			portaltest.Screenshot(t, ctx, "home-not-running")
			t.Fatalf("home never showed the job running with 2 CPUs in use (status %q, bar %q)", status, used())
		}
		time.Sleep(500 * time.Millisecond)
	}
	text, _ := chromedp.Run(ctx, chromedp.Text(row))
	if !strings.Contains(text, "long-run") || !strings.Contains(text, "running for ") {
		t.Fatalf("the row reads %q", text)
	}
	portaltest.DocScreenshot(t, ctx, "home")
	if err := chromedp.Do(ctx, chromedp.Click(row+" a"), chromedp.WaitVisible("#training-status")); err != nil {
		t.Fatalf("the row's link: %v", err)
	}
}
