// Package picker gathers the choices a job form offers: the registered Git
// servers, their repositories, a repository's branches and recent commits
// (with the user's token), the site's images, and what one node of a
// partition and the tenant's quota leave for the resources asked for. The
// web forms and the JSON API show the same lists.
package picker

import (
	"context"
	"errors"
	"sort"
	"strings"
	"sync"
	"time"

	"kqi/portal/accounts"
	"kqi/portal/gitref"
	"kqi/portal/jobs"
	"kqi/storage"
)

// Service builds the choices.
type Service struct {
	Sources *accounts.Sources
	Jobs    *jobs.Service
	// Refs runs git ls-remote (gitref.Lister).
	Refs interface {
		Refs(ctx context.Context, acc accounts.GitAccess) (map[string]string, error)
	}
	API      gitref.Gitea // repositories and commits where the server lists them
	Registry Registry     // images where a registry lists them

	imagesMu  sync.Mutex
	images    []string // the image store's
	imagesAt  time.Time
	regImages map[int64]cachedImages // the registries', per user
}

// New is the service over the job service's sources and lister.
func New(sources *accounts.Sources, js *jobs.Service) *Service {
	// The picker asks afresh each time (a branch just pushed shows); the
	// submit's check may answer from gitref.Recent.
	return &Service{Sources: sources, Jobs: js, Refs: gitref.Lister{Timeout: 10 * time.Second}}
}

// Problem is why a list is missing: a catalog key and its argument.
type Problem struct {
	Key string `json:"key"`
	Arg string `json:"arg,omitempty"`
}

// Server is a registered Git server as a choice.
type Server struct {
	Name     string `json:"name"`
	URL      string `json:"url"`
	HasToken bool   `json:"has_token"`
}

// Repo is a repository a server listed; Value is what the form's
// repository field takes ("server/path", which the submit resolves).
type Repo struct {
	Value         string `json:"value"`
	FullName      string `json:"full_name"`
	Description   string `json:"description,omitempty"`
	DefaultBranch string `json:"default_branch,omitempty"`
	Private       bool   `json:"private"`
	Empty         bool   `json:"empty"`
}

// Branch is a branch or tag and the commit it points at.
type Branch struct {
	Name   string `json:"name"`
	Commit string `json:"commit"`
	Tag    bool   `json:"tag,omitempty"`
}

// Commit is a recent commit of the chosen branch; Subject, Author and
// Date only where the server tells them.
type Commit struct {
	SHA     string    `json:"sha"`
	Subject string    `json:"subject,omitempty"`
	Author  string    `json:"author,omitempty"`
	Date    time.Time `json:"date,omitzero"`
}

// Short is the commit's first 10 hex digits.
func (c Commit) Short() string { return c.SHA[:min(10, len(c.SHA))] }

// Git is the model part of a form: the servers, and the lists for what is
// chosen so far. A list that could not be made says why in its problem.
type Git struct {
	Servers      []Server `json:"servers"`
	Server       string   `json:"server"` // the chosen one's name, "" = none
	Repos        []Repo   `json:"repositories,omitempty"`
	ReposProblem *Problem `json:"repositories_problem,omitempty"`
	Branches     []Branch `json:"branches,omitempty"`
	Commits      []Commit `json:"commits,omitempty"`
	RefsProblem  *Problem `json:"refs_problem,omitempty"`
	RefsListed   bool     `json:"refs_listed"` // branches were asked for and answered
}

// HasRepo reports whether value is one of the listed repositories.
func (g Git) HasRepo(value string) bool {
	for _, r := range g.Repos {
		if r.Value == value {
			return true
		}
	}
	return false
}

// HasBranch reports whether name is one of the listed branches.
func (g Git) HasBranch(name string) bool {
	for _, b := range g.Branches {
		if b.Name == name {
			return true
		}
	}
	return false
}

// HasCommit reports whether sha is one of the listed commits.
func (g Git) HasCommit(sha string) bool {
	for _, c := range g.Commits {
		if c.SHA == sha {
			return true
		}
	}
	return false
}

// commitsShown is how many recent commits a branch offers.
const commitsShown = 10

// GitChoice is what the form has chosen so far. ServerSet tells an
// explicit "no server" ("type a URL") from a form that never said (a
// copy-run), where the server is the one the repository is on. A
// repository on a registered server has its branches listed always, any
// other only when Asked (its list button): a URL typed by hand may be
// anywhere, and every render of the form would wait for it.
type GitChoice struct {
	Server     string
	ServerSet  bool
	Repository string
	Branch     string
	Asked      bool
}

