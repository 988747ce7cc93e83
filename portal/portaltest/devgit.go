package portaltest

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kqi/slurm/slurmtest"
)

// DevGit is a Git server of the test's own: cmd/kqi-devgit built from this
// tree, on a free port, serving
//   - public/mnist.git: the dev cluster's sample repository with a second
//     commit on main and a branch "dev" at the sample's commit, so a test
//     can pick a commit that is not the newest;
//   - private/mnist.git: the same, behind Token;
//   - public/empty.git: no commits at all.
//
// The dev cluster's own server serves the sample as it is, and may have
// been started from an older tree; this one always speaks the listing API
// of the tree under test. Jobs on the dev cluster clone from it as they
// would from any Git server.
type DevGit struct {
	URL    string // http://127.0.0.1:port
	Token  string // the private repositories' token
	Sample string // the sample's commit: main~1 and dev
	Newest string // main's commit
}

// StartDevGit starts the server for the test; it stops at the test's end.
func StartDevGit(t testing.TB) *DevGit {
	t.Helper()
	dev := slurmtest.Integration(t, "KQI_DEV_GIT_PUBLIC_REPO")
	dir := t.TempDir()
	bin := filepath.Join(dir, "kqi-devgit")
	if out, err := exec.Command("go", "build", "-o", bin, "kqi/cmd/kqi-devgit").CombinedOutput(); err != nil {
		t.Fatalf("build kqi-devgit: %v\n%s", err, out)
	}
	root := filepath.Join(dir, "repos")
	work := filepath.Join(dir, "work")
	git(t, "", "clone", "-q", dev["KQI_DEV_GIT_PUBLIC_REPO"], work)
	g := &DevGit{Token: "devgit-" + strings.ReplaceAll(t.Name(), "/", "-")}
	g.Sample = strings.TrimSpace(git(t, work, "rev-parse", "HEAD"))
	git(t, work, "branch", "dev")
	if err := os.WriteFile(filepath.Join(work, "NEWER.md"), []byte("A commit after the sample's.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, work, "add", "NEWER.md")
	git(t, work, "commit", "-q", "-m", "A newer commit on main")
	g.Newest = strings.TrimSpace(git(t, work, "rev-parse", "HEAD"))
	for _, area := range []string{"public", "private"} {
		bare := filepath.Join(root, area, "mnist.git")
		git(t, "", "init", "-q", "--bare", "-b", "main", bare)
		git(t, work, "push", "-q", bare, "main", "dev")
	}
	git(t, "", "init", "-q", "--bare", "-b", "main", filepath.Join(root, "public", "empty.git"))
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(g.Token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "-listen", addr, "-root", root, "-token-file", tokenFile)
	if testing.Verbose() {
		cmd.Stderr = os.Stderr // its request log
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	g.URL = "http://" + addr
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get(g.URL + "/api/v1/version")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return g
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("kqi-devgit on %s does not answer: %v", addr, err)
		}
	}
}

// git runs git without system or user configuration, as the author of
// the test's commits.
func git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME=KQI test", "GIT_AUTHOR_EMAIL=test@kqi.invalid", "GIT_COMMITTER_NAME=KQI test", "GIT_COMMITTER_EMAIL=test@kqi.invalid")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
