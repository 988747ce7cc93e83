package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"kqi/portal/jobs"
	"kqi/portal/portaltest"
	"kqi/storage"
)

// Every kind of output file has its preview state.
func TestOutputPreviews(t *testing.T) {
	env := portaltest.New(t)
	lab := env.Tenant(t, "lab")
	alice := env.User(t, "alice", pw, false, "lab")
	dsID, err := env.Store.CreateDataset(context.Background(), storage.NewDataset{TenantID: lab.ID, Name: "d"})
	if err != nil {
		t.Fatal(err)
	}
	s := &stateSetup{env: env, lab: lab, who: jobs.Actor{TenantID: lab.ID, UserID: alice.ID}, dsID: dsID}
	j := s.submit(t, jobs.Training, "previewed", nil)
	var big strings.Builder
	big.WriteString("step,loss\n")
	for i := range 80 {
		fmt.Fprintf(&big, "%d,%d.5\n", i, 80-i)
	}
	files := map[string]string{
		"output/metrics.csv":  "epoch,accuracy,note\n1,0.71,\"warm, up\"\n2,0.83,<b>bold</b>\n",
		"output/big.csv":      big.String(),
		"output/header.csv":   "a,b\n",
		"output/result.json":  `{"accuracy":0.83,"labels":["cat","dog"]}`,
		"output/bad.json":     `{"accuracy":`,
		"output/notes.txt":    "trained on <all> data\n",
		"output/train.stdout": "epoch 1 done\n",
		"output/plot.png":     "\x89PNG\r\n\x1a\n",
		"output/model.bin":    "\x00\x01\x02weights",
	}
	for name, content := range files {
		s.record(t, j, name, content)
	}
	b := env.Browser(t)
	b.Login("alice", pw)
	base := fmt.Sprintf("/trainings/%d/preview/", j.ID)
	for _, c := range []struct {
		file string
		want []string
		not  []string
	}{
		{"metrics.csv", []string{`id="preview-table"`, "<th>epoch</th>", "<td>warm, up</td>", "<td>&lt;b&gt;bold&lt;/b&gt;</td>"}, []string{"preview-truncated", "<b>bold"}},
		{"big.csv", []string{`id="preview-truncated"`, "first 50 rows", "<td>49</td>"}, []string{"<td>50</td>"}},
		{"header.csv", []string{"<th>a</th>", "a header and no rows"}, nil},
		{"result.json", []string{`id="preview-json"`, "&#34;accuracy&#34;: 0.83"}, []string{"preview-bad-json"}},
		{"bad.json", []string{`id="preview-bad-json"`, `id="preview-text"`}, nil},
		{"notes.txt", []string{`id="preview-text"`, "trained on &lt;all&gt; data"}, nil},
		{"train.stdout", []string{`id="preview-text"`, "epoch 1 done"}, nil},
		{"plot.png", []string{`id="preview-image"`, fmt.Sprintf(`src="/trainings/%d/files/plot.png"`, j.ID)}, nil},
		{"model.bin", []string{`id="preview-none"`, `id="preview-download"`}, []string{"weights"}},
	} {
		t.Run(c.file, func(t *testing.T) {
			p := b.Get(base + c.file)
			if p.Status != http.StatusOK {
				t.Fatalf("status %d", p.Status)
			}
			for _, w := range c.want {
				if !strings.Contains(p.Body, w) {
					t.Errorf("lacks %q", w)
				}
			}
			for _, n := range c.not {
				if strings.Contains(p.Body, n) {
					t.Errorf("has %q", n)
				}
			}
		})
	}
	for _, path := range []string{base + "missing.csv", fmt.Sprintf("/inferences/%d/preview/metrics.csv", j.ID)} {
		if p := b.Get(path); p.Status != http.StatusNotFound {
			t.Errorf("GET %s: %d", path, p.Status)
		}
	}
	// The job page links each output to its preview.
	if p := b.Get(fmt.Sprintf("/trainings/%d", j.ID)); !strings.Contains(p.Body, `href="`+base+`metrics.csv" class="output-preview"`) {
		t.Error("the job page has no preview link")
	}
}

// The log's search shows only the matching lines of the whole log, and the
// script's timestamps are marked for the reader's time zone.
func TestLogSearchAndTimes(t *testing.T) {
	env := portaltest.New(t)
	lab := env.Tenant(t, "lab")
	alice := env.User(t, "alice", pw, false, "lab")
	dsID, _ := env.Store.CreateDataset(context.Background(), storage.NewDataset{TenantID: lab.ID, Name: "d"})
	s := &stateSetup{env: env, lab: lab, who: jobs.Actor{TenantID: lab.ID, UserID: alice.ID}, dsID: dsID}
	j := s.submit(t, jobs.Training, "logged", nil)
	var log strings.Builder
	log.WriteString("[kqi] 2026-12-01T22:30:05+0900 cloning the model\n")
	for i := range 5000 { // more than the page's tail: the search reads it all
		fmt.Fprintf(&log, "step %d loss <%d>\n", i, 5000-i)
	}
	log.WriteString("Epoch 3 DONE\n")
	s.record(t, j, "log", log.String())
	b := env.Browser(t)
	b.Login("alice", pw)
	page := fmt.Sprintf("/trainings/%d", j.ID)
	p := b.Get(page)
	if strings.Contains(p.Body, "cloning the model") {
		t.Fatal("the tail holds the first line: make the log longer")
	}
	if !strings.Contains(p.Body, `data-active="true"`) || strings.Contains(p.Body, `id="training-log-found"`) {
		t.Error("the unsearched log is not live")
	}
	p = b.Get(page + "?log_q=" + "epoch+3")
	if !strings.Contains(p.Body, `id="training-log-found">1 matching lines`) || !strings.Contains(p.Body, ">Epoch 3 DONE\n</pre>") || strings.Contains(p.Body, "step 1 loss") {
		t.Fatalf("search for epoch 3:\n%s", p.Body)
	}
	if !strings.Contains(p.Body, `value="epoch 3"`) || strings.Contains(p.Body, `data-live-log data-src="/trainings/1/log" data-offset="`+fmt.Sprint(log.Len())+`" data-active="true"`) {
		t.Error("the searched log keeps no query or stays live")
	}
	p = b.Get(page + "?log_q=cloning")
	if !strings.Contains(p.Body, `[kqi] <time datetime="2026-12-01T13:30:05Z" data-seconds>2026-12-01 13:30:05 UTC</time> cloning the model`) {
		t.Fatalf("the script's timestamp is not marked:\n%s", p.Body)
	}
	if p = b.Get(page + "?log_q=%3C4999%3E"); !strings.Contains(p.Body, "step 1 loss &lt;4999&gt;") {
		t.Fatal("a search with markup: the line is not shown escaped")
	}
	if p = b.Get(page + "?log_q=nothing-like-this"); !strings.Contains(p.Body, ">0 matching lines") {
		t.Fatal("no match: no count")
	}
}
