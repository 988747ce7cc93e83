package web_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"kqi/portal/config"
	"kqi/portal/portaltest"
	"kqi/storage"
)

// shellJob records a training in a status, on the fake cluster.
func shellJob(t *testing.T, env *portaltest.Env, tenantID int64, status string) *storage.Job {
	t.Helper()
	ctx := context.Background()
	j, err := env.Store.CreateJob(ctx, storage.NewJob{TenantID: tenantID, Kind: "training", Name: "t-" + status, Image: "host", Command: "true", CPU: 1, MemoryGB: 1, Partition: "cpu"})
	if err != nil {
		t.Fatal(err)
	}
	if status == "submitting" {
		return j
	}
	env.Store.SetJobQueued(ctx, j.ID, "77")
	now := time.Now()
	code := 0
	switch status {
	case "running":
		env.Store.UpdateJobState(ctx, j.ID, storage.JobState{Status: "running", StartedAt: &now})
	case "completed":
		env.Store.UpdateJobState(ctx, j.ID, storage.JobState{Status: "completed", StartedAt: &now, EndedAt: &now, ExitCode: &code})
	}
	j, _ = env.Store.JobByID(ctx, tenantID, j.ID)
	return j
}

// The job page's shell section in every state: the Shell button and the
// ssh command line only while the job runs; the log empty or with a
// session (open, or ended with its exit code).
func TestJobPageShell(t *testing.T) {
	env := portaltest.New(t)
	lab := env.Tenant(t, "lab")
	u := env.User(t, "alice", pw, false, "lab")
	b := env.Browser(t)
	b.Login("alice", pw)
	ctx := context.Background()
	running, queued, ended := shellJob(t, env, lab.ID, "running"), shellJob(t, env, lab.ID, "queued"), shellJob(t, env, lab.ID, "completed")
	open, _ := env.Store.OpenShellSession(ctx, storage.NewShellSession{TenantID: lab.ID, JobID: ended.ID, UserID: u.ID, Via: "ssh", RemoteAddr: "192.0.2.7:40000"}, 4)
	code := 3
	env.Store.EndShellSession(ctx, open.ID, &code, "exit")
	env.Store.OpenShellSession(ctx, storage.NewShellSession{TenantID: lab.ID, JobID: running.ID, UserID: u.ID, Via: "web", RemoteAddr: "192.0.2.8", Interactive: true}, 4)

	for _, tc := range []struct {
		name      string
		job       *storage.Job
		want, not []string
	}{
		{"running, one open session", running,
			[]string{`id="training-shell" >`, fmt.Sprintf("ssh -p 2022 training-%d@localhost", running.ID), "192.0.2.8", "browser", ">open<"},
			[]string{"No shell has been opened"}},
		{"queued, no session", queued,
			[]string{"A shell can be opened while the job runs.", "No shell has been opened in this job.", `id="training-shell" hidden`},
			[]string{"ssh -p 2022"}},
		{"ended, one ended session", ended,
			[]string{"192.0.2.7:40000", "one command", "exited", "(exit code 3)"},
			[]string{`id="training-shell"`, ">open<", "No shell has been opened"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := b.Get(fmt.Sprintf("/trainings/%d", tc.job.ID))
			if p.Status != http.StatusOK {
				t.Fatalf("status %d", p.Status)
			}
			for _, w := range tc.want {
				if !strings.Contains(p.Body, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(p.Body, n) {
					t.Errorf("page has %q", n)
				}
			}
		})
	}
}

// The terminal page: the terminal while the job runs, a clear message
// before and after, not found for another tenant's job.
func TestShellPage(t *testing.T) {
	env := portaltest.New(t)
	lab := env.Tenant(t, "lab")
	other := env.Tenant(t, "other")
	env.User(t, "alice", pw, false, "lab")
	b := env.Browser(t)
	b.Login("alice", pw)
	for _, tc := range []struct {
		status string
		want   string
	}{
		{"running", `data-shell-socket="/trainings/`},
		{"submitting", "The job is not running yet"},
		{"queued", "The job is not running yet"},
		{"completed", "The job has ended"},
	} {
		t.Run(tc.status, func(t *testing.T) {
			j := shellJob(t, env, lab.ID, tc.status)
			p := b.Get(fmt.Sprintf("/trainings/%d/shell", j.ID))
			if p.Status != http.StatusOK || !strings.Contains(p.Body, tc.want) {
				t.Errorf("status %d, page lacks %q", p.Status, tc.want)
			}
			if tc.status == "running" && (!strings.Contains(p.Body, "/static/vendor/xterm/xterm.js") || strings.Contains(p.Body, "<script>")) {
				t.Error("the terminal page does not load the vendored xterm.js from a file")
			}
		})
	}
	foreign := shellJob(t, env, other.ID, "running")
	if p := b.Get(fmt.Sprintf("/trainings/%d/shell", foreign.ID)); p.Status != http.StatusNotFound {
		t.Errorf("another tenant's job's terminal: %d", p.Status)
	}
	if p := b.Get("/static/vendor/xterm/xterm.js"); p.Status != http.StatusOK || !strings.Contains(p.Body, "Terminal") {
		t.Errorf("vendored xterm.js: %d", p.Status)
	}
}

// The SSH key settings page: empty, with keys (name, fingerprint,
// delete), a bad key refused with what was typed kept, and another
// user's key not deletable.
func TestSSHKeysPage(t *testing.T) {
	env := portaltest.New(t)
	env.Tenant(t, "lab")
	env.User(t, "alice", pw, false, "lab")
	env.User(t, "bob", pw, false, "lab")
	b := env.Browser(t)
	b.Login("alice", pw)
	const path = "/settings/ssh-keys"

	if p := b.Get("/settings"); !strings.Contains(p.Body, `href="`+path+`"`) {
		t.Error("the settings page does not link the SSH keys")
	}
	if p := b.Get(path); p.Status != http.StatusOK || !strings.Contains(p.Body, "You have no SSH keys yet.") {
		t.Errorf("empty: %d", p.Status)
	}

	p := b.Submit(path, path, url.Values{"name": {"laptop"}, "public_key": {"ssh-ed25519 garbage"}})
	if p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Body, "That is not one SSH public key") ||
		!strings.Contains(p.Body, `value="laptop"`) || !strings.Contains(p.Body, "ssh-ed25519 garbage") {
		t.Errorf("a bad key: %d", p.Status)
	}
	if p := b.Submit(path, path, url.Values{"name": {""}, "public_key": {""}}); p.Status != http.StatusUnprocessableEntity ||
		!strings.Contains(p.Body, "Give the key a name.") || !strings.Contains(p.Body, "Paste a public key.") {
		t.Errorf("an empty form: %d", p.Status)
	}

	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	key, _ := ssh.NewPublicKey(pub)
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key))) + " alice@laptop"
	if p := b.Submit(path, path, url.Values{"name": {"laptop"}, "public_key": {line}}); p.Status != http.StatusSeeOther {
		t.Fatalf("a good key: %d %s", p.Status, p.Body)
	}
	p = b.Get(path)
	if !strings.Contains(p.Body, "SSH key added.") || !strings.Contains(p.Body, strings.ReplaceAll(ssh.FingerprintSHA256(key), "+", "&#43;")) || !strings.Contains(p.Body, "laptop") {
		t.Error("with a key: no flash, name or fingerprint")
	}
	if p := b.Submit(path, path, url.Values{"name": {"again"}, "public_key": {line}}); p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Body, "registered already") {
		t.Errorf("the same key twice: %d", p.Status)
	}

	keys, _ := env.Store.SSHKeys(context.Background(), 1)
	del := fmt.Sprintf("%s/%d/delete", path, keys[0].ID)
	bob := env.Browser(t)
	bob.Login("bob", pw)
	if p := bob.Submit(path, del, nil); p.Status != http.StatusNotFound {
		t.Errorf("bob deleting alice's key: %d", p.Status)
	}
	if p := b.Submit(path, del, nil); p.Status != http.StatusSeeOther {
		t.Errorf("deleting: %d", p.Status)
	}
	if p := b.Get(path); !strings.Contains(p.Body, "SSH key deleted.") || !strings.Contains(p.Body, "You have no SSH keys yet.") {
		t.Error("after deleting: the key is still listed")
	}
}

// A site with KQI_SHELL_LISTEN=off offers no shell anywhere: no button,
// no ssh line, no SSH key settings, and the routes are not found.
func TestShellsOff(t *testing.T) {
	env := portaltest.New(t, func(c *config.Config) { c.Shell.Listen = "off" })
	lab := env.Tenant(t, "lab")
	env.User(t, "alice", pw, false, "lab")
	b := env.Browser(t)
	b.Login("alice", pw)
	j := shellJob(t, env, lab.ID, "running")
	page := b.Get(fmt.Sprintf("/trainings/%d", j.ID))
	for _, absent := range []string{`id="training-shell"`, `id="shell-log"`, "ssh -p"} {
		if strings.Contains(page.Body, absent) {
			t.Errorf("the job page has %q", absent)
		}
	}
	if p := b.Get("/settings"); strings.Contains(p.Body, "/settings/ssh-keys") {
		t.Error("the settings link the SSH keys")
	}
	for _, path := range []string{fmt.Sprintf("/trainings/%d/shell", j.ID), "/settings/ssh-keys"} {
		if p := b.Get(path); p.Status != http.StatusNotFound {
			t.Errorf("%s: %d", path, p.Status)
		}
	}
}
