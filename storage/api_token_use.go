package storage

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// NoteAPITokenIssued records the address a token was issued to.
func (s *Store) NoteAPITokenIssued(ctx context.Context, id int64, from string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE api_tokens SET created_from = $2 WHERE id = $1`, id, from)
	return wrap("note api token issued", err)
}

// TouchAPIToken records a use of a token: when and from where.
func (s *Store) TouchAPIToken(ctx context.Context, id int64, at time.Time, from string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE api_tokens SET last_used_at = $2, last_used_from = $3 WHERE id = $1`, id, at, from)
	return wrap("touch api token", err)
}

// UserAPITokens lists the user's own live tokens (not jobs' tokens),
// newest first, with their tenants' names.
func (s *Store) UserAPITokens(ctx context.Context, userID int64) ([]APIToken, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT a.id, a.user_id, a.tenant_id, t.name, a.created_at, a.expires_at, a.created_from, a.last_used_at, a.last_used_from
		 FROM api_tokens a JOIN tenants t ON t.id = a.tenant_id
		 WHERE a.user_id = $1 AND a.job_id IS NULL AND a.expires_at > now()
		 ORDER BY a.created_at DESC, a.id DESC`, userID)
	if err != nil {
		return nil, fmt.Errorf("storage: api tokens: %w", err)
	}
	defer rows.Close()
	var out []APIToken
	for rows.Next() {
		var t APIToken
		var used sql.NullTime
		if err := rows.Scan(&t.ID, &t.UserID, &t.TenantID, &t.TenantName, &t.CreatedAt, &t.ExpiresAt, &t.CreatedFrom, &used, &t.LastUsed); err != nil {
			return nil, fmt.Errorf("storage: api tokens: %w", err)
		}
		t.LastUsedAt = nullTime(used)
		out = append(out, t)
	}
	return out, rows.Err()
}

// DeleteUserAPIToken revokes one of the user's own tokens; ErrNotFound
// for anyone else's or none.
func (s *Store) DeleteUserAPIToken(ctx context.Context, userID, id int64) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM api_tokens WHERE id = $1 AND user_id = $2 AND job_id IS NULL`, id, userID)
	if err != nil {
		return fmt.Errorf("storage: delete api token: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}
