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
	t, _, _, err := s.APICaller(ctx, token)
	return t, err
}

// APICaller is APITokenByValue with the token's user and membership (its
// tenant and role), in one query: every API call starts with it.
func (s *Store) APICaller(ctx context.Context, token string) (*APIToken, *User, *Membership, error) {
	var t APIToken
	var u User
	var m Membership
	var job, def sql.NullInt64
	var used, disabled sql.NullTime
	var role string
	var cpu, mem, gpu sql.NullInt32
	err := s.db.QueryRowContext(ctx,
		`SELECT a.id, a.user_id, a.tenant_id, a.job_id, a.created_at, a.expires_at, a.created_from, a.last_used_at, a.last_used_from,
			u.id, u.username, u.password_hash, u.is_system_admin, u.default_tenant_id, u.language, u.created_at, u.disabled_at, u.must_change_password,
			m.role, `+tenantColumnsT+`
		 FROM api_tokens a
		 JOIN memberships m ON m.user_id = a.user_id AND m.tenant_id = a.tenant_id
		 JOIN users u ON u.id = a.user_id
		 JOIN tenants t ON t.id = a.tenant_id
		 WHERE a.token_hash = $1 AND a.expires_at > now() AND (u.disabled_at IS NULL OR a.job_id IS NOT NULL)`, secretHash(token)).
		Scan(&t.ID, &t.UserID, &t.TenantID, &job, &t.CreatedAt, &t.ExpiresAt, &t.CreatedFrom, &used, &t.LastUsed,
			&u.ID, &u.Username, &u.PasswordHash, &u.IsSystemAdmin, &def, &u.Language, &u.CreatedAt, &disabled, &u.MustChangePassword,
			&role, &m.Tenant.ID, &m.Tenant.Name, &cpu, &mem, &gpu, &m.Tenant.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, nil, ErrNotFound
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("storage: api token: %w", err)
	}
	t.LastUsedAt, u.DisabledAt = nullTime(used), nullTime(disabled)
	if job.Valid {
		t.JobID = &job.Int64
	}
	if def.Valid {
		u.DefaultTenantID = &def.Int64
	}
	m.UserID, m.Username, m.Role = u.ID, u.Username, Role(role)
	m.Tenant.QuotaCPU, m.Tenant.QuotaMemoryGB, m.Tenant.QuotaGPU = nullInt(cpu), nullInt(mem), nullInt(gpu)
	return &t, &u, &m, nil
}
