package main

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/cgi"
	"os"
	"strings"
	"time"
)

// server serves the bare repositories under root read-only over Git's smart
// HTTP protocol by running `git http-backend` as a CGI program.
//
// The first path segment decides access: "public" repositories are open to
// anyone who can reach the listener, "private" ones need HTTP Basic auth
// whose password is the token (any username, as GitLab's "oauth2" or
// GitHub's x-access-token: the job script sends "oauth2"). Nothing else
// under root is served.
type server struct {
	token   []byte
	root    string
	gitPath string
	backend http.Handler
	log     *log.Logger
}

// newServer returns the handler for the repositories under root. gitPath is
// the git executable; token must not be empty.
func newServer(root, gitPath string, token []byte, logger *log.Logger) (*server, error) {
	if len(token) == 0 {
		return nil, errors.New("empty token: private repositories would be open to anyone")
	}
	if fi, err := os.Stat(root); err != nil {
		return nil, err
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", root)
	}
	backend := &cgi.Handler{
		Path: gitPath,
		Args: []string{"http-backend"},
		Env: []string{
			"GIT_PROJECT_ROOT=" + root,
			// Every repository under root is meant to be served; without
			// this http-backend wants a git-daemon-export-ok file in each.
			"GIT_HTTP_EXPORT_ALL=1",
			// No system or user configuration changes what is served.
			"GIT_CONFIG_NOSYSTEM=1",
			"GIT_CONFIG_GLOBAL=/dev/null",
			// The repositories belong to whoever built them (root in the dev
			// cluster), not to the unprivileged user serving them; git
			// refuses such "dubious ownership" unless told otherwise, and
			// safe.directory is only honoured from command-line-level
			// configuration like this. receivepack=false is a second lock
			// behind the handler's own refusal of pushes.
			"GIT_CONFIG_COUNT=2",
			"GIT_CONFIG_KEY_0=safe.directory", "GIT_CONFIG_VALUE_0=*",
			"GIT_CONFIG_KEY_1=http.receivepack", "GIT_CONFIG_VALUE_1=false",
		},
	}
	return &server{token: token, root: root, gitPath: gitPath, backend: backend, log: logger}, nil
}

// ServeHTTP checks the path, refuses pushes, authenticates private
// repositories and hands the rest to git http-backend. Each request is
// logged with its path and the service asked for, never its query string
// or headers, which is where credentials travel.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	auth := s.serve(rec, r)
	service := r.URL.Query().Get("service")
	if service == "" {
		service = "-"
	}
	s.log.Printf("%s %s %q service=%s auth=%s status=%d bytes=%d %s",
		r.RemoteAddr, r.Method, r.URL.Path, service, auth, rec.status, rec.bytes,
		time.Since(start).Round(time.Millisecond))
}

// serve does the work of ServeHTTP and returns what authentication did, for
// the log: "none" (public or refused before it mattered), "ok" or "denied".
func (s *server) serve(w http.ResponseWriter, r *http.Request) string {
	if r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return "none"
	}
	if strings.HasPrefix(r.URL.Path, "/api/v1/") {
		return s.api(w, r)
	}
	area, ok := repoArea(r.URL.Path)
	if !ok {
		http.NotFound(w, r)
		return "none"
	}
	if isPush(r) {
		http.Error(w, "this server is read-only: push is not supported", http.StatusForbidden)
		return "none"
	}
	if area == "private" {
		_, pass, ok := r.BasicAuth()
		if !ok || !s.tokenMatches(pass) {
			w.Header().Set("WWW-Authenticate", `Basic realm="kqi-devgit private repositories"`)
			http.Error(w, "authentication required: the password is the token", http.StatusUnauthorized)
			return "denied"
		}
		s.backend.ServeHTTP(w, r)
		return "ok"
	}
	s.backend.ServeHTTP(w, r)
	return "none"
}

func (s *server) tokenMatches(given string) bool {
	return subtle.ConstantTimeCompare([]byte(given), s.token) == 1
}

// repoArea returns "public" or "private" for a path inside one of those two
// directories. It refuses empty, "." and ".." segments (r.URL.Path is
// already percent-decoded, so %2e%2e is caught too): access is decided by
// the first segment, so "/public/../private/x" must never reach
// http-backend, which would resolve it into the private area.
func repoArea(p string) (string, bool) {
	if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, "\\\x00") {
		return "", false
	}
	segs := strings.Split(p[1:], "/")
	if len(segs) < 2 {
		return "", false
	}
	for _, seg := range segs {
		if seg == "" || seg == "." || seg == ".." {
			return "", false
		}
	}
	switch segs[0] {
	case "public", "private":
		return segs[0], true
	}
	return "", false
}

// isPush reports a request of the push protocol: its ref advertisement or
// the pack upload itself.
func isPush(r *http.Request) bool {
	return r.URL.Query().Get("service") == "git-receive-pack" ||
		strings.HasSuffix(r.URL.Path, "/git-receive-pack")
}

// recorder remembers the status and size of a response for the log.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	wrote  bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// Flush lets http-backend's streamed pack reach the client as it is
// produced, as it would without the recorder.
func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// readToken reads the token file, refusing one that other users could
// read: the token is the only thing guarding the private repositories.
// Surrounding whitespace (a trailing newline) is not part of the token.
func readToken(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("token file %s has mode %04o; it must be readable by its owner only (chmod 600)", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	tok := []byte(strings.TrimSpace(string(b)))
	if len(tok) == 0 {
		return nil, fmt.Errorf("token file %s is empty", path)
	}
	return tok, nil
}
