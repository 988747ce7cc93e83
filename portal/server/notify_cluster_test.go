package server_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"kqi/portal/config"
	"kqi/portal/jobs"
	"kqi/portal/notify"
	"kqi/portal/portaltest"
	"kqi/storage"
)

// mailsTo reads the dev SMTP sink's messages whose envelope names addr.
func mailsTo(t *testing.T, dir, addr string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("the dev mail sink's directory: %v", err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err == nil && strings.Contains(string(b), "X-Envelope-To: <"+addr+">\r\n") {
			out = append(out, string(b))
		}
	}
	return out
}

// A training that completes on the dev cluster sends its creator one mail
// through the dev SMTP server and one webhook call, and no more however
// often the sender runs after.
func TestFinishedTrainingNotifies(t *testing.T) {
	// The test's receiver is on this host's loopback, which webhooks may
	// reach only by the site's leave.
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	env := portaltest.New(t, portaltest.WithCluster, func(c *config.Config) { c.WebhookAllow = loopback })
	smtpAddr, mailDir := os.Getenv("KQI_DEV_SMTP_ADDR"), os.Getenv("KQI_DEV_SMTP_DIR")
	if smtpAddr == "" || mailDir == "" {
		t.Fatal("KQI_DEV_SMTP_ADDR and KQI_DEV_SMTP_DIR are not set: run scripts/dev-cluster.sh up")
	}
	lab := env.Tenant(t, "vision")
	u := env.User(t, "alice", "correct-horse-9", false, "vision")
	ctx0 := context.Background()
	tag := make([]byte, 6)
	rand.Read(tag)
	addr := "alice-" + hex.EncodeToString(tag) + "@example.org"

	var mu sync.Mutex
	var hooks []string
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Text string }
		json.NewDecoder(r.Body).Decode(&body)
		mu.Lock()
		hooks = append(hooks, body.Text)
		mu.Unlock()
	}))
	defer receiver.Close()

	// Chosen in the settings form, as a person would.
	b := env.Browser(t)
	b.Login("alice", "correct-horse-9")
	if p := b.Submit("/settings", "/settings/notifications", map[string][]string{"notify_email": {addr}, "notify_webhook": {receiver.URL + "/services/T0/B0"}}); p.Status != http.StatusSeeOther {
		t.Fatalf("settings: %d", p.Status)
	}
	if p := b.Get("/settings"); !strings.Contains(p.Body, "Notification settings saved.") || !strings.Contains(p.Body, `value="`+addr+`"`) ||
		!strings.Contains(p.Body, `id="notify-webhook-set"`) || strings.Contains(p.Body, "/services/T0/B0") {
		t.Fatalf("the settings page after saving (the webhook is shown by its host only):\n%s", p.Body)
	}

	dsID, err := env.Store.CreateDataset(ctx0, storage.NewDataset{TenantID: lab.ID, Name: "mnist"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(ctx0)
	defer stop()
	go env.Jobs.Run(ctx, 300*time.Millisecond)
	sender := &notify.Sender{Store: env.Store, SMTP: config.SMTP{Addr: smtpAddr, From: "kqi@dev.example.org"}, BaseURL: env.URL,
		Sealer: env.Sealer, Guard: notify.Guard{Allow: loopback}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	go sender.Run(ctx, 200*time.Millisecond)

	tr, err := env.Jobs.Submit(ctx0, jobs.Actor{TenantID: lab.ID, UserID: u.ID}, jobs.Training,
		jobs.Request{Name: "notified", DatasetID: dsID, CPU: 1, MemoryGB: 1, Partition: "cpu", Command: "echo done"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.Jobs.Cluster.Cancel(context.Background(), tr.SlurmJobID) })
	deadline := time.Now().Add(2 * time.Minute)
	for {
		mu.Lock()
		n := len(hooks)
		mu.Unlock()
		if n >= 1 && len(mailsTo(t, mailDir, addr)) >= 1 {
			break
		}
		if time.Now().After(deadline) {
			got, _ := env.Store.JobByID(ctx0, lab.ID, tr.ID)
			rec, _ := env.Store.NotificationsOfJob(ctx0, tr.ID)
			t.Fatalf("no mail and webhook call; training %s, outbox %+v", got.Status, rec)
		}
		time.Sleep(300 * time.Millisecond)
	}
	time.Sleep(time.Second) // more polls and drains: nothing more may come
	mails := mailsTo(t, mailDir, addr)
	mu.Lock()
	defer mu.Unlock()
	if len(mails) != 1 || len(hooks) != 1 {
		t.Fatalf("%d mails and %d webhook calls, want one each", len(mails), len(hooks))
	}
	for _, want := range []string{"To: " + addr, "Subject: [KQI] training #", "notified", "completed", env.URL + "/trainings/"} {
		if !strings.Contains(mails[0], want) {
			t.Errorf("the mail lacks %q:\n%s", want, mails[0])
		}
		if want != "To: "+addr && !strings.Contains(hooks[0], strings.TrimPrefix(want, "Subject: ")) {
			t.Errorf("the webhook text lacks %q:\n%s", want, hooks[0])
		}
	}
}
