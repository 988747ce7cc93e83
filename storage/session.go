package storage

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Session is a logged-in browser. Its id lives only in the user's cookie;
// the database keeps a hash of it.
type Session struct {
	UserID    int64
	TenantID  *int64 // the tenant the user is working in; nil when they have none
	CreatedAt time.Time
	ExpiresAt time.Time
}

// secretHash is how session ids and API tokens are stored.
func secretHash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// SessionKey is the stored form of a session id, for SetPassword's keepSession.
func SessionKey(id string) []byte { return secretHash(id) }

// CreateSession stores a new session under id.
func (s *Store) CreateSession(ctx context.Context, id string, sess Session) error {
	_, err := s.db.ExecContext(ctx,
		`INSERT INTO sessions (id_hash, user_id, tenant_id, expires_at)
		 VALUES ($1, $2, $3, $4)`,
		secretHash(id), sess.UserID, sess.TenantID, sess.ExpiresAt)
	if err != nil {
		return fmt.Errorf("storage: create session: %w", err)
	}
	return nil
}

// SessionByID returns a session that has not expired by now, or
// ErrNotFound. The caller's clock decides, the one that set ExpiresAt.
func (s *Store) SessionByID(ctx context.Context, id string, now time.Time) (*Session, error) {
	var sess Session
	var tenant sql.NullInt64
	err := s.db.QueryRowContext(ctx,
		`SELECT user_id, tenant_id, created_at, expires_at
		 FROM sessions WHERE id_hash = $1 AND expires_at > $2`, secretHash(id), now).
		Scan(&sess.UserID, &tenant, &sess.CreatedAt, &sess.ExpiresAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("storage: session: %w", err)
	}
	if tenant.Valid {
		sess.TenantID = &tenant.Int64
	}
	return &sess, nil
}

// ExtendSession moves a session's expiry (sliding idle timeout).
func (s *Store) ExtendSession(ctx context.Context, id string, expires time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE sessions SET expires_at = $2 WHERE id_hash = $1`, secretHash(id), expires)
	if err != nil {
		return fmt.Errorf("storage: extend session: %w", err)
	}
	return nil
}

// SetSessionTenant switches the tenant a session works in. The caller has
// checked membership.
func (s *Store) SetSessionTenant(ctx context.Context, id string, tenantID int64) error {
	_, err := s.db.ExecContext(ctx, `UPDATE sessions SET tenant_id = $2 WHERE id_hash = $1`, secretHash(id), tenantID)
	if err != nil {
		return fmt.Errorf("storage: switch tenant: %w", err)
	}
	return nil
}

// DeleteSession logs a browser out.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE id_hash = $1`, secretHash(id))
	if err != nil {
		return fmt.Errorf("storage: delete session: %w", err)
	}
	return nil
}

// DeleteExpired removes sessions and API tokens past their expiry.
func (s *Store) DeleteExpired(ctx context.Context) (int64, error) {
	var total int64
	for _, q := range []string{
		`DELETE FROM sessions WHERE expires_at <= now()`,
		`DELETE FROM api_tokens WHERE expires_at <= now()`,
	} {
		res, err := s.db.ExecContext(ctx, q)
		if err != nil {
			return total, fmt.Errorf("storage: delete expired: %w", err)
		}
		n, _ := res.RowsAffected()
		total += n
	}
	return total, nil
}
