package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"kqi/slurm"
)

// A running preprocessing task offers a shell on its history row, in the
// page's terminal and over ssh (preprocess-{entry}); queued and ended
// tasks say why not; another tenant's entry is not found.
func TestPreprocessTaskShell(t *testing.T) {
	s := newPreSetup(t)
	ctx := context.Background()
	b := s.env.Browser(t)
	b.Login("alice", pw)
	d := s.datum(t, "src")
	h := s.run(t, d)
	entry := fmt.Sprintf("/preprocessing/%d/histories/%d", s.pre.ID, d)

	// Queued: no shell offered; the terminal page says it has not started.
	if p := b.Get(fmt.Sprintf("/preprocessing/%d/histories", s.pre.ID)); strings.Contains(p.Body, `id="shell-`) {
		t.Errorf("a queued task offers a shell:\n%s", p.Body)
	}
	if p := b.Get(entry + "/shell"); p.Status != http.StatusOK || !strings.Contains(p.Body, `id="shell-refusal"`) || strings.Contains(p.Body, "data-shell-socket") {
		t.Errorf("terminal of a queued task: %d\n%s", p.Status, p.Body)
	}

	s.env.Fake.Set(h.Job.SlurmJobID, func(i *slurm.JobInfo) { i.State, i.Node = "RUNNING", "vm" })
	if err := s.env.Jobs.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	p := b.Get(fmt.Sprintf("/preprocessing/%d/histories", s.pre.ID))
	if !strings.Contains(p.Body, fmt.Sprintf(`id="shell-%d" href="%s/shell"`, d, entry)) || !strings.Contains(p.Body, fmt.Sprintf("preprocess-%d@", h.ID)) {
		t.Errorf("a running task's row has no shell link and ssh line:\n%s", p.Body)
	}
	p = b.Get(entry + "/shell")
	if p.Status != http.StatusOK || !strings.Contains(p.Body, `data-shell-socket="`+entry+`/shell/ws?csrf=`) || !strings.Contains(p.Body, fmt.Sprintf("preprocess-%d@", h.ID)) {
		t.Errorf("terminal of a running task: %d\n%s", p.Status, p.Body)
	}
	// The WebSocket checks the Origin before anything else.
	req, _ := http.NewRequest("GET", b.URL(entry+"/shell/ws?csrf=x"), nil)
	req.Header.Set("Origin", "https://evil.example.org")
	if resp, err := b.Client.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("a foreign Origin: %v %v", resp, err)
	}

	other := s.env.Tenant(t, "other")
	s.env.User(t, "mallory", pw, false, other.Name)
	m := s.env.Browser(t)
	m.Login("mallory", pw)
	if p := m.Get(entry + "/shell"); p.Status != http.StatusNotFound {
		t.Errorf("another tenant's task terminal: %d", p.Status)
	}

	s.ends(t, h, "COMPLETED", 0, nil)
	if p := b.Get(entry + "/shell"); !strings.Contains(p.Body, `id="shell-refusal"`) {
		t.Errorf("terminal of an ended task: %d\n%s", p.Status, p.Body)
	}
}
