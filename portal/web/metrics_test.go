package web_test

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"kqi/portal/i18n"
	"kqi/portal/jobs"
	"kqi/portal/portaltest"
	"kqi/slurm"
)

var dataPoints = regexp.MustCompile(`<g class="chart-line" data-label="([^"]*)" data-points="(\d+)">`)

// lines maps each drawn line's label (per chart, in order) to its points.
func lines(t *testing.T, body string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, chart := range regexp.MustCompile(`<figure class="chart-box" data-metric="([^"]*)">`).FindAllStringSubmatchIndex(body, -1) {
		name := body[chart[2]:chart[3]]
		end := strings.Index(body[chart[1]:], "</figure>") + chart[1]
		for _, m := range dataPoints.FindAllStringSubmatch(body[chart[1]:end], -1) {
			n, _ := strconv.Atoi(m[2])
			out[name+"|"+m[1]] = n
		}
	}
	return out
}

// A training's page draws its metrics in every state they can be in
// (none, some, a damaged events file), in both languages; while it runs,
// the charts grow from one load to the next.
func TestTrainingMetricsOnItsPage(t *testing.T) {
	e := newTBEnv(t)
	e.env.User(t, "akira", pw, false, "lab")
	ja := e.env.Browser(t)
	ja.Login("akira", pw)
	ja.Submit("/settings", "/settings/language", url.Values{"lang": {"ja"}})
	running := e.submit(t, jobs.Training, "live", nil)
	e.slurmSays(t, running, func(i *slurm.JobInfo) { i.State = "RUNNING" })
	page := func(b *portaltest.Browser, id int64) string {
		t.Helper()
		p := b.Get(fmt.Sprintf("/trainings/%d", id))
		if p.Status != http.StatusOK {
			t.Fatalf("page: %d", p.Status)
		}
		return p.Body
	}
	path := fmt.Sprintf("/trainings/%d", running.ID)

	t.Run("none", func(t *testing.T) {
		for lang, b := range map[string]*portaltest.Browser{"en": e.alice, "ja": ja} {
			body := page(b, running.ID)
			checkPage(t, lang, body)
			if !strings.Contains(body, `id="metrics-none">`+html.EscapeString(i18n.T(lang, "metrics.none"))) {
				t.Errorf("%s: no word that there are no metrics", lang)
			}
			if !strings.Contains(body, `data-metrics-src="`+path+`/metrics"`) {
				t.Errorf("%s: a running training's charts are not refreshed", lang)
			}
		}
	})

	t.Run("some, growing", func(t *testing.T) {
		e.record(t, running, slurm.OutputDir+"/metrics.csv", "step,loss,acc\n1,0.9,0.1\n2,0.7,0.3\n")
		first := lines(t, page(e.alice, running.ID))
		if first["loss|loss"] != 2 || first["acc|acc"] != 2 {
			t.Fatalf("first load: %v", first)
		}
		e.record(t, running, slurm.OutputDir+"/metrics.csv", "step,loss,acc\n1,0.9,0.1\n2,0.7,0.3\n3,0.5,0.5\n4,0.4,0.6\n")
		if second := lines(t, page(e.alice, running.ID)); second["loss|loss"] != 4 {
			t.Errorf("second load: %v", second)
		}
		// The script's refresh gets the same charts alone.
		part := e.alice.Get(path + "/metrics")
		if part.Status != 200 || strings.Contains(part.Body, "<html") || lines(t, part.Body)["loss|loss"] != 4 {
			t.Errorf("refresh: %d %v", part.Status, lines(t, part.Body))
		}
		checkClean(t, "ja", ja.Get(path+"/metrics").Body)
	})

	t.Run("an independent writer's event file", func(t *testing.T) {
		b, err := os.ReadFile("../scalars/testdata/events.out.tfevents.1700000000.writer")
		if err != nil {
			t.Fatal(err)
		}
		e.record(t, e.training, slurm.OutputDir+"/tb/events.out.tfevents.1700000000.writer", string(b))
		got := lines(t, page(e.alice, e.training.ID))
		if got["tb/loss|tb/loss"] != 10 || got["tb/accuracy|tb/accuracy"] != 10 || got["tb/lr|tb/lr"] != 10 {
			t.Errorf("charts %v", got)
		}
		if strings.Contains(page(e.alice, e.training.ID), "data-metrics-src") {
			t.Error("a completed training's charts are refreshed")
		}
	})

	t.Run("corrupt", func(t *testing.T) {
		b, _ := os.ReadFile("../scalars/testdata/events.out.tfevents.1700000000.writer")
		b[len(b)-30] ^= 0xff
		e.record(t, running, slurm.OutputDir+"/bad/events.out.tfevents.2.bad", string(b))
		for lang, br := range map[string]*portaltest.Browser{"en": e.alice, "ja": ja} {
			body := page(br, running.ID)
			checkPage(t, lang, body)
			// The last of its 12 records is damaged: the 9 scalar events before
			// it are drawn.
			want := html.EscapeString(i18n.T(lang, "metrics.corrupt", "bad/events.out.tfevents.2.bad", "11"))
			if !strings.Contains(body, want) {
				t.Errorf("%s: no note %q", lang, want)
			}
			if got := lines(t, body); got["loss|loss"] != 4 || got["bad/loss|bad/loss"] != 9 {
				t.Errorf("%s: charts %v", lang, got)
			}
		}
		garbage := strings.Repeat("\xff", 5000)
		e.record(t, running, slurm.OutputDir+"/metrics.jsonl", garbage+"\n")
		if p := e.alice.Get(path); p.Status != 200 {
			t.Errorf("garbage jsonl: %d", p.Status)
		}
	})
}

