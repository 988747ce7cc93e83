package accounts

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"kqi/portal/refusal"
	"kqi/portal/secret"
	"kqi/storage"
)

// Sources registers Git servers and container registries and keeps each
// user's tokens for them, sealed. It also resolves what a training names
// (a repository, an image) to the server and the submitting user's token.
type Sources struct {
	Store  *storage.Store
	Sealer *secret.Sealer
}

var (
	serverName   = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,39}$`)
	registryHost = regexp.MustCompile(`^[A-Za-z0-9.-]+(:[0-9]{1,5})?$`)
)

// CreateGitServer registers a Git server by name and base URL.
func (s *Sources) CreateGitServer(ctx context.Context, name, base string) (*storage.GitServer, error) {
	if !serverName.MatchString(name) {
		return nil, refusal.Invalidf("name", "server.invalid_name")
	}
	u, err := url.Parse(strings.TrimRight(base, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" {
		return nil, refusal.Invalidf("url", "server.invalid_url")
	}
	g, err := s.Store.CreateGitServer(ctx, name, u.String())
	if errors.Is(err, storage.ErrConflict) {
		return nil, taken("name", "server.name_taken")
	}
	return g, err
}

// CreateRegistry registers a container registry by name and host[:port].
func (s *Sources) CreateRegistry(ctx context.Context, name, host string) (*storage.Registry, error) {
	if !serverName.MatchString(name) {
		return nil, refusal.Invalidf("name", "server.invalid_name")
	}
	if !registryHost.MatchString(host) {
		return nil, refusal.Invalidf("host", "server.invalid_host")
	}
	r, err := s.Store.CreateRegistry(ctx, name, strings.ToLower(host))
	if errors.Is(err, storage.ErrConflict) {
		return nil, taken("name", "server.name_taken")
	}
	return r, err
}

// GitServers lists the registered Git servers.
func (s *Sources) GitServers(ctx context.Context) ([]storage.GitServer, error) {
	return s.Store.GitServers(ctx)
}

// Registries lists the registered container registries.
func (s *Sources) Registries(ctx context.Context) ([]storage.Registry, error) {
	return s.Store.Registries(ctx)
}

func label(kind string, serverID, userID int64) string {
	return fmt.Sprintf("%s:%d:user:%d", kind, serverID, userID)
}

// SetToken stores a user's token for a registered server. The token is
// sealed at once and never shown again.
func (s *Sources) SetToken(ctx context.Context, userID int64, kind string, serverID int64, username, token string) error {
	if strings.TrimSpace(token) == "" || strings.ContainsAny(token, "\r\n") {
		return refusal.Invalidf("token", "credential.token_required")
	}
	if strings.ContainsAny(username, "\r\n:") {
		return refusal.Invalidf("username", "credential.invalid_username")
	}
	if !s.serverExists(ctx, kind, serverID) {
		return refusal.Invalidf("server", "credential.unknown_server")
	}
	return s.Store.SetCredential(ctx, userID, storage.Credential{Kind: kind, ServerID: serverID, Username: username,
		Sealed: s.Sealer.Seal(token, label(kind, serverID, userID))})
}

// DeleteToken forgets a user's token for a server.
func (s *Sources) DeleteToken(ctx context.Context, userID int64, kind string, serverID int64) error {
	return s.Store.DeleteCredential(ctx, userID, kind, serverID)
}

// ServerToken is one registered server and whether the user stored a token
// for it; the token itself is never shown again.
type ServerToken struct {
	Kind     string // storage.CredentialGit or storage.CredentialRegistry
	ID       int64
	Name     string
	Where    string // a Git server's URL, a registry's host
	Username string
	HasToken bool
}

// Tokens lists every registered server, Git servers first, with whether
// the user has a token for it.
func (s *Sources) Tokens(ctx context.Context, userID int64) ([]ServerToken, error) {
	creds, err := s.Store.Credentials(ctx, userID)
	if err != nil {
		return nil, err
	}
	var out []ServerToken
	add := func(kind string, id int64, name, where string) {
		st := ServerToken{Kind: kind, ID: id, Name: name, Where: where}
		for _, c := range creds {
			if c.Kind == kind && c.ServerID == id {
				st.HasToken, st.Username = true, c.Username
			}
		}
		out = append(out, st)
	}
	gits, err := s.Store.GitServers(ctx)
	if err != nil {
		return nil, err
	}
	for _, g := range gits {
		add(storage.CredentialGit, g.ID, g.Name, g.URL)
	}
	regs, err := s.Store.Registries(ctx)
	if err != nil {
		return nil, err
	}
	for _, r := range regs {
		add(storage.CredentialRegistry, r.ID, r.Name, r.Host)
	}
	return out, nil
}

func (s *Sources) serverExists(ctx context.Context, kind string, id int64) bool {
	switch kind {
	case storage.CredentialGit:
		list, _ := s.Store.GitServers(ctx)
		for _, g := range list {
			if g.ID == id {
				return true
			}
		}
	case storage.CredentialRegistry:
		list, _ := s.Store.Registries(ctx)
		for _, r := range list {
			if r.ID == id {
				return true
			}
		}
	}
	return false
}

// token opens a user's token for a server; "" when they have none.
func (s *Sources) token(ctx context.Context, userID int64, kind string, serverID int64) (username, token string, err error) {
	c, err := s.Store.CredentialFor(ctx, userID, kind, serverID)
	if errors.Is(err, storage.ErrNotFound) {
		return "", "", nil
	}
	if err != nil {
		return "", "", err
	}
	token, err = s.Sealer.Open(c.Sealed, label(kind, serverID, userID))
	return c.Username, token, err
}

// GitAccess is how a job clones: the URL and, when the user stored one for
// its server, the username and token.
type GitAccess struct {
	URL      string
	Username string
	Token    string
}

// ResolveGit turns what a user typed into a clone URL and credentials.
// "server/path" names a registered server; a full URL (https, http, file)
// is used as is, with the token of the registered server it belongs to.
func (s *Sources) ResolveGit(ctx context.Context, userID int64, repo string) (GitAccess, error) {
	repo = strings.TrimSpace(repo)
	if repo == "" {
		return GitAccess{}, nil
	}
	servers, err := s.Store.GitServers(ctx)
	if err != nil {
		return GitAccess{}, err
	}
	if !strings.Contains(repo, "://") {
		name, path, ok := strings.Cut(repo, "/")
		for _, g := range servers {
			if ok && g.Name == name && path != "" {
				return s.gitAccess(ctx, userID, g, g.URL+"/"+path)
			}
		}
		return GitAccess{}, refusal.Invalidf("git_repository", "training.unknown_git_server")
	}
	for _, g := range servers {
		if strings.HasPrefix(repo, g.URL+"/") {
			return s.gitAccess(ctx, userID, g, repo)
		}
	}
	return GitAccess{URL: repo}, nil
}

func (s *Sources) gitAccess(ctx context.Context, userID int64, g storage.GitServer, repo string) (GitAccess, error) {
	user, token, err := s.token(ctx, userID, storage.CredentialGit, g.ID)
	return GitAccess{URL: repo, Username: user, Token: token}, err
}

// ResolveRegistry finds the registry an image reference names
// (registry/name:tag) and the user's credentials for it, if any.
func (s *Sources) ResolveRegistry(ctx context.Context, userID int64, image string) (username, password string, err error) {
	host, _, ok := strings.Cut(strings.TrimPrefix(image, "docker://"), "/")
	if !ok {
		return "", "", nil
	}
	regs, err := s.Store.Registries(ctx)
	if err != nil {
		return "", "", err
	}
	for _, r := range regs {
		if strings.EqualFold(r.Host, host) {
			return s.token(ctx, userID, storage.CredentialRegistry, r.ID)
		}
	}
	return "", "", nil
}

// GitServer returns a registered Git server and what names it.
func (s *Sources) GitServer(ctx context.Context, id int64) (*storage.GitServer, storage.SourceUse, error) {
	g, err := s.Store.GitServerByID(ctx, id)
	if err != nil {
		return nil, storage.SourceUse{}, err
	}
	use, err := s.Store.GitServerUse(ctx, g)
	return g, use, err
}

// Registry returns a registered registry and what names it.
func (s *Sources) Registry(ctx context.Context, id int64) (*storage.Registry, storage.SourceUse, error) {
	r, err := s.Store.RegistryByID(ctx, id)
	if err != nil {
		return nil, storage.SourceUse{}, err
	}
	use, err := s.Store.RegistryUse(ctx, id)
	return r, use, err
}

// DeleteGitServer unregisters a Git server even while it is in use: the
// users' tokens for it are forgotten, and jobs and preprocessing
// definitions that named it as server/path keep its full URL instead, so
// their history still reads what they cloned (and a copy clones it, now
// without a token).
func (s *Sources) DeleteGitServer(ctx context.Context, id int64) error {
	return s.Store.DeleteGitServer(ctx, id)
}

// DeleteRegistry unregisters a registry and forgets the users' tokens for
// it; jobs name a registry by host inside their image, which stays.
func (s *Sources) DeleteRegistry(ctx context.Context, id int64) error {
	return s.Store.DeleteRegistry(ctx, id)
}