// Git lists what a user with the choice made so far can choose next.
func (s *Service) Git(ctx context.Context, userID int64, c GitChoice) (Git, error) {
	var g Git
	tokens, err := s.Sources.Tokens(ctx, userID)
	if err != nil {
		return g, err
	}
	servers := map[string]Server{}
	for _, t := range tokens {
		if t.Kind == storage.CredentialGit {
			sv := Server{Name: t.Name, URL: t.Where, HasToken: t.HasToken}
			g.Servers = append(g.Servers, sv)
			servers[t.Name] = sv
		}
	}
	repo := strings.TrimSpace(c.Repository)
	server, ok := servers[c.Server]
	if !c.ServerSet {
		server, ok = serverOf(g.Servers, repo)
	}
	if ok {
		g.Server = server.Name
		g.Repos, g.ReposProblem = s.repos(ctx, userID, server)
	}
	if rsv, onServer := serverOf(g.Servers, repo); repo != "" && (onServer || c.Asked) {
		g.Branches, g.Commits, g.RefsProblem = s.refs(ctx, userID, rsv, onServer, repo, strings.TrimSpace(c.Branch))
		g.RefsListed = g.RefsProblem == nil
	}
	return g, nil
}

// serverOf is the registered server a repository value is on: "name/path"
// or a URL under the server's.
func serverOf(servers []Server, repo string) (Server, bool) {
	for _, sv := range servers {
		if strings.HasPrefix(repo, sv.Name+"/") || strings.HasPrefix(repo, sv.URL+"/") {
			return sv, true
		}
	}
	return Server{}, false
}

func (s *Service) repos(ctx context.Context, userID int64, sv Server) ([]Repo, *Problem) {
	// A URL under the server's resolves to that server and the user's
	// token for it.
	acc, err := s.Sources.ResolveGit(ctx, userID, sv.URL+"/")
	if err != nil {
		return nil, &Problem{Key: "picker.server_unreachable", Arg: err.Error()}
	}
	list, err := s.API.Repositories(ctx, sv.URL, acc.Token)
	switch {
	case errors.Is(err, gitref.ErrNotListable):
		return nil, &Problem{Key: "picker.not_listable"}
	case errors.Is(err, gitref.ErrAuth):
		return nil, tokenProblem(acc.Token)
	case err != nil:
		return nil, &Problem{Key: "picker.server_unreachable", Arg: err.Error()}
	}
	out := make([]Repo, 0, len(list))
	for _, r := range list {
		path, under := strings.CutPrefix(r.CloneURL, sv.URL+"/")
		value := sv.Name + "/" + path
		if !under {
			value = r.CloneURL // served from elsewhere: its own URL
		}
		out = append(out, Repo{Value: value, FullName: r.FullName, Description: r.Description,
			DefaultBranch: r.DefaultBranch, Private: r.Private, Empty: r.Empty})
	}
	if len(out) == 0 {
		return nil, &Problem{Key: "picker.no_repositories"}
	}
	return out, nil
}

func tokenProblem(token string) *Problem {
	if token == "" {
		return &Problem{Key: "picker.token_missing"}
	}
	return &Problem{Key: "picker.token_refused"}
}

// refs lists the repository's branches and tags with git ls-remote (what
// the submit checks too) and the chosen branch's recent commits from the
// server's API, or only its tip where the server has none.
func (s *Service) refs(ctx context.Context, userID int64, sv Server, onServer bool, repo, branch string) ([]Branch, []Commit, *Problem) {
	acc, err := s.Sources.ResolveGit(ctx, userID, repo)
	if err != nil {
		return nil, nil, &Problem{Key: "picker.unknown_repository"}
	}
	refs, err := s.Refs.Refs(ctx, acc)
	switch {
	case errors.Is(err, gitref.ErrAuth):
		return nil, nil, tokenProblem(acc.Token)
	case err != nil:
		return nil, nil, &Problem{Key: "git.unreachable", Arg: err.Error()}
	}
	var branches []Branch
	for ref, sha := range refs {
		if name, ok := strings.CutPrefix(ref, "refs/heads/"); ok {
			branches = append(branches, Branch{Name: name, Commit: sha})
		} else if name, ok := strings.CutPrefix(ref, "refs/tags/"); ok && !strings.HasSuffix(name, "^{}") {
			branches = append(branches, Branch{Name: name, Commit: sha, Tag: true})
		}
	}
	if len(branches) == 0 {
		return nil, nil, &Problem{Key: "picker.no_branches"}
	}
	sort.Slice(branches, func(i, j int) bool {
		if branches[i].Tag != branches[j].Tag {
			return !branches[i].Tag
		}
		return branches[i].Name < branches[j].Name
	})
	var commits []Commit
	if onServer {
		if path, ok := strings.CutPrefix(acc.URL, sv.URL+"/"); ok {
			list, err := s.API.Commits(ctx, sv.URL, strings.TrimSuffix(path, ".git"), branch, acc.Token, commitsShown)
			if err == nil {
				for _, c := range list {
					commits = append(commits, Commit{SHA: c.SHA, Subject: c.Subject, Author: c.Author, Date: c.Date})
				}
			}
		}
	}
	if commits == nil {
		// No API: the tip of the branch asked for, else of each branch.
		for _, b := range branches {
			if !b.Tag && (branch == "" || b.Name == branch) {
				commits = append(commits, Commit{SHA: b.Commit})
			}
		}
	}
	return branches, commits, nil
}
