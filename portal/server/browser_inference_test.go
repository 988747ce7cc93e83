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

// From a completed training's page a person runs an inference on the dev
// cluster: Run inference opens the form with the training as parent and
// its settings, they name it and change the command, submit, watch it
// complete and find its output value in the inference list.
func TestBrowserRunInferenceFromATraining(t *testing.T) {
	env := portaltest.New(t, portaltest.WithCluster)
	lab := env.Tenant(t, "vision")
	u := env.User(t, "alice", "correct-horse-9", false, "vision")
	ctx0 := context.Background()
	dsID, err := env.Store.CreateDataset(ctx0, storage.NewDataset{TenantID: lab.ID, Name: "empty"})
	if err != nil {
		t.Fatal(err)
	}
	pollCtx, stopPoll := context.WithCancel(ctx0)
	defer stopPoll()
	go env.Jobs.Run(pollCtx, 300*time.Millisecond)
	tr, err := env.Jobs.Submit(ctx0, jobs.Actor{TenantID: lab.ID, UserID: u.ID}, jobs.Training,
		jobs.Request{Name: "model", DatasetID: dsID, CPU: 1, MemoryGB: 1, Partition: "cpu", Command: "echo 0.75 > /kqi/output/score.txt"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.Jobs.Cluster.Cancel(context.Background(), tr.SlurmJobID) })
	deadline := time.Now().Add(90 * time.Second)
	for {
		got, err := env.Store.JobByID(ctx0, lab.ID, tr.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status == "completed" {
			break
		}
		if !got.Active() || time.Now().After(deadline) {
			t.Fatalf("training %s (%s)", got.Status, got.Reason)
		}
		time.Sleep(300 * time.Millisecond)
	}

	browser := portaltest.Chrome(t)
	ctx, cancel := context.WithTimeout(browser, 2*time.Minute)
	defer cancel()
	err = chromedp.Do(ctx,
		logIn(env, "alice", "correct-horse-9"),
		chromedp.Navigate(fmt.Sprintf("%s/trainings/%d", env.URL, tr.ID)),
		chromedp.WaitVisible("#training-run-inference"),
		chromedp.Click("#training-run-inference"),
		chromedp.WaitVisible("#inference-form"),
	)
	if err != nil {
		t.Fatalf("Run inference: %v", err)
	}
	chosen, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
		`Array.from(document.getElementById("inference-parents").selectedOptions).map(o => o.value)`))
	if err != nil || fmt.Sprint(chosen) != fmt.Sprintf("[%d]", tr.ID) {
		t.Fatalf("parents chosen %v (%v), want the training", chosen, err)
	}
	command, _ := chromedp.Run(ctx, chromedp.Value("#inference-command"))
	if command != "echo 0.75 > /kqi/output/score.txt" {
		t.Fatalf("the form's command %q is not the training's", command)
	}
	err = chromedp.Do(ctx,
		chromedp.SendKeys("#inference-name", "eval"),
		chromedp.SetValue("#inference-command", `cp /kqi/parent/score.txt /kqi/output/value.txt && echo "scored $INFERENCE_ID"`),
	)
	if err != nil {
		t.Fatalf("fill the form: %v", err)
	}
	portaltest.Screenshot(t, ctx, "inference-form")
	if err := chromedp.Do(ctx, chromedp.Click("#inference-submit"), chromedp.WaitVisible("#inference-status")); err != nil {
		t.Fatalf("submit: %v", err)
	}
	// The page follows the job and reloads itself when it ends; a check
	// that races the reload is simply retried.
	deadline = time.Now().Add(90 * time.Second)
	for {
		class, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.getElementById("inference-status") || {}).className || ""`))
		if err == nil && strings.Contains(class, "status-completed") {
			break
		}
		if time.Now().After(deadline) {
			portaltest.Screenshot(t, ctx, "inference-not-completed")
			t.Fatalf("status never reached completed (class %q, %v)", class, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	portaltest.DocScreenshot(t, ctx, "inference")
	if v, err := chromedp.Run(ctx, chromedp.Text("#inference-value")); err != nil || strings.TrimSpace(v) != "0.75" {
		t.Fatalf("the inference page shows value %q (%v)", v, err)
	}
	if log, _ := chromedp.Run(ctx, chromedp.Text("#inference-log")); !strings.Contains(log, "scored ") {
		t.Fatalf("log on the page: %q", log)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(env.URL+"/inferences"), chromedp.WaitVisible("#inference-table")); err != nil {
		t.Fatal(err)
	}
	portaltest.DocScreenshot(t, ctx, "inference-list")
	row, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll("#inference-table tbody tr[data-id]")).map(r => r.querySelector(".inference-name").textContent + "=" + r.querySelector("td.value").textContent)`))
	if err != nil || fmt.Sprint(row) != "[eval=0.75]" {
		t.Fatalf("the list shows %v (%v), want eval with its value", row, err)
	}
}
