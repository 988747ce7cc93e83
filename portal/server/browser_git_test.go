package server_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"kqi/portal/portaltest"
	"kqi/storage"
)

// A training naming a branch the dev Git server's sample repository does
// not have is refused on the form, with what was typed kept and nothing
// recorded; an unreachable repository likewise.
func TestBrowserUnknownBranchRefusedOnTheForm(t *testing.T) {
	env := portaltest.New(t, portaltest.WithCluster)
	repo := os.Getenv("KQI_DEV_GIT_PUBLIC_REPO")
	if repo == "" {
		t.Fatal("KQI_DEV_GIT_PUBLIC_REPO is not set: run scripts/dev-cluster.sh up")
	}
	lab := env.Tenant(t, "vision")
	env.User(t, "alice", "correct-horse-9", false, "vision")
	ctx0 := context.Background()
	dsID, err := env.Store.CreateDataset(ctx0, storage.NewDataset{TenantID: lab.ID, Name: "mnist"})
	if err != nil {
		t.Fatal(err)
	}
	browser := portaltest.Chrome(t)
	ctx, cancel := context.WithTimeout(browser, 90*time.Second)
	defer cancel()
	fill := func(repo, branch string) error {
		return chromedp.Do(ctx,
			chromedp.Navigate(env.URL+"/trainings/new"),
			chromedp.WaitVisible("#training-name"),
			chromedp.SendKeys("#training-name", "typo"),
			chromedp.SetValue("#training-dataset", fmt.Sprint(dsID)),
			chromedp.SendKeys("#training-repo", repo),
			chromedp.SendKeys("#training-branch", branch),
			chromedp.SetValue("#training-command", "python3 train.py"),
			chromedp.SetValue("#training-partition", "cpu"),
			chromedp.Click("#training-submit"),
			chromedp.WaitVisible("#form-error"),
		)
	}
	if err := chromedp.Do(ctx, logIn(env, "alice", "correct-horse-9")); err != nil {
		t.Fatal(err)
	}
	if err := fill(repo, "no-such-branch"); err != nil {
		t.Fatalf("submit: %v", err)
	}
	body, _ := chromedp.Run(ctx, chromedp.Text("main"))
	if !strings.Contains(body, "The repository has no branch or tag no-such-branch.") {
		t.Fatalf("the form says:\n%s", body)
	}
	if v, _ := chromedp.Run(ctx, chromedp.Value("#training-branch")); v != "no-such-branch" {
		t.Errorf("the branch typed is gone: %q", v)
	}
	portaltest.Screenshot(t, ctx, "training-unknown-branch")
	u, _ := url.Parse(repo)
	if err := fill(u.Scheme+"://"+u.Host+"/public/missing.git", "main"); err != nil {
		t.Fatalf("submit: %v", err)
	}
	if body, _ := chromedp.Run(ctx, chromedp.Text("main")); !strings.Contains(body, "The model repository cannot be reached") {
		t.Fatalf("the form says:\n%s", body)
	}
	if _, n, _ := env.Store.ListJobs(ctx0, lab.ID, storage.JobFilter{Kind: "training"}); n != 0 {
		t.Fatalf("%d trainings recorded from refused forms", n)
	}
}
