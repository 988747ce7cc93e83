package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"kqi/portal/config"
	"kqi/slurm/slurmtest"
	"kqi/storage/storagetest"
)

func TestWarnOpenSharedRoot(t *testing.T) {
	for mode, warns := range map[os.FileMode]bool{0o700: false, 0o750: false, 0o755: true, 0o777: true} {
		dir := t.TempDir()
		if err := os.Chmod(dir, mode); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		warnOpenSharedRoot(&config.Config{FileStore: "local", SharedRoot: dir}, slog.New(slog.NewTextHandler(&buf, nil)))
		if got := strings.Contains(buf.String(), "KQI_SHARED_ROOT is open"); got != warns {
			t.Errorf("mode %o: warned %v, want %v (%q)", mode, got, warns, buf.String())
		}
	}
}

// A site without slurmrestd runs on the SSH backend alone: serve starts
// with the login node's settings and no KQI_SLURM_REST_URL or JWT key, and
// is ready once PostgreSQL, Slurm (over SSH) and the files answer, the
// files read locally or over SFTP through the same login node dialer.
func TestServeSSHBackendWithoutSlurmrestd(t *testing.T) {
	login := slurmtest.Integration(t, "KQI_SHARED_ROOT", "KQI_SLURM_USER", "KQI_SSH_ADDR", "KQI_SSH_USER", "KQI_SSH_KEY_FILE", "KQI_SSH_KNOWN_HOSTS")
	for _, store := range []string{"local", "sftp"} {
		t.Run(store, func(t *testing.T) {
			_, dbURL := storagetest.NewStore(t)
			dir := t.TempDir()
			secretKey := filepath.Join(dir, "secret.key")
			if err := os.WriteFile(secretKey, bytes.Repeat([]byte{7}, 32), 0o600); err != nil {
				t.Fatal(err)
			}
			env := map[string]string{
				"KQI_LISTEN":          "127.0.0.1:" + freePort(t),
				"KQI_DATABASE_URL":    dbURL,
				"KQI_SECRET_KEY_FILE": secretKey,
				"KQI_SHARED_ROOT":     sharedRoot(t, login["KQI_SHARED_ROOT"], login["KQI_SLURM_USER"]),
				"KQI_FILE_STORE":      store,
				"KQI_SLURM_BACKEND":   "ssh",
				"KQI_SHELL_LISTEN":    "127.0.0.1:" + freePort(t),
			}
			for _, k := range []string{"KQI_SLURM_USER", "KQI_SSH_ADDR", "KQI_SSH_USER", "KQI_SSH_KEY_FILE", "KQI_SSH_KNOWN_HOSTS"} {
				env[k] = login[k]
			}
			serveUntilReady(t, env)
		})
	}
}

// sharedRoot makes a directory on the dev cluster's shared filesystem that
// the cluster account owns, as the README asks of KQI_SHARED_ROOT.
func sharedRoot(t *testing.T, root, owner string) string {
	t.Helper()
	dir, err := os.MkdirTemp(root, "test-cli-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	u, err := user.Lookup(owner)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatalf("chown the shared root to the cluster account (tests run as root): %v", err)
	}
	return dir
}

// serveUntilReady runs serve with env until /readyz answers 200, then
// stops it and checks it shut down cleanly.
func serveUntilReady(t *testing.T, env map[string]string) {
	t.Helper()
	getenv := func(k string) string { return env[k] }
	cfg, err := config.Load("t", nil, getenv)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), getenv, io.Discard)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve on shutdown: %v", err)
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-done:
			done <- nil // reported here, not again on the way out
			t.Fatalf("serve stopped: %v", err)
		default:
		}
		resp, err := http.Get(cfg.BaseURL + "/readyz")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			err = fmt.Errorf("readyz %d: %s", resp.StatusCode, body)
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// freePort returns a TCP port on 127.0.0.1 that nothing listens on now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}
