package shell_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"kqi/portal/portaltest"
	"kqi/portal/shell"
	"kqi/storage"
)

// A shell already open ends, told to its user and recorded, when the
// user loses access to the job: their account disabled or their tenant
// membership removed, over the SSH endpoint and the page's WebSocket alike.
// The shells check the database, so a change made by another portal
// process counts as well.
func TestShellEndsWithAccess(t *testing.T) {
	env := portaltest.New(t)
	lab := env.Tenant(t, "lab")
	ep := startEndpoint(t, env)
	ctx := context.Background()
	record := func(t *testing.T, jobID int64, reason string) {
		t.Helper()
		portaltest.Eventually(t, func() error {
			log, _ := env.Store.ShellSessions(ctx, lab.ID, jobID, 1)
			if len(log) != 1 || log[0].EndedAt == nil || log[0].EndReason != reason {
				return fmt.Errorf("the shell's record: %+v", log)
			}
			return nil
		})
	}

	for _, tc := range []struct {
		name, user, reason, told string
		revoke                   func(u *storage.User) error
	}{
		{"disabled", "bob", shell.EndDisabled, "your account was disabled",
			func(u *storage.User) error { return env.Store.SetUserDisabled(ctx, u.ID, true) }},
		{"removed from the tenant", "carol", shell.EndNotMember, "no longer a member of this tenant",
			func(u *storage.User) error { return env.Store.RemoveMembership(ctx, u.ID, lab.ID) }},
	} {
		t.Run("ssh/"+tc.name, func(t *testing.T) {
			u := env.User(t, tc.user, pw, false, "lab")
			_, signer := userKey(t, env, u.ID)
			j := fakeRunning(t, env, lab.ID)
			sess, out := openTerminal(t, ep, fmt.Sprintf("training-%d", j.ID), signer)
			readUntil(t, out, "fake shell of job 4242")
			if err := tc.revoke(u); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- sess.Wait() }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("the shell stays open")
			}
			if !strings.Contains(out.String(), tc.told) {
				t.Errorf("the user is not told: %q", out.String())
			}
			record(t, j.ID, tc.reason)
		})
	}

	t.Run("web/disabled", func(t *testing.T) {
		u := env.User(t, "dave", pw, false, "lab")
		j := fakeRunning(t, env, lab.ID)
		b := env.Browser(t)
		b.Login("dave", pw)
		csrf := b.CSRF(fmt.Sprintf("/trainings/%d", j.ID))
		u2 := "ws" + strings.TrimPrefix(env.URL, "http") + fmt.Sprintf("/trainings/%d/shell/ws?csrf=%s", j.ID, url.QueryEscape(csrf))
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		h := http.Header{"Origin": {env.URL}}
		conn, _, err := websocket.Dial(ctx, u2, &websocket.DialOptions{HTTPClient: &http.Client{Jar: b.Client.Jar}, HTTPHeader: h})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.CloseNow()
		if _, first, err := conn.Read(ctx); err != nil || !strings.Contains(string(first), "fake shell") {
			t.Fatalf("the terminal's first output: %q %v", first, err)
		}
		if err := env.Store.SetUserDisabled(ctx, u.ID, true); err != nil {
			t.Fatal(err)
		}
		var last string
		for {
			typ, msg, err := conn.Read(ctx)
			if err != nil {
				break
			}
			if typ == websocket.MessageText {
				last = string(msg)
			}
		}
		if !strings.Contains(last, `"type":"exit"`) || !strings.Contains(last, "your account was disabled") {
			t.Errorf("the terminal's last word: %q", last)
		}
		record(t, j.ID, shell.EndDisabled)
	})
}
