package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The read-only part of Gitea's REST API (/api/v1, also spoken by Forgejo
// and Gogs) that a portal needs to offer repositories, branches and recent
// commits, with Gitea's shapes and its rules where they matter:
//
//   - GET /api/v1/version
//   - GET /api/v1/repos/search?q=&limit=&page=  → {"ok":true,"data":[repository…]}
//   - GET /api/v1/repos/{owner}/{repo}          → repository
//   - GET /api/v1/repos/{owner}/{repo}/branches → [branch…]
//   - GET /api/v1/repos/{owner}/{repo}/commits?sha=&limit= → [commit…];
//     409 on an empty repository, as Gitea answers
//
// The owner is the area (public or private); private repositories are seen
// only with the token (Authorization: "token T", "Bearer T" or Basic with
// T as the password) and are a 404 otherwise, as Gitea hides them. Not
// covered: users, organisations, permissions per repository, paging
// headers (X-Total-Count is set, Link is not), anything that writes.

type apiOwner struct {
	Login string `json:"login"`
}

type apiRepo struct {
	ID            int      `json:"id"`
	Owner         apiOwner `json:"owner"`
	Name          string   `json:"name"`
	FullName      string   `json:"full_name"`
	Description   string   `json:"description"`
	Private       bool     `json:"private"`
	Empty         bool     `json:"empty"`
	HTMLURL       string   `json:"html_url"`
	CloneURL      string   `json:"clone_url"`
	DefaultBranch string   `json:"default_branch"`
	UpdatedAt     string   `json:"updated_at"`
}

type apiPerson struct {
	Name  string `json:"name"`
	Email string `json:"email"`
	Date  string `json:"date,omitempty"`
}

type apiCommit struct {
	SHA    string `json:"sha"`
	Commit struct {
		Message string    `json:"message"`
		Author  apiPerson `json:"author"`
	} `json:"commit"`
}

type apiBranchCommit struct {
	ID        string    `json:"id"`
	Message   string    `json:"message"`
	Author    apiPerson `json:"author"`
	Timestamp string    `json:"timestamp"`
}

type apiBranch struct {
	Name   string          `json:"name"`
	Commit apiBranchCommit `json:"commit"`
}

// api answers under /api/v1; it never reaches http-backend.
func (s *server) api(w http.ResponseWriter, r *http.Request) string {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		apiError(w, http.StatusMethodNotAllowed, "method not allowed")
		return "none"
	}
	authed, auth := s.apiAuth(r)
	if auth == "denied" {
		apiError(w, http.StatusUnauthorized, "token is invalid")
		return auth
	}
	rest := strings.TrimPrefix(r.URL.Path, "/api/v1/")
	switch {
	case rest == "version":
		writeJSON(w, http.StatusOK, map[string]string{"version": "kqi-devgit"})
		return auth
	case rest == "repos/search":
		s.searchRepos(w, r, authed)
		return auth
	}
	segs := strings.Split(rest, "/")
	if len(segs) < 3 || segs[0] != "repos" {
		apiError(w, http.StatusNotFound, "not found")
		return auth
	}
	owner, name := segs[1], segs[2]
	if (owner != "public" && owner != "private") || !validRepoName(name) || (owner == "private" && !authed) {
		apiError(w, http.StatusNotFound, "repository does not exist")
		return auth
	}
	dir := filepath.Join(s.root, owner, name+".git")
	if fi, err := os.Stat(filepath.Join(dir, "HEAD")); err != nil || fi.IsDir() {
		apiError(w, http.StatusNotFound, "repository does not exist")
		return auth
	}
	switch strings.Join(segs[3:], "/") {
	case "":
		repo, err := s.describe(r.Context(), r, owner, name)
		if err != nil {
			apiError(w, http.StatusInternalServerError, err.Error())
			return auth
		}
		writeJSON(w, http.StatusOK, repo)
	case "branches":
		s.branches(w, r, dir)
	case "commits":
		s.commits(w, r, dir)
	default:
		apiError(w, http.StatusNotFound, "not found")
	}
	return auth
}

// apiAuth reads the token the way Gitea accepts one; no credentials at
// all is anonymous, wrong ones are refused (Gitea answers 401 then too).
func (s *server) apiAuth(r *http.Request) (bool, string) {
	var given string
	if _, pass, ok := r.BasicAuth(); ok {
		given = pass
	} else if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "token") && !strings.EqualFold(scheme, "bearer") {
			return false, "denied"
		}
		given = strings.TrimSpace(tok)
	} else {
		return false, "none"
	}
	if !s.tokenMatches(given) {
		return false, "denied"
	}
	return true, "ok"
}

