package server_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"kqi/portal/data"
	"kqi/portal/portaltest"
	"kqi/storage"
)

// A person checks two data on the data list, presses Run preprocessing,
// picks a preprocess and runs it on the dev cluster; the history opens
// and shows both entries completed, and the new data are on the data list.
func TestBrowserPreprocessCheckedData(t *testing.T) {
	env := portaltest.New(t, portaltest.WithCluster)
	repo := os.Getenv("KQI_DEV_GIT_PUBLIC_REPO")
	if repo == "" {
		t.Fatal("KQI_DEV_GIT_PUBLIC_REPO is not set: run scripts/dev-cluster.sh up")
	}
	lab := env.Tenant(t, "vision")
	u := env.User(t, "alice", "correct-horse-9", false, "vision")
	ctx0 := context.Background()
	var ids []int64
	for _, name := range []string{"cats", "dogs", "birds"} {
		id, _ := env.Store.NextDataID(ctx0)
		if _, err := env.Files.Put(ctx0, data.DataDir(lab.ID, id)+"/a.txt", strings.NewReader(name)); err != nil {
			t.Fatal(err)
		}
		if err := env.Store.CreateData(ctx0, storage.NewData{ID: id, TenantID: lab.ID, Name: name, CreatedBy: u.ID, Files: []storage.NewFile{{Name: "a.txt", Size: int64(len(name))}}}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	p, err := env.Store.CreatePreprocess(ctx0, lab.ID, u.ID, storage.PreprocessFields{Name: "shout", Image: "host", GitRepository: repo, CPU: 1, MemoryGB: 1,
		Command: `mkdir -p /kqi/output/${DATA_NAME}_loud && tr a-z A-Z </kqi/input/$DATA_ID/a.txt >/kqi/output/${DATA_NAME}_loud/a.txt`})
	if err != nil {
		t.Fatal(err)
	}
	pollCtx, stopPoll := context.WithCancel(ctx0)
	defer stopPoll()
	go env.Jobs.Run(pollCtx, 300*time.Millisecond)

	browser := portaltest.Chrome(t)
	ctx, cancel := context.WithTimeout(browser, 3*time.Minute)
	defer cancel()
	err = chromedp.Do(ctx,
		logIn(env, "alice", "correct-horse-9"),
		chromedp.Navigate(env.URL+"/data"),
		chromedp.WaitVisible("#data-table"),
		chromedp.Click(fmt.Sprintf(`input[name="ids"][value="%d"]`, ids[0])),
		chromedp.Click(fmt.Sprintf(`input[name="ids"][value="%d"]`, ids[2])),
		chromedp.Click("#data-preprocess"),
		chromedp.WaitVisible("#preprocess-run-form"),
		chromedp.SetValue("#run-preprocess", fmt.Sprint(p.ID)),
		chromedp.SetValue(`select[name="partition"]`, "cpu"),
	)
	if err != nil {
		t.Fatalf("check two data and open the run form: %v", err)
	}
	chosen, _ := chromedp.Run(ctx, chromedp.Text("#run-data"))
	if !strings.Contains(chosen, "cats") || !strings.Contains(chosen, "birds") || strings.Contains(chosen, "dogs") {
		t.Fatalf("the run form lists %q", chosen)
	}
	portaltest.Screenshot(t, ctx, "preprocess-run-form")
	if err := chromedp.Do(ctx, chromedp.Click("#run-submit"), chromedp.WaitVisible("#history-table")); err != nil {
		t.Fatalf("run: %v", err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#history-table .history-entry .status-completed").length`))
		if err == nil && n == 2 {
			break
		}
		if time.Now().After(deadline) {
			table, _ := chromedp.Run(ctx, chromedp.Text("#history-table"))
			t.Fatalf("the history never showed both entries completed (%d, %v): %s", n, err, table)
		}
		time.Sleep(time.Second)
		chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible("#history-table"))
	}
	portaltest.Screenshot(t, ctx, "preprocess-history")
	outputs, _ := chromedp.Run(ctx, chromedp.Text("#history-table"))
	if !strings.Contains(outputs, "cats_loud") || !strings.Contains(outputs, "birds_loud") {
		t.Fatalf("history: %q", outputs)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(env.URL+"/data"), chromedp.WaitVisible("#data-table")); err != nil {
		t.Fatal(err)
	}
	list, _ := chromedp.Run(ctx, chromedp.Text("#data-table"))
	if !strings.Contains(list, "cats_loud") || !strings.Contains(list, "birds_loud") || strings.Contains(list, "dogs_loud") {
		t.Fatalf("the data list: %q", list)
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[string](
		`fetch([...document.querySelectorAll("#data-table .data-name")].find(a => a.textContent === "cats_loud").href.replace(/$/, "/files/a.txt")).then(r => r.text())`, chromedp.EvalAwaitPromise))
	if err != nil || got != "CATS" {
		t.Fatalf("the new datum's file: %q (%v)", got, err)
	}
}
