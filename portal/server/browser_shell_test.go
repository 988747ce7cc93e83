package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"kqi/portal/jobs"
	"kqi/portal/portaltest"
	"kqi/slurm"
	"kqi/storage"
)

// A person opens the Shell of a running training on the dev cluster,
// types in the page's terminal and reads the container's answer there;
// when the job ends, the terminal says so.
func TestBrowserShell(t *testing.T) {
	env := portaltest.New(t, portaltest.WithCluster, portaltest.WithShell)
	lab := env.Tenant(t, "vision")
	u := env.User(t, "alice", "correct-horse-9", false, "vision")
	ctx0 := context.Background()
	dsID, err := env.Store.CreateDataset(ctx0, storage.NewDataset{TenantID: lab.ID, Name: "empty"})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := env.Jobs.Submit(ctx0, jobs.Actor{TenantID: lab.ID, UserID: u.ID}, jobs.Training, jobs.Request{Name: "shell", DatasetID: dsID, CPU: 1, MemoryGB: 1,
		Command: `for i in $(seq 900); do [ -e /kqi/output/stop ] && break; sleep 0.2; done`})
	if err != nil {
		t.Fatal(err)
	}
	stop := func() { env.Files.Put(context.Background(), tr.JobDir+"/output/stop", strings.NewReader("")) }
	t.Cleanup(stop)
	pollCtx, stopPoll := context.WithCancel(ctx0)
	defer stopPoll()
	go env.Jobs.Run(pollCtx, 300*time.Millisecond)
	deadline := time.Now().Add(90 * time.Second)
	for {
		got, _ := env.Store.JobByID(ctx0, lab.ID, tr.ID)
		if _, err := env.Files.Stat(ctx0, tr.JobDir+"/"+slurm.ContainerFile); err == nil && got.Status == string(slurm.StatusRunning) {
			break
		}
		if time.Now().After(deadline) || !got.Active() {
			t.Fatalf("the training's container did not start: %s", got.Status)
		}
		time.Sleep(300 * time.Millisecond)
	}

	browser := portaltest.Chrome(t)
	ctx, cancel := context.WithTimeout(browser, 2*time.Minute)
	defer cancel()
	rows := `Array.from(document.querySelectorAll(".xterm-rows > div")).map(d => d.textContent.trim())`
	waitFor := func(what string, ok func([]string) bool) []string {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			lines, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](rows))
			if err == nil && ok(lines) {
				return lines
			}
			if time.Now().After(deadline) {
				portaltest.Screenshot(t, ctx, "shell-"+strings.ReplaceAll(what, " ", "-"))
				t.Fatalf("the terminal never showed %s: %q (%v)", what, lines, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	err = chromedp.Do(ctx,
		logIn(env, "alice", "correct-horse-9"),
		chromedp.Navigate(fmt.Sprintf("%s/trainings/%d", env.URL, tr.ID)),
		chromedp.Click("#training-shell"),
		chromedp.WaitVisible("#terminal .xterm"),
	)
	if err != nil {
		t.Fatalf("open the shell: %v", err)
	}
	waitFor("a prompt", func(l []string) bool {
		for _, line := range l {
			if strings.HasSuffix(line, "#") {
				return true
			}
		}
		return false
	})
	// The text goes in as the browser inserts typed (or pasted) text, the
	// Enter as a key press: chromedp's synthesized key events for letters
	// reach xterm.js twice (a keydown and a char event, which a real
	// keyboard does not send that way).
	if err := chromedp.Do(ctx,
		chromedp.Focus("#terminal .xterm-helper-textarea"),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := cdp.Call(ctx, t, input.InsertText, input.InsertTextParams{Text: "echo $TRAINING_ID"})
			return err
		}),
		chromedp.KeyEvent("\r"),
	); err != nil {
		t.Fatal(err)
	}
	waitFor("the training's id", func(l []string) bool {
		for _, line := range l {
			if line == fmt.Sprint(tr.ID) {
				return true
			}
		}
		return false
	})
	portaltest.Screenshot(t, ctx, "shell")
	// The theme reaches the terminal under the CSP (no inline styles).
	if color, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector(".xterm-rows")).color`)); err != nil || color != "rgb(255, 255, 255)" {
		t.Errorf("terminal text colour %q (%v), want white on black", color, err)
	}

	stop()
	deadline = time.Now().Add(90 * time.Second)
	for {
		msg, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(function(){var m=document.getElementById("shell-message"); return m && !m.hidden ? m.textContent : ""})()`))
		if err == nil && msg != "" {
			if !strings.Contains(msg, "ended") {
				t.Errorf("when the job ended the terminal said %q", msg)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the terminal did not say the shell ended")
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// The Shell button appears on an open job page when the job starts,
// without a reload, and is not offered while it waits.
func TestBrowserShellButtonFollowsTheJob(t *testing.T) {
	env := portaltest.New(t)
	lab := env.Tenant(t, "vision")
	u := env.User(t, "alice", "correct-horse-9", false, "vision")
	ctx0 := context.Background()
	dsID, _ := env.Store.CreateDataset(ctx0, storage.NewDataset{TenantID: lab.ID, Name: "empty"})
	tr, err := env.Jobs.Submit(ctx0, jobs.Actor{TenantID: lab.ID, UserID: u.ID}, jobs.Training, jobs.Request{Name: "waits", DatasetID: dsID, CPU: 1, MemoryGB: 1, Command: "true"})
	if err != nil {
		t.Fatal(err)
	}
	browser := portaltest.Chrome(t)
	ctx, cancel := context.WithTimeout(browser, 60*time.Second)
	defer cancel()
	visible := `(function(){var b=document.getElementById("training-shell"); return !!b && b.offsetParent !== null})()`
	err = chromedp.Do(ctx,
		logIn(env, "alice", "correct-horse-9"),
		chromedp.Navigate(fmt.Sprintf("%s/trainings/%d", env.URL, tr.ID)),
		chromedp.WaitVisible("#training-status"),
		chromedp.Evaluate[chromedp.Void](`window.notReloaded = true`),
	)
	if err != nil {
		t.Fatal(err)
	}
	if shown, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](visible)); shown {
		t.Fatal("a queued job offers a shell")
	}
	env.Fake.Set(tr.SlurmJobID, func(i *slurm.JobInfo) { i.State = "RUNNING" })
	if err := env.Jobs.Poll(ctx0); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		shown, err := chromedp.Run(ctx, chromedp.Evaluate[bool](visible+` && window.notReloaded === true`))
		if err == nil && shown {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Shell button did not appear when the job started (%v)", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
