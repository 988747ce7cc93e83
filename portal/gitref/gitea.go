package gitref

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ErrNotListable is a Git server that offers no listing API (plain git
// http-backend, or a product whose API we do not speak): the user types
// the repository's path.
var ErrNotListable = errors.New("the Git server does not list its repositories")

// ErrAuth is a Git server that wants a token it was not given, or refused
// the one it was given.
var ErrAuth = errors.New("the Git server wants a token it was not given or refused")

// Repository is one repository a server lists.
type Repository struct {
	FullName      string // owner/name
	Description   string
	CloneURL      string
	DefaultBranch string
	Private       bool
	Empty         bool
}

// Commit is one commit of a branch with what the server tells of it.
type Commit struct {
	SHA     string
	Subject string // first line of the message
	Author  string
	Date    time.Time
}

// Gitea speaks the part of Gitea's REST API v1 (also Forgejo's and
// Gogs') that lists repositories and commits, with the user's token.
type Gitea struct {
	Client *http.Client // nil: a client with a 5 s timeout
}

const listLimit = 50

// Repositories lists the repositories the token (or anyone, without one)
// may see on the server at base, at most 50.
func (g Gitea) Repositories(ctx context.Context, base, token string) ([]Repository, error) {
	var answer struct {
		OK   bool `json:"ok"`
		Data []struct {
			FullName      string `json:"full_name"`
			Description   string `json:"description"`
			CloneURL      string `json:"clone_url"`
			DefaultBranch string `json:"default_branch"`
			Private       bool   `json:"private"`
			Empty         bool   `json:"empty"`
		} `json:"data"`
	}
	if err := g.get(ctx, base, "/api/v1/repos/search?limit="+strconv.Itoa(listLimit), token, &answer); err != nil {
		return nil, err
	}
	if !answer.OK {
		return nil, ErrNotListable
	}
	out := make([]Repository, 0, len(answer.Data))
	for _, r := range answer.Data {
		out = append(out, Repository{FullName: r.FullName, Description: r.Description, CloneURL: r.CloneURL,
			DefaultBranch: r.DefaultBranch, Private: r.Private, Empty: r.Empty})
	}
	return out, nil
}

// Commits lists the newest commits of ref (a branch, a tag; the default
// branch when "") of the repository owner/name, at most limit. An empty
// repository has none.
func (g Gitea) Commits(ctx context.Context, base, fullName, ref, token string, limit int) ([]Commit, error) {
	owner, name, ok := strings.Cut(fullName, "/")
	if !ok || strings.Contains(name, "/") {
		return nil, ErrNotListable
	}
	q := url.Values{"limit": {strconv.Itoa(limit)}, "stat": {"false"}}
	if ref != "" {
		q.Set("sha", ref)
	}
	var answer []struct {
		SHA    string `json:"sha"`
		Commit struct {
			Message string `json:"message"`
			Author  struct {
				Name string    `json:"name"`
				Date time.Time `json:"date"`
			} `json:"author"`
		} `json:"commit"`
	}
	err := g.get(ctx, base, "/api/v1/repos/"+url.PathEscape(owner)+"/"+url.PathEscape(name)+"/commits?"+q.Encode(), token, &answer)
	var st statusError
	if errors.As(err, &st) && st == http.StatusConflict { // Gitea: "Git Repository is empty."
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := make([]Commit, 0, len(answer))
	for _, c := range answer {
		subject, _, _ := strings.Cut(c.Commit.Message, "\n")
		out = append(out, Commit{SHA: c.SHA, Subject: subject, Author: c.Commit.Author.Name, Date: c.Commit.Author.Date})
	}
	return out, nil
}

// statusError is an answer that was not 200.
type statusError int

func (e statusError) Error() string { return fmt.Sprintf("the Git server answered %d", int(e)) }

// get asks the server and decodes its JSON answer: 404 (no such API) is
// ErrNotListable, 401 and 403 ErrAuth.
func (g Gitea) get(ctx context.Context, base, path, token string, v any) error {
	client := g.Client
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "token "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is already on the form
		}
		return err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return ErrNotListable
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return ErrAuth
	case resp.StatusCode != http.StatusOK:
		return statusError(resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(v); err != nil {
		return ErrNotListable // not the API we speak
	}
	return nil
}
