package notify_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"kqi/portal/notify"
	"kqi/portal/refusal"
	"kqi/portal/secret"
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

// loopback lets webhooks reach this host's test receivers.
var loopback = notify.Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}}

func newSealer(t *testing.T) *secret.Sealer {
	t.Helper()
	s, err := secret.NewSealerFromKey([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	return s
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
	sealer := newSealer(t)
	if err := (&notify.Book{Store: st, Sealer: sealer, Guard: loopback}).Save(ctx, u.ID, "", srv.URL+"/hook", false); err != nil {
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

	s := &notify.Sender{Store: st, BaseURL: "https://kqi.example.org", Sealer: sealer, Guard: loopback, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
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
	sealer := newSealer(t)
	if err := (&notify.Book{Store: st, Sealer: sealer, Guard: loopback}).Save(ctx, u.ID, "", srv.URL, false); err != nil {
		t.Fatal(err)
	}
	j, _ := st.CreateJob(ctx, storage.NewJob{TenantID: tenant.ID, Kind: "inference", Name: "eval", Image: "host", Command: "true", CPU: 1, MemoryGB: 1, Partition: "cpu", CreatedBy: u.ID})
	finish(t, st, j, "error")
	s := &notify.Sender{Store: st, Sealer: sealer, Guard: loopback, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
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
	book := &notify.Book{Store: st, Sealer: newSealer(t), Guard: loopback}
	for _, c := range []struct{ email, hook, field, key string }{
		{"Alice <a@example.org>", "", "notify_email", "notify.bad_email"},
		{"a@example.org\r\nBcc: x@example.org", "", "notify_email", "notify.bad_email"},
		{"not-an-address", "", "notify_email", "notify.bad_email"},
		{"", "ftp://example.org/x", "notify_webhook", "notify.bad_webhook"},
		{"", "https://user:pw@example.org/x", "notify_webhook", "notify.bad_webhook"},
		{"", "hooks.slack.com/x", "notify_webhook", "notify.bad_webhook"},
		{"", "https://10.0.0.7/hook", "notify_webhook", "notify.webhook_internal"},
		{"", "https://no-such-host.invalid/hook", "notify_webhook", "notify.webhook_unresolvable"},
	} {
		err := book.Save(ctx, u.ID, c.email, c.hook, false)
		e, ok := refusal.Of(err)
		if !ok || len(e.Fields) != 1 || e.Fields[0].Field != c.field || e.Fields[0].Key != c.key {
			t.Errorf("Save(%q, %q) = %v, want %s %s", c.email, c.hook, err, c.field, c.key)
		}
	}
	hook := "http://127.0.0.1:9/T1/B2"
	if err := book.Save(ctx, u.ID, " a@example.org ", hook, false); err != nil {
		t.Fatal(err)
	}
	n, _ := st.NotificationSettingsOf(ctx, u.ID)
	if n.Email != "a@example.org" || n.WebhookHost != "127.0.0.1:9" || bytes.Contains(n.WebhookSealed, []byte("T1/B2")) {
		t.Fatalf("saved %+v", n)
	}
	if got, err := book.Sealer.Open(n.WebhookSealed, notify.Label(u.ID)); err != nil || got != hook {
		t.Fatalf("the sealed URL opens to %q, %v", got, err)
	}
	// An empty field keeps the webhook; the box drops it.
	if err := book.Save(ctx, u.ID, "", "", false); err != nil {
		t.Fatal(err)
	}
	if n, _ := st.NotificationSettingsOf(ctx, u.ID); n.Email != "" || n.WebhookSealed == nil {
		t.Fatalf("after saving without a webhook: %+v", n)
	}
	if err := book.Save(ctx, u.ID, "", "", true); err != nil {
		t.Fatal(err)
	}
	if n, _ := st.NotificationSettingsOf(ctx, u.ID); n.WebhookSealed != nil || n.WebhookHost != "" {
		t.Fatalf("after dropping the webhook: %+v", n)
	}
}

// The guard refuses what is internal, whatever the form of the address,
// and lets the allow-list through.
func TestGuardAddresses(t *testing.T) {
	var none notify.Guard
	for _, a := range []string{"127.0.0.1", "::1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "fe80::1",
		"fd00::1", "0.0.0.0", "::", "100.64.0.1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::a00:1", "224.0.0.1", "255.255.255.255"} {
		if none.Allowed(netip.MustParseAddr(a)) {
			t.Errorf("%s is allowed", a)
		}
	}
	for _, a := range []string{"8.8.8.8", "2606:4700::1111", "151.101.1.1"} {
		if !none.Allowed(netip.MustParseAddr(a)) {
			t.Errorf("%s is refused", a)
		}
	}
	// This host's own addresses, even public ones, are refused.
	if addrs, _ := net.InterfaceAddrs(); len(addrs) > 0 {
		for _, ia := range addrs {
			if n, ok := ia.(*net.IPNet); ok {
				if a, ok := netip.AddrFromSlice(n.IP); ok && none.Allowed(a.Unmap()) {
					t.Errorf("the portal's own address %s is allowed", a)
				}
			}
		}
	}
	if !loopback.Allowed(netip.MustParseAddr("127.0.0.1")) || !loopback.Allowed(netip.MustParseAddr("::ffff:127.0.0.1")) || loopback.Allowed(netip.MustParseAddr("10.0.0.1")) {
		t.Error("the allow-list lets the wrong addresses through")
	}
	if err := none.CheckHost(context.Background(), "localhost"); !errors.Is(err, notify.ErrInternal) {
		t.Errorf("localhost: %v", err)
	}
	self := notify.Guard{Self: []string{"localhost"}, Allow: nil}
	if self.Allowed(netip.MustParseAddr("127.0.0.1")) {
		t.Error("the portal's own name's address is allowed")
	}
}

// A webhook to a receiver on 127.0.0.1 is refused at save without the
// site's allow setting, and is refused again when sent (the URL was saved
// under an allow-list since withdrawn, or its name now resolves inside):
// the receiver is never called. With the setting it is delivered.
func TestWebhookToLoopbackNeedsTheAllowSetting(t *testing.T) {
	ctx := context.Background()
	st, _ := storagetest.NewStore(t)
	tenant, _ := st.CreateTenant(ctx, "lab")
	u, _ := st.CreateUser(ctx, storage.NewUser{Username: "alice", PasswordHash: "x", Language: "en"}, storage.TenantRole{TenantID: tenant.ID, Role: storage.RoleUser})
	h := &hook{}
	srv := httptest.NewServer(h)
	defer srv.Close()
	sealer := newSealer(t)
	strict := &notify.Book{Store: st, Sealer: sealer}
	err := strict.Save(ctx, u.ID, "", srv.URL+"/hook", false)
	if e, ok := refusal.Of(err); !ok || e.Fields[0].Key != "notify.webhook_internal" {
		t.Fatalf("saving a loopback webhook without the allow setting: %v", err)
	}
	if err := (&notify.Book{Store: st, Sealer: sealer, Guard: loopback}).Save(ctx, u.ID, "", srv.URL+"/hook", false); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	send := func(g notify.Guard, name string) []storage.NotificationRecord {
		j, err := st.CreateJob(ctx, storage.NewJob{TenantID: tenant.ID, Kind: "training", Name: name, Image: "host", Command: "true", CPU: 1, MemoryGB: 1, Partition: "cpu", CreatedBy: u.ID})
		if err != nil {
			t.Fatal(err)
		}
		finish(t, st, j, "completed")
		s := &notify.Sender{Store: st, Sealer: sealer, Guard: g, Log: log, Backoff: func(int) time.Duration { return time.Hour }}
		if err := s.Drain(ctx); err != nil {
			t.Fatal(err)
		}
		rec, _ := st.NotificationsOfJob(ctx, j.ID)
		return rec
	}
	rec := send(notify.Guard{}, "refused")
	if calls, _ := h.got(); calls != 0 || len(rec) != 1 || rec[0].Sent || !strings.Contains(rec[0].LastError, "internal") || strings.Contains(rec[0].LastError, "/hook") {
		t.Fatalf("sent without the allow setting: %d calls, outbox %+v", calls, rec)
	}
	rec = send(loopback, "allowed")
	if calls, texts := h.got(); calls != 1 || len(texts) != 1 || !strings.Contains(texts[0], "allowed") || len(rec) != 1 || !rec[0].Sent {
		t.Fatalf("with the allow setting: %d calls %q, outbox %+v", calls, texts, rec)
	}
	if rec[0].Target != strings.TrimPrefix(srv.URL, "http://") {
		t.Errorf("the outbox keeps %q, want the host only", rec[0].Target)
	}
}

// URLs stored in plain text before they were sealed are sealed once at
// start, in the settings and in unsent messages, and still delivered.
func TestPlainWebhooksAreSealed(t *testing.T) {
	ctx := context.Background()
	st, dbURL := storagetest.NewStore(t)
	db, err := sql.Open("postgres", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	exec := func(q string, args ...any) {
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatal(err)
		}
	}
	tenant, _ := st.CreateTenant(ctx, "lab")
	u, _ := st.CreateUser(ctx, storage.NewUser{Username: "alice", PasswordHash: "x", Language: "en"}, storage.TenantRole{TenantID: tenant.ID, Role: storage.RoleUser})
	h := &hook{}
	srv := httptest.NewServer(h)
	defer srv.Close()
	j, _ := st.CreateJob(ctx, storage.NewJob{TenantID: tenant.ID, Kind: "training", Name: "old", Image: "host", Command: "true", CPU: 1, MemoryGB: 1, Partition: "cpu", CreatedBy: u.ID})
	exec(`INSERT INTO notification_settings (user_id, webhook_url) VALUES ($1, $2)`, u.ID, srv.URL+"/plain")
	exec(`INSERT INTO notifications (job_id, user_id, channel, target) VALUES ($1, $2, 'webhook', $3)`, j.ID, u.ID, srv.URL+"/plain")
	sealer := newSealer(t)
	if n, err := notify.SealPlainWebhooks(ctx, st, sealer); err != nil || n != 2 {
		t.Fatalf("sealed %d, %v", n, err)
	}
	if n, err := notify.SealPlainWebhooks(ctx, st, sealer); err != nil || n != 0 {
		t.Fatalf("sealed again %d, %v", n, err)
	}
	if plain, _ := st.PlainWebhooks(ctx); len(plain) != 0 {
		t.Fatalf("still plain: %+v", plain)
	}
	s := &notify.Sender{Store: st, Sealer: sealer, Guard: loopback, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := s.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if calls, _ := h.got(); calls != 1 {
		t.Fatalf("%d calls to the formerly plain URL", calls)
	}
}
