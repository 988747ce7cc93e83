package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// GitServer is a Git host model repositories come from.
type GitServer struct {
	ID        int64
	Name      string
	URL       string // base URL, e.g. https://git.example.org
	CreatedAt time.Time
}

// Registry is a container registry images come from.
type Registry struct {
	ID        int64
	Name      string
	Host      string // e.g. registry.example.org or registry.example.org:5000
	CreatedAt time.Time
}

// CreateGitServer registers a Git server; ErrConflict when the name is taken.
func (s *Store) CreateGitServer(ctx context.Context, name, url string) (*GitServer, error) {
	g := GitServer{Name: name, URL: url}
	err := s.db.QueryRowContext(ctx, `INSERT INTO git_servers (name, url) VALUES ($1, $2) RETURNING id, created_at`, name, url).Scan(&g.ID, &g.CreatedAt)
	if isUniqueViolation(err) {
		return nil, ErrConflict
	}
	if err != nil {
		return nil, wrap("create git server", err)
	}
	return &g, nil
}

// GitServers lists the registered Git servers by name.
func (s *Store) GitServers(ctx context.Context) ([]GitServer, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, name, url, created_at FROM git_servers ORDER BY name`)
	if err != nil {
		return nil, wrap("git servers", err)
	}
	defer rows.Close()
	var out []GitServer
	for rows.Next() {
		var g GitServer
		if err := rows.Scan(&g.ID, &g.Name, &g.URL, &g.CreatedAt); err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// CreateRegistry registers a container registry; ErrConflict when the name
// is taken.
func (s *Store) CreateRegistry(ctx context.Context, name, host string) (*Registry, error) {
	r := Registry{Name: name, Host: host}
	err := s.db.QueryRowContext(ctx, `INSERT INTO registries (name, host) VALUES ($1, $2) RETURNING id, created_at`, name, host).Scan(&r.ID, &r.CreatedAt)
	if isUniqueViolation(err) {
		return nil, ErrConflict
	}
	if err != nil {
		return nil, wrap("create registry", err)
	}
	return &r, nil
}

// Registries lists the registered registries by name.
func (s *Store) Registries(ctx context.Context) ([]Registry, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, name, host, created_at FROM registries ORDER BY name`)
	if err != nil {
		return nil, wrap("registries", err)
	}
	defer rows.Close()
	var out []Registry
	for rows.Next() {
		var r Registry
		if err := rows.Scan(&r.ID, &r.Name, &r.Host, &r.CreatedAt); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Credential kinds.
const (
	CredentialGit      = "git"
	CredentialRegistry = "registry"
)

// Credential is a user's sealed token for one server. Sealed is opened
// only when a job is submitted.
type Credential struct {
	Kind      string
	ServerID  int64
	Username  string
	Sealed    []byte
	UpdatedAt time.Time
}

// SetCredential stores (or replaces) a user's token for a server.
func (s *Store) SetCredential(ctx context.Context, userID int64, c Credential) error {
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO user_credentials (user_id, kind, server_id, username, sealed) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (user_id, kind, server_id) DO UPDATE SET username = EXCLUDED.username, sealed = EXCLUDED.sealed, updated_at = now()`,
		userID, c.Kind, c.ServerID, c.Username, c.Sealed)
	return wrap("set credential", err)
}

// DeleteCredential forgets a user's token for a server.
func (s *Store) DeleteCredential(ctx context.Context, userID int64, kind string, serverID int64) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM user_credentials WHERE user_id = $1 AND kind = $2 AND server_id = $3`, userID, kind, serverID)
	return wrap("delete credential", err)
}

// CredentialFor returns a user's token for a server, or ErrNotFound.
func (s *Store) CredentialFor(ctx context.Context, userID int64, kind string, serverID int64) (*Credential, error) {
	c := Credential{Kind: kind, ServerID: serverID}
	err := s.db.QueryRowContext(ctx, `SELECT username, sealed, updated_at FROM user_credentials WHERE user_id = $1 AND kind = $2 AND server_id = $3`,
		userID, kind, serverID).Scan(&c.Username, &c.Sealed, &c.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("storage: credential: %w", err)
	}
	return &c, nil
}

// Credentials lists which servers a user has tokens for (without the
// sealed values: pages never need them).
func (s *Store) Credentials(ctx context.Context, userID int64) ([]Credential, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT kind, server_id, username, updated_at FROM user_credentials WHERE user_id = $1`, userID)
	if err != nil {
		return nil, wrap("credentials", err)
	}
	defer rows.Close()
	var out []Credential
	for rows.Next() {
		var c Credential
		if err := rows.Scan(&c.Kind, &c.ServerID, &c.Username, &c.UpdatedAt); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
