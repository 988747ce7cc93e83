package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"kqi/portal/data"
	"kqi/portal/portaltest"
	"kqi/storage"
)

// On the dev cluster, in Chromium: choosing the registered Git server
// lists its repositories (the list button, as without JavaScript);
// choosing the sample repository lists its branches and commits (kqi.js
// swaps them in); the training runs the older commit chosen, exactly, and
// its copy-run keeps it. An unknown branch is refused on the form with
// what was typed kept. The resource step shows the node and the quota
// left, refuses a request larger than any node and warns when one cannot
// start now.
func TestBrowserPickersRunTheChosenCommit(t *testing.T) {
	env := portaltest.New(t, portaltest.WithCluster)
	dg := portaltest.StartDevGit(t)
	lab := env.Tenant(t, "vision")
	u := env.User(t, "alice", "correct-horse-9", false, "vision")
	ctx0 := context.Background()
	zero := 0
	if err := env.Store.SetTenantQuota(ctx0, lab.ID, nil, nil, &zero); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Store.CreateGitServer(ctx0, "devgit", dg.URL); err != nil {
		t.Fatal(err)
	}
	id, _ := env.Store.NextDataID(ctx0)
	if _, err := env.Files.Put(ctx0, data.DataDir(lab.ID, id)+"/digits.csv", strings.NewReader("1,2,3\n")); err != nil {
		t.Fatal(err)
	}
	env.Store.CreateData(ctx0, storage.NewData{ID: id, TenantID: lab.ID, Name: "digits", CreatedBy: u.ID, Files: []storage.NewFile{{Name: "digits.csv", Size: 6}}})
	dsID, err := env.Store.CreateDataset(ctx0, storage.NewDataset{TenantID: lab.ID, Name: "digits-set", Entries: []storage.Entry{{DataID: id, Area: "training"}}})
	if err != nil {
		t.Fatal(err)
	}
	pollCtx, stopPoll := context.WithCancel(ctx0)
	defer stopPoll()
	go env.Jobs.Run(pollCtx, 300*time.Millisecond)

	browser := portaltest.Chrome(t)
	ctx, cancel := context.WithTimeout(browser, 3*time.Minute)
	defer cancel()
	value := func(sel string) string {
		v, err := chromedp.Run(ctx, chromedp.Value(sel))
		if err != nil {
			t.Fatalf("value of %s: %v", sel, err)
		}
		return v
	}
	options := func(sel string) string {
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`Array.from(document.querySelectorAll("`+sel+` option")).map(o => o.value).join(",")`))
		if err != nil {
			t.Fatalf("options of %s: %v", sel, err)
		}
		return v
	}
	// change sets a select's value and tells the page, as a person's choice would.
	change := func(sel, v string) chromedp.Action[chromedp.Void] {
		return chromedp.Steps(chromedp.SetValue(sel, v),
			chromedp.Evaluate[chromedp.Void](`document.querySelector("`+sel+`").dispatchEvent(new Event("change", {bubbles: true}))`))
	}
	// until waits for a script's condition; unlike WaitVisible it holds no
	// node of a page that a navigation replaces meanwhile.
	until := func(what, cond string) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](cond))
			if err == nil && ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: never (%v)", what, err)
			}
		}
	}
	type_ := func(sel, v string) chromedp.Action[chromedp.Void] {
		return chromedp.Steps(chromedp.SetValue(sel, v),
			chromedp.Evaluate[chromedp.Void](`document.querySelector("`+sel+`").dispatchEvent(new Event("input", {bubbles: true}))`))
	}

	err = chromedp.Do(ctx,
		logIn(env, "alice", "correct-horse-9"),
		chromedp.Navigate(env.URL+"/trainings/new"),
		chromedp.WaitVisible("#training-server"),
		chromedp.SendKeys("#training-name", "picked"),
		chromedp.SetValue("#training-dataset", fmt.Sprint(dsID)),
		chromedp.SetValue("#training-command", `git rev-parse HEAD > /kqi/output/head.txt && echo "commit $COMMIT_ID"`),
		chromedp.SetValue("#training-server", "devgit"),
		// The list button reloads the form with the server's repositories.
		chromedp.Evaluate[chromedp.Void](`document.getElementById("training-list-repos").click()`),
	)
	if err != nil {
		t.Fatalf("list repositories: %v", err)
	}
	until("the repositories listed", `document.querySelector("select#training-repo") !== null && document.readyState === "complete"`)
	if got := options("#training-repo"); got != ",devgit/public/empty.git,devgit/public/mnist.git" {
		t.Fatalf("repositories offered: %q", got)
	}
	if value("#training-name") != "picked" || !strings.Contains(value("#training-command"), "git rev-parse HEAD") {
		t.Fatal("the list button lost what was typed")
	}
	// Choosing the repository swaps in its branches and commits.
	if err := chromedp.Do(ctx, change("#training-repo", "devgit/public/mnist.git")); err != nil {
		t.Fatalf("choose the repository: %v", err)
	}
	until("the branches and commits swapped in", `document.querySelector("select#training-commit") !== null`)
	if got := options("#training-branch"); got != ",dev,main" {
		t.Errorf("branches offered: %q", got)
	}
	if got := options("#training-commit"); got != ","+dg.Newest+","+dg.Sample {
		t.Fatalf("commits offered: %q, want the newest %s and the sample's %s", got, dg.Newest, dg.Sample)
	}
	text, _ := chromedp.Run(ctx, chromedp.Text("#training-commit"))
	if !strings.Contains(text, "A newer commit on main — KQI test") {
		t.Errorf("commits without subject and author: %q", text)
	}
	if err := chromedp.Do(ctx, chromedp.SetValue("#training-commit", dg.Sample), chromedp.SetValue("#training-partition", "cpu"),
		type_("#training-form [name=cpu]", "1"), chromedp.WaitVisible("#training-node")); err != nil {
		t.Fatal(err)
	}
	node, _ := chromedp.Run(ctx, chromedp.Text("#training-resources"))
	if !strings.Contains(node, "Partition cpu: one node has") || !strings.Contains(node, "GPUs: 0 of 0") {
		t.Errorf("resource step: %q", node)
	}
	portaltest.Screenshot(t, ctx, "training-pickers")
	click := func(id string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`document.getElementById("`+id+`").click()`)); err != nil {
			t.Fatalf("click %s: %v", id, err)
		}
	}
	click("training-submit")
	until("the training's page", `document.getElementById("training-status") !== null`)
	jobsNow, _, err := env.Store.ListJobs(ctx0, lab.ID, storage.JobFilter{Kind: "training"})
	if err != nil || len(jobsNow) != 1 {
		t.Fatalf("trainings: %d, %v", len(jobsNow), err)
	}
	tr := jobsNow[0]
	if tr.GitCommit != dg.Sample || tr.GitRepository != "devgit/public/mnist.git" {
		t.Fatalf("recorded repository %q commit %q, want the sample's %s", tr.GitRepository, tr.GitCommit, dg.Sample)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		class, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.getElementById("training-status") || {}).className || ""`))
		if err == nil && strings.Contains(class, "status-completed") {
			break
		}
		if err == nil && (strings.Contains(class, "status-failed") || strings.Contains(class, "status-error")) {
			logText, _ := chromedp.Run(ctx, chromedp.Text("#training-log"))
			t.Fatalf("training ended %q:\n%s", class, logText)
		}
		if time.Now().After(deadline) {
			t.Fatalf("status never reached completed (class %q, %v)", class, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	head, err := chromedp.Run(ctx, chromedp.Evaluate[string](
		`fetch(document.querySelector("#output-table .output-link").href).then(r => r.text())`, chromedp.EvalAwaitPromise))
	if err != nil || strings.TrimSpace(head) != dg.Sample {
		t.Fatalf("the job ran %q (%v), want the chosen %s", head, err, dg.Sample)
	}

	// Copy-run: the form holds the same commit, chosen in the list.
	if err := chromedp.Do(ctx, chromedp.Navigate(fmt.Sprintf("%s/trainings/new?from=%d", env.URL, tr.ID)), chromedp.WaitVisible("select#training-commit")); err != nil {
		t.Fatal(err)
	}
	if got := value("#training-commit"); got != dg.Sample {
		t.Fatalf("copy-run's commit %q, want %s", got, dg.Sample)
	}

	// A branch the repository does not have, typed by hand: refused on the form, typed values kept.
	err = chromedp.Do(ctx,
		chromedp.Navigate(env.URL+"/trainings/new"),
		chromedp.WaitVisible("#training-name"),
		chromedp.SendKeys("#training-name", "typo"),
		chromedp.SetValue("#training-dataset", fmt.Sprint(dsID)),
		chromedp.SendKeys("#training-repo", dg.URL+"/public/mnist.git"),
		chromedp.SendKeys("#training-branch", "no-such-branch"),
		chromedp.SetValue("#training-command", "true"),
		chromedp.SetValue("#training-partition", "cpu"),
	)
	if err != nil {
		t.Fatalf("fill in an unknown branch: %v", err)
	}
	click("training-submit")
	until("the refused form naming the branch", `document.getElementById("form-error") !== null && document.querySelector("main").innerText.includes("The repository has no branch or tag no-such-branch.")`)
	if value("#training-branch") != "no-such-branch" || value("#training-name") != "typo" || value("#training-repo") != dg.URL+"/public/mnist.git" {
		t.Errorf("typed values lost: branch %q name %q repo %q", value("#training-branch"), value("#training-name"), value("#training-repo"))
	}

	// Larger than any node: the hint says so before submit, the submit refuses it.
	err = chromedp.Do(ctx,
		chromedp.Navigate(env.URL+"/trainings/new"),
		chromedp.WaitVisible("#training-name"),
		chromedp.SendKeys("#training-name", "huge"),
		chromedp.SetValue("#training-dataset", fmt.Sprint(dsID)),
		chromedp.SetValue("#training-command", "true"),
		chromedp.SetValue("#training-partition", "cpu"),
		type_("#training-form [name=cpu]", "512"),
		chromedp.WaitVisible("#training-never-cpu"),
	)
	if err != nil {
		t.Fatalf("the never-fits hint: %v", err)
	}
	click("training-submit")
	// The refusal is read in the page by script: a Text query of main
	// can fail while kqi.js swaps in the refused form's picker parts.
	until("the refused form", `document.getElementById("form-error") !== null && document.querySelector("main").innerText.includes("CPU cores at most")`)
	if got := value("#training-form [name=cpu]"); got != "512" {
		t.Fatalf("the refused form lost the typed CPU count: %q", got)
	}

	// Cannot start now: the tenant's GPU quota (0) leaves nothing.
	err = chromedp.Do(ctx,
		change("#training-partition", "gpu-a100"),
		type_("#training-form [name=gpu]", "1"),
		chromedp.WaitVisible("#training-wait-gpu"),
	)
	if err != nil {
		t.Fatalf("the warning: %v", err)
	}
	warn, _ := chromedp.Run(ctx, chromedp.Text("#training-wait-gpu"))
	if !strings.Contains(warn, "quota leaves 0 GPUs now") {
		t.Errorf("warning: %q", warn)
	}
	portaltest.Screenshot(t, ctx, "training-pickers-warning")
	if _, n, _ := env.Store.ListJobs(ctx0, lab.ID, storage.JobFilter{Kind: "training"}); n != 1 {
		t.Fatalf("%d trainings recorded; refused forms must record none", n)
	}
}
