package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Role is a user's role inside one tenant.
type Role string

// The two tenant roles; system administrators are marked on the user.
const (
	RoleAdmin Role = "admin"
	RoleUser  Role = "user"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleAdmin || r == RoleUser }

// Membership is one user's place in one tenant.
type Membership struct {
	UserID   int64
	Username string
	Tenant   Tenant
	Role     Role
}

// AddMembership puts a user in a tenant with a role, or changes the role if
// they are already a member. The first tenant a user joins becomes their
// default.
func (s *Store) AddMembership(ctx context.Context, userID, tenantID int64, role Role) error {
	if !role.Valid() {
		return fmt.Errorf("storage: unknown role %q", role)
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			`INSERT INTO memberships (user_id, tenant_id, role) VALUES ($1, $2, $3)
			 ON CONFLICT (user_id, tenant_id) DO UPDATE SET role = EXCLUDED.role`,
			userID, tenantID, string(role))
		if err != nil {
			return fmt.Errorf("storage: add membership: %w", err)
		}
		_, err = tx.ExecContext(ctx,
			`UPDATE users SET default_tenant_id = $2 WHERE id = $1 AND default_tenant_id IS NULL`,
			userID, tenantID)
		if err != nil {
			return fmt.Errorf("storage: add membership: %w", err)
		}
		return nil
	})
}

// RemoveMembership takes a user out of a tenant.
func (s *Store) RemoveMembership(ctx context.Context, userID, tenantID int64) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`DELETE FROM memberships WHERE user_id = $1 AND tenant_id = $2`, userID, tenantID)
		if err := oneRow("remove membership", res, err); err != nil {
			return err
		}
		// Their sessions and tokens in that tenant must not outlive the membership.
		for _, q := range []string{
			`UPDATE sessions SET tenant_id = NULL WHERE user_id = $1 AND tenant_id = $2`,
			`DELETE FROM api_tokens WHERE user_id = $1 AND tenant_id = $2`,
			`UPDATE users SET default_tenant_id = NULL WHERE id = $1 AND default_tenant_id = $2`,
		} {
			if _, err := tx.ExecContext(ctx, q, userID, tenantID); err != nil {
				return fmt.Errorf("storage: remove membership: %w", err)
			}
		}
		return nil
	})
}

const membershipQuery = `
	SELECT m.user_id, u.username, m.role, ` + tenantColumnsT + `
	FROM memberships m
	JOIN tenants t ON t.id = m.tenant_id
	JOIN users u ON u.id = m.user_id`

const tenantColumnsT = `t.id, t.name, t.quota_cpu, t.quota_memory_gb, t.quota_gpu, t.created_at`

func scanMembership(row interface{ Scan(...any) error }) (*Membership, error) {
	var m Membership
	var role string
	var cpu, mem, gpu sql.NullInt32
	t := &m.Tenant
	if err := row.Scan(&m.UserID, &m.Username, &role, &t.ID, &t.Name, &cpu, &mem, &gpu, &t.CreatedAt); err != nil {
		return nil, err
	}
	m.Role = Role(role)
	t.QuotaCPU, t.QuotaMemoryGB, t.QuotaGPU = nullInt(cpu), nullInt(mem), nullInt(gpu)
	return &m, nil
}

// Membership returns the user's membership of a tenant, or ErrNotFound when
// they are not a member.
func (s *Store) Membership(ctx context.Context, userID, tenantID int64) (*Membership, error) {
	row := s.db.QueryRowContext(ctx, membershipQuery+` WHERE m.user_id = $1 AND m.tenant_id = $2`, userID, tenantID)
	m, err := scanMembership(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("storage: membership: %w", err)
	}
	return m, nil
}

// MembershipsOfUser lists the tenants a user belongs to, by tenant name.
func (s *Store) MembershipsOfUser(ctx context.Context, userID int64) ([]Membership, error) {
	return s.memberships(ctx, ` WHERE m.user_id = $1 ORDER BY t.name`, userID)
}

// MembersOfTenant lists a tenant's members, by user name.
func (s *Store) MembersOfTenant(ctx context.Context, tenantID int64) ([]Membership, error) {
	return s.memberships(ctx, ` WHERE m.tenant_id = $1 ORDER BY u.username`, tenantID)
}

func (s *Store) memberships(ctx context.Context, where string, arg int64) ([]Membership, error) {
	rows, err := s.db.QueryContext(ctx, membershipQuery+where, arg)
	if err != nil {
		return nil, fmt.Errorf("storage: memberships: %w", err)
	}
	defer rows.Close()
	var out []Membership
	for rows.Next() {
		m, err := scanMembership(rows)
		if err != nil {
			return nil, fmt.Errorf("storage: memberships: %w", err)
		}
		out = append(out, *m)
	}
	return out, rows.Err()
}