// Compare draws the checked trainings on shared charts, one line each.
func TestCompareTrainings(t *testing.T) {
	e := newTBEnv(t)
	other := e.completed(t, jobs.Training, "resnet")
	e.record(t, e.training, slurm.OutputDir+"/metrics.csv", "step,loss\n1,0.9\n2,0.8\n3,0.7\n")
	e.record(t, other, slurm.OutputDir+"/metrics.jsonl", `{"step":1,"loss":1.5}`+"\n"+`{"step":2,"loss":1.2}`+"\n")
	ids := url.Values{"ids": {strconv.FormatInt(e.training.ID, 10), strconv.FormatInt(other.ID, 10)}}
	p := e.alice.Submit("/trainings", "/trainings/compare", ids)
	if p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location, "/trainings/compare?ids=") {
		t.Fatalf("compare: %d %q", p.Status, p.Location)
	}
	page := e.alice.Get(p.Location)
	if page.Status != 200 {
		t.Fatalf("compare page: %d", page.Status)
	}
	checkPage(t, "en", page.Body)
	got := lines(t, page.Body)
	a := fmt.Sprintf("loss|#%d mnist", e.training.ID)
	b := fmt.Sprintf("loss|#%d resnet", other.ID)
	if got[a] != 3 || got[b] != 2 || len(got) != 2 {
		t.Errorf("lines %v, want %s: 3 and %s: 2", got, a, b)
	}
	// The list offers Compare and TensorBoard for the checked rows.
	list := e.alice.Get("/trainings").Body
	for _, id := range []string{`id="training-compare"`, `id="training-tensorboard"`} {
		if !strings.Contains(list, id) {
			t.Errorf("the list lacks %s", id)
		}
	}
	// Another tenant's training is left out like a missing one.
	if p := e.other.Get(p.Location); p.Status != http.StatusNotFound {
		t.Errorf("another tenant's compare: %d", p.Status)
	}
	if p := e.alice.Submit("/trainings", "/trainings/compare", nil); p.Status != http.StatusSeeOther || p.Location != "/trainings" {
		t.Errorf("nothing checked: %d %q", p.Status, p.Location)
	}
}
