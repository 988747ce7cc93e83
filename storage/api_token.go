package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// APIToken authorises API calls of one user in one tenant. The bearer value
// is shown once, to its owner; only its hash is stored.
type APIToken struct {
	ID       int64
	UserID   int64
	TenantID int64
	// JobID, when set, limits the token to that job: it is the job's
	// KQI_TOKEN.
	JobID       *int64
	CreatedAt   time.Time
	ExpiresAt   time.Time
	CreatedFrom string     // the address it was issued to
	LastUsedAt  *time.Time // nil: never used
	LastUsed    string     // the address it was last used from
	TenantName  string     // filled by UserAPITokens
}

// CreateAPIToken stores a token for user in tenant.
func (s *Store) CreateAPIToken(ctx context.Context, token string, userID, tenantID int64, expires time.Time) (*APIToken, error) {
	t := APIToken{UserID: userID, TenantID: tenantID, ExpiresAt: expires}
	err := s.db.QueryRowContext(ctx,
		`INSERT INTO api_tokens (token_hash, user_id, tenant_id, expires_at)
		 VALUES ($1, $2, $3, $4) RETURNING id, created_at`,
		secretHash(token), userID, tenantID, expires).Scan(&t.ID, &t.CreatedAt)
	if err != nil {
		return nil, fmt.Errorf("storage: create api token: %w", err)
	}
	return &t, nil
}

// APITokenByValue returns an unexpired token whose owner is still a member
// of its tenant, or ErrNotFound. A disabled user's own tokens are ended
// when they are disabled, and refused here too; their jobs' tokens work
// on, so running jobs are not broken.
func (s *Store) APITokenByValue(ctx context.Context, token string) (*APIToken, error) {
	var t APIToken
	var job sql.NullInt64
	var used sql.NullTime
	err := s.db.QueryRowContext(ctx,
		`SELECT a.id, a.user_id, a.tenant_id, a.job_id, a.created_at, a.expires_at, a.created_from, a.last_used_at, a.last_used_from
		 FROM api_tokens a
		 JOIN memberships m ON m.user_id = a.user_id AND m.tenant_id = a.tenant_id
		 JOIN users u ON u.id = a.user_id
		 WHERE a.token_hash = $1 AND a.expires_at > now() AND (u.disabled_at IS NULL OR a.job_id IS NOT NULL)`, secretHash(token)).
		Scan(&t.ID, &t.UserID, &t.TenantID, &job, &t.CreatedAt, &t.ExpiresAt, &t.CreatedFrom, &used, &t.LastUsed)
	t.LastUsedAt = nullTime(used)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("storage: api token: %w", err)
	}
	if job.Valid {
		t.JobID = &job.Int64
	}
	return &t, nil
}
