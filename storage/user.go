package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// User is a person who logs in. The password is only ever held as a bcrypt
// hash, computed by the caller.
type User struct {
	ID              int64
	Username        string
	PasswordHash    string
	IsSystemAdmin   bool
	DefaultTenantID *int64
	Language        string
	CreatedAt       time.Time
	// DisabledAt is when an administrator disabled the account (nil:
	// enabled); it cannot log in until enabled again.
	DisabledAt *time.Time
	// MustChangePassword is set by an administrator's reset: the password
	// is a temporary one, and every page asks for a new one first.
	MustChangePassword bool
}

const userColumns = `id, username, password_hash, is_system_admin, default_tenant_id, language, created_at, disabled_at, must_change_password`

func scanUser(row interface{ Scan(...any) error }) (*User, error) {
	var u User
	var def sql.NullInt64
	var disabled sql.NullTime
	if err := row.Scan(&u.ID, &u.Username, &u.PasswordHash, &u.IsSystemAdmin, &def, &u.Language, &u.CreatedAt, &disabled, &u.MustChangePassword); err != nil {
		return nil, err
	}
	u.DisabledAt = nullTime(disabled)
	if def.Valid {
		u.DefaultTenantID = &def.Int64
	}
	return &u, nil
}

// NewUser is what CreateUser needs.
type NewUser struct {
	Username      string
	PasswordHash  string
	IsSystemAdmin bool
	Language      string
}

// TenantRole is a membership to create with a user.
type TenantRole struct {
	TenantID int64
	Role     Role
}

// CreateUser inserts a user and their first memberships in one transaction;
// ErrConflict when the name is taken. The first tenant becomes the default.
func (s *Store) CreateUser(ctx context.Context, n NewUser, tenants ...TenantRole) (*User, error) {
	if n.Language == "" {
		n.Language = "en"
	}
	var u *User
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var defaultTenant *int64
		if len(tenants) > 0 {
			defaultTenant = &tenants[0].TenantID
		}
		row := tx.QueryRowContext(ctx,
			`INSERT INTO users (username, password_hash, is_system_admin, language, default_tenant_id)
			 VALUES ($1, $2, $3, $4, $5) RETURNING `+userColumns,
			n.Username, n.PasswordHash, n.IsSystemAdmin, n.Language, defaultTenant)
		var err error
		if u, err = scanUser(row); err != nil {
			if isUniqueViolation(err) {
				return ErrConflict
			}
			return fmt.Errorf("storage: create user: %w", err)
		}
		for _, m := range tenants {
			if !m.Role.Valid() {
				return fmt.Errorf("storage: unknown role %q", m.Role)
			}
			if _, err := tx.ExecContext(ctx,
				`INSERT INTO memberships (user_id, tenant_id, role) VALUES ($1, $2, $3)
				 ON CONFLICT (user_id, tenant_id) DO UPDATE SET role = EXCLUDED.role`,
				u.ID, m.TenantID, string(m.Role)); err != nil {
				return fmt.Errorf("storage: create user: membership: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// UserByID returns the user or ErrNotFound.
func (s *Store) UserByID(ctx context.Context, id int64) (*User, error) {
	return s.userWhere(ctx, `id = $1`, id)
}

// UserByName returns the user or ErrNotFound.
func (s *Store) UserByName(ctx context.Context, username string) (*User, error) {
	return s.userWhere(ctx, `username = $1`, username)
}

func (s *Store) userWhere(ctx context.Context, cond string, arg any) (*User, error) {
	row := s.db.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE `+cond, arg)
	u, err := scanUser(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("storage: user: %w", err)
	}
	return u, nil
}

// Users lists every user by name (system administrators only).
func (s *Store) Users(ctx context.Context) ([]User, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY username`)
	if err != nil {
		return nil, fmt.Errorf("storage: users: %w", err)
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("storage: users: %w", err)
		}
		out = append(out, *u)
	}
	return out, rows.Err()
}

// SetPassword replaces a user's password hash (a password of their own:
// it clears MustChangePassword) and ends every other browser session and
// API token of that user (but not their jobs' own tokens), so a changed
// password locks out whoever knew the old one. keepSession (a session id
// hash) survives.
func (s *Store) SetPassword(ctx context.Context, userID int64, hash string, keepSession []byte) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = $2, must_change_password = false WHERE id = $1`, userID, hash)
		if err := oneRow("set password", res, err); err != nil {
			return err
		}
		return endAccess(ctx, tx, userID, keepSession)
	})
}

// ResetPassword gives a user a temporary password hash, which they must
// change at their next login, and ends all their sessions and API tokens.
func (s *Store) ResetPassword(ctx context.Context, userID int64, hash string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = $2, must_change_password = true WHERE id = $1`, userID, hash)
		if err := oneRow("reset password", res, err); err != nil {
			return err
		}
		return endAccess(ctx, tx, userID, nil)
	})
}

// SetUserDisabled disables a user (ending every session and API token of
// theirs at once) or enables them again; ErrNotFound for no such user.
// Their jobs' own tokens stay, so jobs already running go on.
func (s *Store) SetUserDisabled(ctx context.Context, userID int64, disabled bool) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET disabled_at = CASE WHEN $2 THEN coalesce(disabled_at, now()) END WHERE id = $1`, userID, disabled)
		if err := oneRow("disable user", res, err); err != nil || !disabled {
			return err
		}
		return endAccess(ctx, tx, userID, nil)
	})
}

// endAccess ends a user's browser sessions but keepSession, and their API
// tokens. Job tokens stay: they reach only their own job, and running jobs
// must not break when their owner's access changes.
func endAccess(ctx context.Context, tx *sql.Tx, userID int64, keepSession []byte) error {
	if _, err := tx.ExecContext(ctx,
		`DELETE FROM sessions WHERE user_id = $1 AND id_hash IS DISTINCT FROM $2`, userID, keepSession); err != nil {
		return fmt.Errorf("storage: end sessions: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM api_tokens WHERE user_id = $1 AND job_id IS NULL`, userID); err != nil {
		return fmt.Errorf("storage: end api tokens: %w", err)
	}
	return nil
}

// SetLanguage stores the user's UI language.
func (s *Store) SetLanguage(ctx context.Context, userID int64, lang string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE users SET language = $2 WHERE id = $1`, userID, lang)
	if err != nil {
		return fmt.Errorf("storage: set language: %w", err)
	}
	return nil
}
