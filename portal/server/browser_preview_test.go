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
	"kqi/slurm"
	"kqi/storage"
)

// A completed training's CSV output opens from its page as a table.
func TestBrowserCSVOutputAsATable(t *testing.T) {
	env := portaltest.New(t)
	lab := env.Tenant(t, "vision")
	u := env.User(t, "alice", "correct-horse-9", false, "vision")
	ctx0 := context.Background()
	dsID, _ := env.Store.CreateDataset(ctx0, storage.NewDataset{TenantID: lab.ID, Name: "mnist"})
	j, err := env.Jobs.Submit(ctx0, jobs.Actor{TenantID: lab.ID, UserID: u.ID}, jobs.Training,
		jobs.Request{Name: "resnet50", DatasetID: dsID, CPU: 2, MemoryGB: 4, Partition: "cpu", Command: "python3 train.py --epochs 3"})
	if err != nil {
		t.Fatal(err)
	}
	put := func(name, content string) {
		if _, err := env.Files.Put(ctx0, j.JobDir+"/"+name, strings.NewReader(content)); err != nil {
			t.Fatal(err)
		}
	}
	put("output/metrics.csv", "epoch,loss,accuracy\n1,0.92,0.71\n2,0.55,0.83\n3,0.41,0.88\n")
	put("output/model.pt", "weights")
	put(slurm.LogFile, "[kqi] 2026-12-01T09:00:00+0000 cloning the model\nepoch 1 loss 0.92\nepoch 2 loss 0.55\nepoch 3 loss 0.41\n[kqi] 2026-12-01T09:12:00+0000 exit code 0\n")
	put(slurm.ExitCodeFile, "0\n")
	env.Fake.Set(j.SlurmJobID, func(i *slurm.JobInfo) { i.State = "COMPLETED" })
	if err := env.Jobs.Poll(ctx0); err != nil {
		t.Fatal(err)
	}
	browser := portaltest.Chrome(t)
	ctx, cancel := context.WithTimeout(browser, 60*time.Second)
	defer cancel()
	err = chromedp.Do(ctx,
		logIn(env, "alice", "correct-horse-9"),
		chromedp.Navigate(fmt.Sprintf("%s/trainings/%d", env.URL, j.ID)),
		chromedp.WaitVisible("#training-status"),
	)
	if err != nil {
		t.Fatal(err)
	}
	portaltest.DocScreenshot(t, ctx, "training")
	err = chromedp.Do(ctx,
		chromedp.Click(`#output-table a.output-preview[href$="metrics.csv"]`),
		chromedp.WaitVisible("#preview-table"),
	)
	if err != nil {
		t.Fatalf("open the preview: %v", err)
	}
	cells, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll("#preview-table tr")).map(r => Array.from(r.cells).map(c => c.textContent).join("|"))`))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cells, "\n"); got != "epoch|loss|accuracy\n1|0.92|0.71\n2|0.55|0.83\n3|0.41|0.88" {
		t.Fatalf("the table reads\n%s", got)
	}
	portaltest.DocScreenshot(t, ctx, "output-preview")
}
