package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lib/pq"
)

// SSHKey is a public key a user logs in to the portal's SSH endpoint with.
type SSHKey struct {
	ID          int64
	UserID      int64
	Name        string
	PublicKey   string // one authorized_keys line: type, base64, no comment
	Fingerprint string // SHA256:…, as ssh-keygen -l prints it
	CreatedAt   time.Time
	LastUsedAt  *time.Time
}

// ErrSSHKeyTaken is returned when a key is already registered, by this
// user or another: a key must name exactly one person.
var ErrSSHKeyTaken = errors.New("storage: ssh key already registered")

const sshKeyColumns = `id, user_id, name, public_key, fingerprint, created_at, last_used_at`

func scanSSHKey(row interface{ Scan(...any) error }) (*SSHKey, error) {
	var k SSHKey
	var used sql.NullTime
	if err := row.Scan(&k.ID, &k.UserID, &k.Name, &k.PublicKey, &k.Fingerprint, &k.CreatedAt, &used); err != nil {
		return nil, err
	}
	k.LastUsedAt = nullTime(used)
	return &k, nil
}

// CreateSSHKey registers a key for a user: ErrConflict when the user has
// a key of that name, ErrSSHKeyTaken when the key is registered already.
func (s *Store) CreateSSHKey(ctx context.Context, userID int64, name, publicKey, fingerprint string) (*SSHKey, error) {
	k, err := scanSSHKey(s.db.QueryRowContext(ctx,
		`INSERT INTO ssh_keys (user_id, name, public_key, fingerprint) VALUES ($1, $2, $3, $4)
		 RETURNING `+sshKeyColumns, userID, name, publicKey, fingerprint))
	switch {
	case isUniqueViolation(err) && pqConstraint(err) == "ssh_keys_fingerprint_key":
		return nil, ErrSSHKeyTaken
	case isUniqueViolation(err):
		return nil, ErrConflict
	case err != nil:
		return nil, fmt.Errorf("storage: create ssh key: %w", err)
	}
	return k, nil
}

// SSHKeys lists a user's keys, oldest first.
func (s *Store) SSHKeys(ctx context.Context, userID int64) ([]SSHKey, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+sshKeyColumns+` FROM ssh_keys WHERE user_id = $1 ORDER BY id`, userID)
	if err != nil {
		return nil, fmt.Errorf("storage: ssh keys: %w", err)
	}
	defer rows.Close()
	var out []SSHKey
	for rows.Next() {
		k, err := scanSSHKey(rows)
		if err != nil {
			return nil, fmt.Errorf("storage: ssh keys: %w", err)
		}
		out = append(out, *k)
	}
	return out, rows.Err()
}

// DeleteSSHKey removes one of the user's keys; ErrNotFound when the user
// has no such key.
func (s *Store) DeleteSSHKey(ctx context.Context, userID, id int64) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM ssh_keys WHERE user_id = $1 AND id = $2`, userID, id)
	if err != nil {
		return fmt.Errorf("storage: delete ssh key: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// SSHKeyByFingerprint returns the key with the fingerprint; ErrNotFound
// when no user has it, or its user is disabled.
func (s *Store) SSHKeyByFingerprint(ctx context.Context, fingerprint string) (*SSHKey, error) {
	k, err := scanSSHKey(s.db.QueryRowContext(ctx, `SELECT `+sshKeyColumns+` FROM ssh_keys WHERE fingerprint = $1
		AND user_id IN (SELECT id FROM users WHERE disabled_at IS NULL)`, fingerprint))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("storage: ssh key: %w", err)
	}
	return k, nil
}

// UsedSSHKey records that a key logged in.
func (s *Store) UsedSSHKey(ctx context.Context, id int64) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE ssh_keys SET last_used_at = now() WHERE id = $1`, id); err != nil {
		return fmt.Errorf("storage: ssh key used: %w", err)
	}
	return nil
}

// pqConstraint names the constraint a PostgreSQL error is about.
func pqConstraint(err error) string {
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		return pqErr.Constraint
	}
	return ""
}
