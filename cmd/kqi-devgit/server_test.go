package main

import (
	"bytes"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

const testToken = "devgit-test-token-5b7e"

// syncBuffer is a log sink the server's goroutines and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// git runs git with no user or system configuration and no prompts, so a
// missing credential fails instead of waiting for a terminal.
func git(dir string, args ...string) ([]byte, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.org", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.org")
	return cmd.CombinedOutput()
}

func mustGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := git(dir, args...)
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// devgit serves a root with public/model.git and private/model.git, each
// one commit on main holding a file that says which one it is, and returns
// the server's URL and its log.
func devgit(t *testing.T) (string, *syncBuffer) {
	t.Helper()
	return serveRoot(t, sampleRoot(t))
}

// sampleRoot builds the root devgit serves.
func sampleRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, area := range []string{"public", "private"} {
		work := filepath.Join(t.TempDir(), "work")
		mustGit(t, "", "init", "-q", "-b", "main", work)
		if err := os.WriteFile(filepath.Join(work, "which"), []byte(area+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		mustGit(t, work, "add", "which")
		mustGit(t, work, "commit", "-q", "-m", area)
		mustGit(t, "", "clone", "-q", "--bare", work, filepath.Join(root, area, "model.git"))
	}
	// A file beside the areas that no URL may reach.
	if err := os.WriteFile(filepath.Join(root, "secret.txt"), []byte("nope\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

// serveRoot serves root and returns the server's URL and its log.
func serveRoot(t *testing.T, root string) (string, *syncBuffer) {
	t.Helper()
	gitPath, err := exec.LookPath("git")
	if err != nil {
		t.Fatalf("git is required: %v", err)
	}
	logs := &syncBuffer{}
	h, err := newServer(root, gitPath, []byte(testToken), log.New(logs, "", 0))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL, logs
}

// withCreds puts user:pass into a URL, as a git client given credentials would send them.
func withCreds(url, user, pass string) string {
	return strings.Replace(url, "http://", "http://"+user+":"+pass+"@", 1)
}

func TestPublicCloneNeedsNoToken(t *testing.T) {
	url, logs := devgit(t)
	dst := filepath.Join(t.TempDir(), "clone")
	mustGit(t, "", "clone", "-q", url+"/public/model.git", dst)
	if b, err := os.ReadFile(filepath.Join(dst, "which")); err != nil || string(b) != "public\n" {
		t.Fatalf("cloned file = %q, %v; want public", b, err)
	}
	if branch := strings.TrimSpace(mustGit(t, dst, "rev-parse", "--abbrev-ref", "HEAD")); branch != "main" {
		t.Errorf("default branch = %q, want main", branch)
	}
	if !strings.Contains(logs.String(), `"/public/model.git/info/refs" service=git-upload-pack auth=none status=200`) {
		t.Errorf("log lacks the public ref advertisement:\n%s", logs)
	}
}

func TestPrivateCloneWithToken(t *testing.T) {
	url, logs := devgit(t)
	dst := filepath.Join(t.TempDir(), "clone")
	mustGit(t, "", "clone", "-q", withCreds(url+"/private/model.git", "oauth2", testToken), dst)
	if b, err := os.ReadFile(filepath.Join(dst, "which")); err != nil || string(b) != "private\n" {
		t.Fatalf("cloned file = %q, %v; want private", b, err)
	}
	// Any username works: the token is what counts.
	mustGit(t, "", "ls-remote", withCreds(url+"/private/model.git", "someone", testToken))
	l := logs.String()
	if !strings.Contains(l, "auth=ok status=200") {
		t.Errorf("log lacks an authenticated request:\n%s", l)
	}
	if strings.Contains(l, testToken) {
		t.Errorf("the token appears in the log:\n%s", l)
	}
}

func TestPrivateWithoutRightTokenIs401(t *testing.T) {
	url, logs := devgit(t)
	refs := url + "/private/model.git/info/refs?service=git-upload-pack"
	for name, pass := range map[string]string{"missing": "", "wrong": "not-" + testToken, "prefix": testToken[:5]} {
		t.Run(name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, refs, nil)
			if pass != "" {
				req.SetBasicAuth("oauth2", pass)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("status = %d, want 401", resp.StatusCode)
			}
			if got := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Basic ") {
				t.Errorf("WWW-Authenticate = %q, want a Basic challenge", got)
			}
		})
	}
	if out, err := git("", "clone", "-q", withCreds(url+"/private/model.git", "oauth2", "wrong"), filepath.Join(t.TempDir(), "c")); err == nil {
		t.Errorf("clone with a wrong token succeeded:\n%s", out)
	}
	if l := logs.String(); !strings.Contains(l, "auth=denied status=401") || strings.Contains(l, "not-"+testToken) {
		t.Errorf("log should record the denial without the password tried:\n%s", l)
	}
}

func TestPushIsRefused(t *testing.T) {
	url, _ := devgit(t)
	for _, area := range []string{"public", "private"} {
		t.Run(area, func(t *testing.T) {
			remote := withCreds(url+"/"+area+"/model.git", "oauth2", testToken)
			work := filepath.Join(t.TempDir(), "clone")
			mustGit(t, "", "clone", "-q", remote, work)
			if err := os.WriteFile(filepath.Join(work, "new"), []byte("x\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			mustGit(t, work, "add", "new")
			mustGit(t, work, "commit", "-q", "-m", "push me")
			if out, err := git(work, "push", "-q", "origin", "HEAD:main"); err == nil {
				t.Fatalf("push succeeded:\n%s", out)
			}
			if got := strings.TrimSpace(mustGit(t, "", "ls-remote", remote, "refs/heads/main")); strings.HasPrefix(got, strings.TrimSpace(mustGit(t, work, "rev-parse", "HEAD"))) {
				t.Errorf("main moved to the pushed commit: %s", got)
			}
			for _, req := range []*http.Request{
				httptest.NewRequest(http.MethodGet, "/"+area+"/model.git/info/refs?service=git-receive-pack", nil),
				httptest.NewRequest(http.MethodPost, "/"+area+"/model.git/git-receive-pack", strings.NewReader("0000")),
			} {
				req.SetBasicAuth("oauth2", testToken)
				resp, err := http.DefaultClient.Do(mustOutgoing(t, url, req))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusForbidden {
					t.Errorf("%s %s: status %d, want 403", req.Method, req.URL, resp.StatusCode)
				}
			}
		})
	}
}

// mustOutgoing turns a server-side test request into a client request to base.
func mustOutgoing(t *testing.T, base string, r *http.Request) *http.Request {
	t.Helper()
	out, err := http.NewRequest(r.Method, base+r.URL.RequestURI(), r.Body)
	if err != nil {
		t.Fatal(err)
	}
	out.Header = r.Header
	return out
}

func TestPathTraversalIsRefused(t *testing.T) {
	url, _ := devgit(t)
	// Raw request lines, sent as typed: Go's client would not clean them,
	// but a plain socket leaves no doubt about what the server received.
	for _, path := range []string{
		"/public/../private/model.git/info/refs?service=git-upload-pack",
		"/public/%2e%2e/private/model.git/info/refs?service=git-upload-pack",
		"/public/%2E%2E%2Fprivate/model.git/info/refs?service=git-upload-pack",
		"/public/./../private/model.git/HEAD",
		"/public//private/model.git/HEAD",
		"/public/..",
		"/public/../secret.txt",
		"/private/../public/model.git/HEAD",
		"/secret.txt",
		"/",
		"/other/model.git/HEAD",
		"/public",
		"/public/model.git/..%5C..%5Csecret.txt",
	} {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.URL.Opaque = path // sent verbatim as the request target
		if q := strings.IndexByte(path, '?'); q >= 0 {
			req.URL.Opaque, req.URL.RawQuery = path[:q], path[q+1:]
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", path, resp.StatusCode)
		}
	}
	// The same repository by its honest path is served.
	resp, err := http.Get(url + "/public/model.git/HEAD")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /public/model.git/HEAD: status %d, want 200", resp.StatusCode)
	}
}

func TestRepoArea(t *testing.T) {
	for p, want := range map[string]string{
		"/public/mnist.git/info/refs":  "public",
		"/private/mnist.git/info/refs": "private",
		"/private/team/x.git/HEAD":     "private",
		"/public/../private/x.git":     "",
		"/private/x.git/./HEAD":        "",
		"public/x.git":                 "",
		"/public/":                     "",
		"/Private/x.git":               "",
		"/public/x\\..\\y":             "",
	} {
		got, ok := repoArea(p)
		if got != want || ok != (want != "") {
			t.Errorf("repoArea(%q) = %q, %v; want %q", p, got, ok, want)
		}
	}
}

func TestMethodsOtherThanGetAndPostAreRefused(t *testing.T) {
	url, _ := devgit(t)
	req, _ := http.NewRequest(http.MethodPut, url+"/public/model.git/HEAD", strings.NewReader("x"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("PUT: status %d, want 405", resp.StatusCode)
	}
}

func TestReadToken(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if tok, err := readToken(write("ok", "abc\n", 0o600)); err != nil || string(tok) != "abc" {
		t.Errorf("readToken(0600 file) = %q, %v; want abc", tok, err)
	}
	if _, err := readToken(write("open", "abc\n", 0o644)); err == nil {
		t.Error("a world-readable token file was accepted")
	}
	if _, err := readToken(write("group", "abc\n", 0o640)); err == nil {
		t.Error("a group-readable token file was accepted")
	}
	if _, err := readToken(write("empty", "\n", 0o600)); err == nil {
		t.Error("an empty token file was accepted")
	}
	if _, err := newServer(dir, "git", nil, log.New(os.Stderr, "", 0)); err == nil {
		t.Error("newServer accepted an empty token")
	}
}
