package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"kqi/portal/portaltest"
)

// From an inference's page a person opens its lineage, sees the chain back
// to the raw data drawn, and follows the raw data's box to its page.
func TestBrowserLineageOfAnInference(t *testing.T) {
	env := portaltest.New(t)
	lab := env.Tenant(t, "vision")
	u := env.User(t, "alice", "correct-horse-9", false, "vision")
	c := env.LineageChain(t, lab.ID, u.ID)
	browser := portaltest.Chrome(t)
	ctx, cancel := context.WithTimeout(browser, 90*time.Second)
	defer cancel()
	err := chromedp.Do(ctx,
		logIn(env, "alice", "correct-horse-9"),
		chromedp.Navigate(fmt.Sprintf("%s/inferences/%d", env.URL, c.Inference.ID)),
		chromedp.WaitVisible("#inference-lineage"),
		chromedp.Click("#inference-lineage"),
		chromedp.WaitVisible("svg.lineage"),
	)
	if err != nil {
		t.Fatalf("open the lineage: %v", err)
	}
	nodes, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll("svg.lineage a")).map(a => a.getAttribute("data-node") + " " + a.querySelector(".lineage-name").textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(nodes, "\n")
	for _, want := range []string{
		fmt.Sprintf("data-%d raw-scans", c.Raw), fmt.Sprintf("run-%d denoise", c.Run), fmt.Sprintf("data-%d clean-scans", c.Processed),
		fmt.Sprintf("dataset-%d scans-split", c.Dataset), fmt.Sprintf("job-%d unet", c.Training.ID),
		fmt.Sprintf("job-%d unet-finetune", c.ChildTraining.ID), fmt.Sprintf("job-%d unet-eval", c.Inference.ID),
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the picture lacks %q; it shows\n%s", want, got)
		}
	}
	// The raw data comes first: left of or above the inference (a chain
	// this long is drawn downwards).
	pos, _ := chromedp.Run(ctx, chromedp.Evaluate[[]float64](fmt.Sprintf(
		`[document.querySelector('[data-node="data-%d"]'), document.querySelector('[data-node="job-%d"]')].flatMap(a => [a.getBoundingClientRect().x, a.getBoundingClientRect().y])`, c.Raw, c.Inference.ID)))
	if len(pos) != 4 || !(pos[0] < pos[2] || pos[1] < pos[3]) {
		t.Errorf("raw data at %v, not before the inference at %v", pos[:2], pos[2:])
	}
	portaltest.DocScreenshot(t, ctx, "lineage")
	err = chromedp.Do(ctx,
		chromedp.Click(fmt.Sprintf(`[data-node="data-%d"] rect`, c.Raw)),
		chromedp.WaitVisible("#data-title"),
	)
	if err != nil {
		t.Fatalf("follow the raw data's box: %v", err)
	}
	if title, _ := chromedp.Run(ctx, chromedp.Text("#data-title")); strings.TrimSpace(title) != "raw-scans" {
		t.Fatalf("the box led to %q", title)
	}
}
