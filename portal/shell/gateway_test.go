package shell_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/crypto/ssh"

	"kqi/portal/portaltest"
	"kqi/portal/shell"
	"kqi/storage"
)

// fakeRunning records a training whose Slurm job runs, on the fake
// cluster: the portal's side of shells without the dev cluster.
func fakeRunning(t *testing.T, env *portaltest.Env, tenantID int64) *storage.Job {
	t.Helper()
	ctx := context.Background()
	j, err := env.Store.CreateJob(ctx, storage.NewJob{TenantID: tenantID, Kind: "training", Name: "t", Image: "host", Command: "true", CPU: 1, MemoryGB: 1, Partition: "cpu"})
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Store.SetJobDir(ctx, j.ID, "tenants/1/jobs/1"); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Store.SetJobQueued(ctx, j.ID, "4242"); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := env.Store.UpdateJobState(ctx, j.ID, storage.JobState{Status: "running", StartedAt: &now}); err != nil {
		t.Fatal(err)
	}
	j, _ = env.Store.JobByID(ctx, tenantID, j.ID)
	return j
}

// openTerminal opens an interactive shell with a terminal over the Go
// client and waits for the fake shell's banner.
func openTerminal(t *testing.T, ep endpoint, login string, signer ssh.Signer) (*ssh.Session, *syncBuffer) {
	t.Helper()
	c, err := ep.dial(t, login, ssh.PublicKeys(signer))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	sess, _ := c.NewSession()
	out := &syncBuffer{}
	sess.Stdout, sess.Stderr = out, out
	in, _ := sess.StdinPipe() // kept open: the end of input would end the fake shell
	t.Cleanup(func() { in.Close() })
	sess.RequestPty("xterm", 24, 80, ssh.TerminalModes{})
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	return sess, out
}

// The portal's rules over the SSH endpoint: the per-user cap, the idle
// timeout, the end of the job, each told to the user and recorded.
func TestShellRules(t *testing.T) {
	env := portaltest.New(t)
	lab := env.Tenant(t, "lab")
	alice := env.User(t, "alice", pw, false, "lab")
	_, signer := userKey(t, env, alice.ID)
	ep := startEndpoint(t, env)
	ctx := context.Background()

	t.Run("cap", func(t *testing.T) {
		j := fakeRunning(t, env, lab.ID)
		env.Shell.Cfg.MaxPerUser = 1
		defer func() { env.Shell.Cfg.MaxPerUser = 4 }()
		first, out := openTerminal(t, ep, fmt.Sprintf("training-%d", j.ID), signer)
		readUntil(t, out, "fake shell of job 4242")
		second, out2 := openTerminal(t, ep, fmt.Sprintf("training-%d", j.ID), signer)
		var exit *ssh.ExitError
		if err := second.Wait(); !errors.As(err, &exit) || exit.ExitStatus() != 1 || !strings.Contains(out2.String(), "You have 1 shells open already") {
			t.Errorf("a second shell over the cap: %v, %q", err, out2.String())
		}
		first.Close()
		if keys, _ := env.Store.SSHKeys(ctx, alice.ID); len(keys) != 1 || keys[0].LastUsedAt == nil {
			t.Errorf("the key's use after a login is not recorded: %+v", keys)
		}
	})

	t.Run("idle", func(t *testing.T) {
		j := fakeRunning(t, env, lab.ID)
		env.Shell.Cfg.Idle = 300 * time.Millisecond
		defer func() { env.Shell.Cfg.Idle = 30 * time.Minute }()
		sess, out := openTerminal(t, ep, fmt.Sprintf("training-%d", j.ID), signer)
		if err := sess.Wait(); err != nil && !strings.Contains(out.String(), "closed because it was idle") {
			t.Errorf("an idle shell: %v, %q", err, out.String())
		}
		portaltest.Eventually(t, func() error {
			log, _ := env.Store.ShellSessions(ctx, lab.ID, j.ID, 1)
			if len(log) != 1 || log[0].EndReason != shell.EndIdle {
				return fmt.Errorf("the idle shell's record: %+v", log)
			}
			return nil
		})
	})

	t.Run("the job ends", func(t *testing.T) {
		j := fakeRunning(t, env, lab.ID)
		sess, out := openTerminal(t, ep, fmt.Sprintf("training-%d", j.ID), signer)
		readUntil(t, out, "fake shell")
		code := 0
		env.Store.UpdateJobState(ctx, j.ID, storage.JobState{Status: "completed", ExitCode: &code})
		sess.Wait()
		if !strings.Contains(out.String(), "closed because the job has ended") {
			t.Errorf("a shell into a job that ended: %q", out.String())
		}
		log, _ := env.Store.ShellSessions(ctx, lab.ID, j.ID, 1)
		if len(log) != 1 || log[0].EndReason != shell.EndJobEnded {
			t.Errorf("its record: %+v", log)
		}
	})
}

