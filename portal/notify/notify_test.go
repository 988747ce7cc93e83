package notify_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"kqi/portal/notify"
	"kqi/portal/refusal"
	"kqi/storage"
	"kqi/storage/storagetest"
)

// hook is a Slack-compatible webhook receiver that fails its first fail
// calls with 500.
type hook struct {
	mu    sync.Mutex
	fail  int
	texts []string // of the calls answered 200
	calls int
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls++
	if h.calls <= h.fail {
		http.Error(w, "down", http.StatusInternalServerError)
		return
	}
	var body struct{ Text string }
	if r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&body) != nil {
		http.Error(w, "bad", http.StatusBadRequest)
		return
	}
	h.texts = append(h.texts, body.Text)
}

func (h *hook) got() (int, []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.calls, append([]string(nil), h.texts...)
}

func finish(t *testing.T, st *storage.Store, j *storage.Job, status string) {
	t.Helper()
	now := time.Now()
	if err := st.UpdateJobState(context.Background(), j.ID, storage.JobState{Status: status, StartedAt: &now, EndedAt: &now}); err != nil {
		t.Fatal(err)
	}
}

// An ending is queued once per channel, however often it is recorded; a
// failed webhook is retried and then delivered exactly once.
func TestOneMessagePerEndingRetried(t *testing.T) {
	ctx := context.Background()
	st, _ := storagetest.NewStore(t)
	tenant, _ := st.CreateTenant(ctx, "lab")
	u, err := st.CreateUser(ctx, storage.NewUser{Username: "alice", PasswordHash: "x", Language: "en"}, storage.TenantRole{TenantID: tenant.ID, Role: storage.RoleUser})
	if err != nil {
		t.Fatal(err)
	}
	h := &hook{fail: 1}
	srv := httptest.NewServer(h)
	defer srv.Close()
	if err := notify.Save(ctx, st, u.ID, "", srv.URL+"/hook"); err != nil {
		t.Fatal(err)
	}
	newJob := func(kind, name string) *storage.Job {
		j, err := st.CreateJob(ctx, storage.NewJob{TenantID: tenant.ID, Kind: kind, Name: name, Image: "host", Command: "true", CPU: 1, MemoryGB: 1, Partition: "cpu", CreatedBy: u.ID})
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	tr := newJob("training", "resnet")
	now := time.Now()
	if err := st.UpdateJobState(ctx, tr.ID, storage.JobState{Status: "running", StartedAt: &now}); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.NotificationsOfJob(ctx, tr.ID); len(got) != 0 {
		t.Fatalf("a running job queued %+v", got)
	}
	finish(t, st, tr, "completed")
	finish(t, st, tr, "failed") // a late poll: ignored, queues nothing more
	tb := newJob("tensorboard", "board")
	finish(t, st, tb, "killed")
	if got, _ := st.NotificationsOfJob(ctx, tb.ID); len(got) != 0 {
		t.Fatalf("a TensorBoard's end queued %+v", got)
	}

	s := &notify.Sender{Store: st, BaseURL: "https://kqi.example.org", Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Backoff: func(int) time.Duration { return time.Millisecond }}
	if err := s.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	rec, _ := st.NotificationsOfJob(ctx, tr.ID)
	if len(rec) != 1 || rec[0].Sent || rec[0].Attempts != 1 || !strings.Contains(rec[0].LastError, "500") || strings.Contains(rec[0].LastError, srv.URL) {
		t.Fatalf("after the failed call: %+v", rec)
	}
	time.Sleep(20 * time.Millisecond)
	for range 3 {
		if err := s.Drain(ctx); err != nil {
			t.Fatal(err)
		}
	}
	calls, texts := h.got()
	if calls != 2 || len(texts) != 1 {
		t.Fatalf("%d calls, delivered %q", calls, texts)
	}
	for _, want := range []string{"[KQI] training #", "resnet", "completed", "https://kqi.example.org/trainings/"} {
		if !strings.Contains(texts[0], want) {
			t.Errorf("the message lacks %q:\n%s", want, texts[0])
		}
	}
	if rec, _ := st.NotificationsOfJob(ctx, tr.ID); len(rec) != 1 || !rec[0].Sent || rec[0].Attempts != 2 {
		t.Fatalf("after delivery: %+v", rec)
	}
}

// A message that keeps failing is given up after its last attempt.
func TestGivenUp(t *testing.T) {
	ctx := context.Background()
	st, _ := storagetest.NewStore(t)
	tenant, _ := st.CreateTenant(ctx, "lab")
	u, _ := st.CreateUser(ctx, storage.NewUser{Username: "alice", PasswordHash: "x", Language: "ja"}, storage.TenantRole{TenantID: tenant.ID, Role: storage.RoleUser})
	h := &hook{fail: 1000}
	srv := httptest.NewServer(h)
	defer srv.Close()
	notify.Save(ctx, st, u.ID, "", srv.URL)
	j, _ := st.CreateJob(ctx, storage.NewJob{TenantID: tenant.ID, Kind: "inference", Name: "eval", Image: "host", Command: "true", CPU: 1, MemoryGB: 1, Partition: "cpu", CreatedBy: u.ID})
	finish(t, st, j, "error")
	s := &notify.Sender{Store: st, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Backoff: func(n int) time.Duration {
			if n >= 3 {
				return 0
			}
			return time.Millisecond
		}}
	for range 6 {
		s.Drain(ctx)
		time.Sleep(5 * time.Millisecond)
	}
	if calls, _ := h.got(); calls != 3 {
		t.Fatalf("%d calls, want 3 attempts", calls)
	}
}

func TestSaveChecksTheFields(t *testing.T) {
	ctx := context.Background()
	st, _ := storagetest.NewStore(t)
	u, _ := st.CreateUser(ctx, storage.NewUser{Username: "alice", PasswordHash: "x", Language: "en"})
	for _, c := range []struct{ email, hook, field string }{
		{"Alice <a@example.org>", "", "notify_email"},
		{"a@example.org\r\nBcc: x@example.org", "", "notify_email"},
		{"not-an-address", "", "notify_email"},
		{"", "ftp://example.org/x", "notify_webhook"},
		{"", "https://user:pw@example.org/x", "notify_webhook"},
		{"", "hooks.slack.com/x", "notify_webhook"},
	} {
		err := notify.Save(ctx, st, u.ID, c.email, c.hook)
		e, ok := refusal.Of(err)
		if !ok || len(e.Fields) != 1 || e.Fields[0].Field != c.field {
			t.Errorf("Save(%q, %q) = %v", c.email, c.hook, err)
		}
	}
	if err := notify.Save(ctx, st, u.ID, " a@example.org ", "https://hooks.example.org/T1/B2"); err != nil {
		t.Fatal(err)
	}
	if n, _ := st.NotificationSettingsOf(ctx, u.ID); n.Email != "a@example.org" || n.WebhookURL != "https://hooks.example.org/T1/B2" {
		t.Fatalf("saved %+v", n)
	}
}