// searchRepos lists the repositories the caller can see whose name holds
// q (case-insensitive), sorted by full name, paged by page and limit
// (Gitea's defaults: page 1, limit 10 up to 50).
func (s *server) searchRepos(w http.ResponseWriter, r *http.Request, authed bool) {
	q := strings.ToLower(r.URL.Query().Get("q"))
	limit := atoiOr(r.URL.Query().Get("limit"), 10)
	limit = min(max(limit, 1), 50)
	page := max(atoiOr(r.URL.Query().Get("page"), 1), 1)
	areas := []string{"public"}
	if authed {
		areas = append(areas, "private")
	}
	var all []apiRepo
	for _, area := range areas {
		entries, _ := os.ReadDir(filepath.Join(s.root, area))
		for _, e := range entries {
			name, ok := strings.CutSuffix(e.Name(), ".git")
			if !ok || !e.IsDir() || !validRepoName(name) || (q != "" && !strings.Contains(strings.ToLower(name), q)) {
				continue
			}
			repo, err := s.describe(r.Context(), r, area, name)
			if err != nil {
				s.log.Printf("describing %s/%s: %v", area, name, err)
				continue
			}
			all = append(all, repo)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].FullName < all[j].FullName })
	for i := range all {
		all[i].ID = i + 1
	}
	w.Header().Set("X-Total-Count", strconv.Itoa(len(all)))
	from := min((page-1)*limit, len(all))
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "data": all[from:min(from+limit, len(all))]})
}

// describe is one repository as Gitea shows it; clone_url is where this
// server serves it, as the request reached us.
func (s *server) describe(ctx context.Context, r *http.Request, area, name string) (apiRepo, error) {
	dir := filepath.Join(s.root, area, name+".git")
	base := "http://" + r.Host
	repo := apiRepo{Owner: apiOwner{Login: area}, Name: name, FullName: area + "/" + name, Private: area == "private",
		HTMLURL: base + "/" + area + "/" + name, CloneURL: base + "/" + area + "/" + name + ".git"}
	if b, err := os.ReadFile(filepath.Join(dir, "description")); err == nil && !bytes.HasPrefix(b, []byte("Unnamed repository")) {
		repo.Description = strings.TrimSpace(string(b))
	}
	head, err := s.git(ctx, dir, "symbolic-ref", "--short", "HEAD")
	if err != nil {
		return repo, err
	}
	repo.DefaultBranch = strings.TrimSpace(head)
	refs, err := s.git(ctx, dir, "for-each-ref", "--count=1", "--sort=-committerdate", "--format=%(committerdate:iso-strict)", "refs/heads")
	if err != nil {
		return repo, err
	}
	repo.UpdatedAt = strings.TrimSpace(refs)
	repo.Empty = repo.UpdatedAt == ""
	return repo, nil
}

// logFormat is one commit a line: sha, author name, e-mail, date, subject.
const logFormat = "%H%x1f%an%x1f%ae%x1f%aI%x1f%s"

func (s *server) branches(w http.ResponseWriter, r *http.Request, dir string) {
	out, err := s.git(r.Context(), dir, "for-each-ref", "--sort=refname",
		"--format=%(refname:short)%1f%(objectname)%1f%(authorname)%1f%(authoremail:trim)%1f%(authordate:iso-strict)%1f%(contents:subject)", "refs/heads")
	if err != nil {
		apiError(w, http.StatusInternalServerError, err.Error())
		return
	}
	list := []apiBranch{}
	for _, line := range lines(out) {
		f := strings.Split(line, "\x1f")
		if len(f) != 6 {
			continue
		}
		list = append(list, apiBranch{Name: f[0], Commit: apiBranchCommit{ID: f[1], Message: f[5],
			Author: apiPerson{Name: f[2], Email: f[3]}, Timestamp: f[4]}})
	}
	writeJSON(w, http.StatusOK, list)
}

// commits lists the newest commits reachable from sha (a branch, tag or
// commit; the default branch when empty), at most limit (default 10, up
// to 50).
func (s *server) commits(w http.ResponseWriter, r *http.Request, dir string) {
	q := r.URL.Query()
	limit := min(max(atoiOr(q.Get("limit"), 10), 1), 50)
	rev := q.Get("sha")
	if rev == "" {
		rev = "HEAD"
	}
	if strings.HasPrefix(rev, "-") {
		apiError(w, http.StatusNotFound, "sha not found")
		return
	}
	if out, _ := s.git(r.Context(), dir, "for-each-ref", "--count=1", "refs/heads"); strings.TrimSpace(out) == "" {
		apiError(w, http.StatusConflict, "Git Repository is empty.")
		return
	}
	out, err := s.git(r.Context(), dir, "log", "-n", strconv.Itoa(limit), "--format="+logFormat, rev, "--")
	if err != nil {
		apiError(w, http.StatusNotFound, "sha not found")
		return
	}
	list := []apiCommit{}
	for _, line := range lines(out) {
		f := strings.SplitN(line, "\x1f", 5)
		if len(f) != 5 {
			continue
		}
		var c apiCommit
		c.SHA = f[0]
		c.Commit.Author = apiPerson{Name: f[1], Email: f[2], Date: f[3]}
		c.Commit.Message = f[4]
		list = append(list, c)
	}
	writeJSON(w, http.StatusOK, list)
}

// git runs a read-only git command in a bare repository, with the same
// locked-down configuration http-backend gets.
func (s *server) git(ctx context.Context, dir string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.gitPath, append([]string{"--git-dir", dir}, args...)...)
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/nonexistent", "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=safe.directory", "GIT_CONFIG_VALUE_0=*"}
	out, err := cmd.Output()
	return string(out), err
}

// validRepoName is a name git http-backend would also serve: no path
// separators, no dot files.
func validRepoName(name string) bool {
	return name != "" && !strings.HasPrefix(name, ".") && !strings.ContainsAny(name, "/\\\x00")
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

func atoiOr(s string, def int) int {
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	return def
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// apiError is Gitea's error body.
func apiError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"message": msg, "url": "https://docs.gitea.com/api"})
}
