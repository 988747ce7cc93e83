package server_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"kqi/portal/i18n"
	"kqi/portal/jobs"
	"kqi/portal/portaltest"
	"kqi/slurm"
	"kqi/storage"
)

// englishLeft lists the English catalog texts that differ from their
// Japanese ones and show in text: a Japanese page holding one has English
// left in it. Texts with a %-argument are matched by their longest fixed
// part; one-word texts as whole words.
func englishLeft(text string) []string {
	var found []string
	for _, key := range i18n.Keys("en") {
		en, ja := i18n.T("en", key), i18n.T("ja", key)
		if en == ja {
			continue
		}
		part := ""
		for _, p := range regexp.MustCompile(`%[0-9.]*[sdvfq]`).Split(en, -1) {
			if len(strings.TrimSpace(p)) > len(part) {
				part = strings.TrimSpace(p)
			}
		}
		if !regexp.MustCompile(`[a-z]{3}`).MatchString(part) { // acronyms (CPU, GPU) are the same in both
			continue
		}
		if regexp.MustCompile(`(?i)(^|[^A-Za-z])` + regexp.QuoteMeta(part) + `($|[^A-Za-z])`).MatchString(text) {
			found = append(found, key+"="+part)
		}
	}
	return found
}

// A Japanese reader's trainings list, after a training's status changes
// under their eyes, holds no English from the catalog.
func TestBrowserJapaneseTrainingsHaveNoEnglish(t *testing.T) {
	env := portaltest.New(t)
	lab := env.Tenant(t, "vision")
	u := env.User(t, "alice", "correct-horse-9", false, "vision")
	ctx0 := context.Background()
	if err := env.Store.SetLanguage(ctx0, u.ID, "ja"); err != nil {
		t.Fatal(err)
	}
	dsID, _ := env.Store.CreateDataset(ctx0, storage.NewDataset{TenantID: lab.ID, Name: "mnist"})
	j, err := env.Jobs.Submit(ctx0, jobs.Actor{TenantID: lab.ID, UserID: u.ID}, jobs.Training,
		jobs.Request{Name: "resnet", DatasetID: dsID, CPU: 1, MemoryGB: 1, Partition: "cpu", Command: "true"})
	if err != nil {
		t.Fatal(err)
	}
	browser := portaltest.Chrome(t)
	ctx, cancel := context.WithTimeout(browser, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, logIn(env, "alice", "correct-horse-9"), chromedp.Navigate(env.URL+"/trainings"), chromedp.WaitVisible("#training-table")); err != nil {
		t.Fatal(err)
	}
	env.Fake.Set(j.SlurmJobID, func(i *slurm.JobInfo) { i.State = "RUNNING" })
	if err := env.Jobs.Poll(ctx0); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible("#training-table .status-running")); err != nil {
		t.Fatalf("the status never changed on the page: %v", err)
	}
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText + " " + Array.from(document.querySelectorAll("[placeholder],[title],[aria-label],input[type=submit]")).map(e => (e.placeholder||"") + " " + (e.title||"") + " " + (e.getAttribute("aria-label")||"") + " " + (e.value||"")).join(" ")`))
	if err != nil {
		t.Fatal(err)
	}
	if cell, _ := chromedp.Run(ctx, chromedp.Text("#training-table .status-running")); strings.TrimSpace(cell) != i18n.T("ja", "status.running") {
		t.Errorf("the changed status reads %q", cell)
	}
	if left := englishLeft(text); len(left) > 0 {
		t.Errorf("English on the Japanese trainings page: %v\n%s", left, text)
	}
}