// The page terminal's WebSocket opens only for a logged-in member, from
// the portal's own origin, with the page's CSRF token; a refusal reaches
// the terminal as a message.
func TestShellWebSocket(t *testing.T) {
	env := portaltest.New(t)
	lab := env.Tenant(t, "lab")
	env.Tenant(t, "other")
	env.User(t, "alice", pw, false, "lab")
	env.User(t, "mallory", pw, false, "other")
	j := fakeRunning(t, env, lab.ID)
	alice := env.Browser(t)
	alice.Login("alice", pw)
	csrf := alice.CSRF(fmt.Sprintf("/trainings/%d", j.ID))
	wsURL := func(id int64, token string) string {
		return "ws" + strings.TrimPrefix(env.URL, "http") + fmt.Sprintf("/trainings/%d/shell/ws?csrf=%s&cols=100&rows=30", id, url.QueryEscape(token))
	}
	dial := func(b *portaltest.Browser, u, origin string) (*websocket.Conn, *http.Response, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		if b != nil {
			client.Jar = b.Client.Jar
		}
		return websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: client, HTTPHeader: h})
	}

	for name, tc := range map[string]struct {
		browser *portaltest.Browser
		url     string
		origin  string
		status  int
	}{
		"a foreign origin":      {alice, wsURL(j.ID, csrf), "https://evil.example.org", http.StatusForbidden},
		"no origin":             {alice, wsURL(j.ID, csrf), "", http.StatusForbidden},
		"no CSRF token":         {alice, wsURL(j.ID, ""), env.URL, http.StatusForbidden},
		"no session":            {nil, wsURL(j.ID, csrf), env.URL, http.StatusSeeOther},
		"another tenant's user": {nil, wsURL(j.ID, csrf), env.URL, http.StatusNotFound},
	} {
		t.Run(name, func(t *testing.T) {
			b := tc.browser
			token := csrf
			if name == "another tenant's user" {
				b = env.Browser(t)
				b.Login("mallory", pw)
				token = b.CSRF("/trainings")
				tc.url = wsURL(j.ID, token)
			}
			conn, resp, err := dial(b, tc.url, tc.origin)
			if err == nil {
				conn.CloseNow()
				t.Fatal("the WebSocket opened")
			}
			if resp == nil || resp.StatusCode != tc.status {
				t.Errorf("answer %v, want %d", resp, tc.status)
			}
		})
	}

	t.Run("opens", func(t *testing.T) {
		conn, _, err := dial(alice, wsURL(j.ID, csrf), env.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.CloseNow()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn.Write(ctx, websocket.MessageText, []byte(`{"type":"resize","cols":120,"rows":40}`))
		conn.Write(ctx, websocket.MessageBinary, []byte("echo me\r"))
		var got strings.Builder
		for !strings.Contains(got.String(), "echo me") {
			typ, b, err := conn.Read(ctx)
			if err != nil {
				t.Fatalf("reading the terminal: %v (so far %q)", err, got.String())
			}
			if typ == websocket.MessageBinary {
				got.Write(b)
			}
		}
		if !strings.HasPrefix(got.String(), "fake shell of job 4242") {
			t.Errorf("terminal output %q", got.String())
		}
		fake := env.Shell.Opener.(*portaltest.FakeShells)
		if req := fake.Requests[len(fake.Requests)-1]; req.Term != "xterm-256color" || req.Cols != 100 || req.Rows != 30 || req.Command != "" {
			t.Errorf("the shell asked of the cluster: %+v", req)
		}
		conn.Close(websocket.StatusNormalClosure, "")
		portaltest.Eventually(t, func() error {
			log, _ := env.Store.ShellSessions(context.Background(), lab.ID, j.ID, 1)
			if len(log) != 1 || log[0].Via != "web" || log[0].EndedAt == nil || log[0].Username != "alice" {
				return fmt.Errorf("the web shell's record: %+v", log)
			}
			return nil
		})
	})

	t.Run("a job that ended", func(t *testing.T) {
		code := 0
		env.Store.UpdateJobState(context.Background(), j.ID, storage.JobState{Status: "completed", ExitCode: &code})
		conn, _, err := dial(alice, wsURL(j.ID, csrf), env.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.CloseNow()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		typ, b, err := conn.Read(ctx)
		if err != nil || typ != websocket.MessageText || !strings.Contains(string(b), `"type":"error"`) || !strings.Contains(string(b), "The job has ended") {
			t.Errorf("the terminal of an ended job got %v %q %v", typ, b, err)
		}
	})
}
