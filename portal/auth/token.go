package auth

import (
	"context"
	"errors"
	"time"

	"kqi/storage"
)

// Token is an API token just issued; its Value is shown this once.
type Token struct {
	Value      string
	Membership *storage.Membership
	ExpiresAt  time.Time
}

// IssueToken gives u a bearer token for the tenant ref names (its name or
// id), or for their starting tenant when ref is "". A tenant they are not
// in is ErrNotMember, and no tenant at all ErrNoTenant.
func (s *Service) IssueToken(ctx context.Context, u *storage.User, ref string) (*Token, error) {
	m, err := s.tokenTenant(ctx, u, ref)
	if err != nil {
		return nil, err
	}
	value := NewSecret()
	t, err := s.Store.CreateAPIToken(ctx, value, u.ID, m.Tenant.ID, s.now().Add(s.TokenTTL))
	if err != nil {
		return nil, err
	}
	return &Token{Value: value, Membership: m, ExpiresAt: t.ExpiresAt}, nil
}

func (s *Service) tokenTenant(ctx context.Context, u *storage.User, ref string) (*storage.Membership, error) {
	if ref == "" {
		ms, err := s.Store.MembershipsOfUser(ctx, u.ID)
		if err != nil {
			return nil, err
		}
		if m := StartingTenant(u, ms); m != nil {
			return m, nil
		}
		return nil, ErrNoTenant
	}
	t, err := s.Store.TenantByRef(ctx, ref)
	if err == nil {
		var m *storage.Membership
		if m, err = s.Store.Membership(ctx, u.ID, t.ID); err == nil {
			return m, nil
		}
	}
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ErrNotMember
	}
	return nil, err
}

// Caller is whom an API token speaks for.
type Caller struct {
	User   *storage.User
	Tenant *storage.Tenant
	Role   storage.Role
	// JobID is set for a job's token (its KQI_TOKEN), which may
	// reach only that job.
	JobID *int64
}

// Caller resolves a bearer token to its user, in a tenant they are still
// in; storage.ErrNotFound for a token that is unknown, expired or outlived
// its membership.
func (s *Service) Caller(ctx context.Context, token string) (*Caller, error) {
	t, err := s.Store.APITokenByValue(ctx, token)
	if err != nil {
		return nil, err
	}
	u, err := s.Store.UserByID(ctx, t.UserID)
	if err != nil {
		return nil, err
	}
	m, err := s.Store.Membership(ctx, t.UserID, t.TenantID)
	if err != nil {
		return nil, err
	}
	return &Caller{User: u, Tenant: &m.Tenant, Role: m.Role, JobID: t.JobID}, nil
}
