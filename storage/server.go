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

// GitServerByID returns a registered Git server or ErrNotFound.
func (s *Store) GitServerByID(ctx context.Context, id int64) (*GitServer, error) {
	g := GitServer{ID: id}
	err := s.db.QueryRowContext(ctx, `SELECT name, url, created_at FROM git_servers WHERE id = $1`, id).Scan(&g.Name, &g.URL, &g.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return &g, wrap("git server", err)
}

// RegistryByID returns a registered registry or ErrNotFound.
func (s *Store) RegistryByID(ctx context.Context, id int64) (*Registry, error) {
	r := Registry{ID: id}
	err := s.db.QueryRowContext(ctx, `SELECT name, host, created_at FROM registries WHERE id = $1`, id).Scan(&r.Name, &r.Host, &r.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return &r, wrap("registry", err)
}

// SourceUse is what names a registered server: users' stored tokens for
// it, and (for a Git server) jobs and preprocessing definitions, of any
// tenant, whose repository is given as name/path.
type SourceUse struct {
	Credentials, Jobs, ActiveJobs, Preprocesses int
}

// shortName matches a git_repository written as "name/path" of the Git
// server named $1 (not a URL, which names no registered server by name).
const shortName = `left(git_repository, length($1) + 1) = $1 || '/' AND position('://' in git_repository) = 0`

// GitServerUse counts what names the Git server.
func (s *Store) GitServerUse(ctx context.Context, g *GitServer) (SourceUse, error) {
	var u SourceUse
	err := s.db.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM user_credentials WHERE kind = 'git' AND server_id = $2),
		(SELECT count(*) FROM jobs WHERE `+shortName+`),
		(SELECT count(*) FROM jobs WHERE `+shortName+` AND status IN ('submitting', 'queued', 'running')),
		(SELECT count(*) FROM preprocesses WHERE `+shortName+`)`, g.Name, g.ID).Scan(&u.Credentials, &u.Jobs, &u.ActiveJobs, &u.Preprocesses)
	return u, wrap("git server use", err)
}

// RegistryUse counts users' stored tokens for the registry (jobs name a
// registry by its host inside the image, which stays readable).
func (s *Store) RegistryUse(ctx context.Context, id int64) (SourceUse, error) {
	var u SourceUse
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM user_credentials WHERE kind = 'registry' AND server_id = $1`, id).Scan(&u.Credentials)
	return u, wrap("registry use", err)
}

// DeleteGitServer unregisters a Git server and forgets every user's token
// for it. Jobs and preprocessing definitions that named it as name/path
// are rewritten to its full URL in the same transaction, so their history
// still shows (and a copy still clones) the repository they ran with.
func (s *Store) DeleteGitServer(ctx context.Context, id int64) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var name, url string
		err := tx.QueryRowContext(ctx, `DELETE FROM git_servers WHERE id = $1 RETURNING name, url`, id).Scan(&name, &url)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return wrap("delete git server", err)
		}
		for _, table := range []string{"jobs", "preprocesses"} {
			if _, err := tx.ExecContext(ctx, `UPDATE `+table+` SET git_repository = $2 || substr(git_repository, length($1) + 1)
				WHERE `+shortName, name, url); err != nil {
				return wrap("delete git server: "+table, err)
			}
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM user_credentials WHERE kind = 'git' AND server_id = $1`, id)
		return wrap("delete git server: credentials", err)
	})
}

// DeleteRegistry unregisters a registry and forgets every user's token
// for it.
func (s *Store) DeleteRegistry(ctx context.Context, id int64) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM registries WHERE id = $1`, id)
		if err := oneRow("delete registry", res, err); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM user_credentials WHERE kind = 'registry' AND server_id = $1`, id)
		return wrap("delete registry: credentials", err)
	})
}
