// Package accounts holds the rules for tenants, users and memberships that
// the pages, the API and the bootstrap command share.
package accounts

import (
	"context"
	"errors"
	"regexp"

	"kqi/portal/auth"
	"kqi/storage"
)

// InvalidError is a refusal the user can fix; Key names the catalog message.
type InvalidError struct{ Key string }

func (e *InvalidError) Error() string { return "accounts: " + e.Key }

func invalid(key string) error { return &InvalidError{Key: key} }

// MessageKey returns the catalog key of a refusal the user can fix.
func MessageKey(err error) (string, bool) {
	var inv *InvalidError
	if errors.As(err, &inv) {
		return inv.Key, true
	}
	return "", false
}

var (
	// Tenant names may become Slurm account names, so they keep to
	// Slurm's safe set.
	tenantName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,39}$`)
	userName   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
)

// CreateTenant validates the name and creates the tenant.
func CreateTenant(ctx context.Context, st *storage.Store, name string) (*storage.Tenant, error) {
	if !tenantName.MatchString(name) {
		return nil, invalid("tenant.invalid_name")
	}
	t, err := st.CreateTenant(ctx, name)
	if errors.Is(err, storage.ErrConflict) {
		return nil, invalid("tenant.name_taken")
	}
	return t, err
}

// TenantRole names a tenant (by name or id) and a role in it.
type TenantRole struct {
	Tenant string       `json:"tenant"`
	Role   storage.Role `json:"role"`
}

// NewUser is a user to create with its first tenants.
type NewUser struct {
	Username      string
	Password      string
	IsSystemAdmin bool
	Tenants       []TenantRole
}

// CreateUser validates everything first, then creates the user and the
// memberships in one transaction: a refusal leaves nothing behind.
func CreateUser(ctx context.Context, st *storage.Store, n NewUser) (*storage.User, error) {
	if !userName.MatchString(n.Username) {
		return nil, invalid("user.invalid_name")
	}
	switch err := auth.CheckPasswordPolicy(n.Password); {
	case errors.Is(err, auth.ErrPasswordTooShort):
		return nil, invalid("settings.password_too_short")
	case errors.Is(err, auth.ErrPasswordTooLong):
		return nil, invalid("settings.password_too_long")
	}
	var ms []storage.TenantRole
	for _, tr := range n.Tenants {
		if !tr.Role.Valid() {
			return nil, invalid("user.invalid_role")
		}
		t, err := st.TenantByRef(ctx, tr.Tenant)
		if errors.Is(err, storage.ErrNotFound) {
			return nil, invalid("user.unknown_tenant")
		}
		if err != nil {
			return nil, err
		}
		ms = append(ms, storage.TenantRole{TenantID: t.ID, Role: tr.Role})
	}
	hash, err := auth.HashPassword(n.Password)
	if err != nil {
		return nil, err
	}
	u, err := st.CreateUser(ctx, storage.NewUser{Username: n.Username, PasswordHash: hash, IsSystemAdmin: n.IsSystemAdmin}, ms...)
	if errors.Is(err, storage.ErrConflict) {
		return nil, invalid("user.name_taken")
	}
	return u, err
}

// AddMember puts an existing user in an existing tenant with a role.
func AddMember(ctx context.Context, st *storage.Store, userID, tenantID int64, role storage.Role) error {
	if !role.Valid() {
		return invalid("user.invalid_role")
	}
	if _, err := st.UserByID(ctx, userID); err != nil {
		return err
	}
	if _, err := st.TenantByID(ctx, tenantID); errors.Is(err, storage.ErrNotFound) {
		return invalid("user.unknown_tenant")
	} else if err != nil {
		return err
	}
	return st.AddMembership(ctx, userID, tenantID, role)
}
