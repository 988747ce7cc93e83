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
// in is ErrNotMember, and no tenant at all ErrNoTenant; a user whose
// password is a temporary one gets ErrMustChangePassword. from is the
// client's address, shown in the user's token list.
func (s *Service) IssueToken(ctx context.Context, u *storage.User, ref, from string) (*Token, error) {
	if u.MustChangePassword {
		return nil, ErrMustChangePassword
	}
	m, err := s.tokenTenant(ctx, u, ref)
	if err != nil {
		return nil, err
	}
	value := NewSecret()
	t, err := s.Store.CreateAPIToken(ctx, value, u.ID, m.Tenant.ID, s.now().Add(s.TokenTTL))
	if err != nil {
		return nil, err
	}
	if err := s.Store.NoteAPITokenIssued(ctx, t.ID, from); err != nil {
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
	// TokenID is the token's own id (to revoke it).
	TokenID int64
}

// Caller resolves a bearer token, used from address from, to its user, in
// a tenant they are still in; storage.ErrNotFound for a token that is
// unknown, expired, unused for TokenIdle or outlived its membership. A
// user's token records when and from where it was last used.
func (s *Service) Caller(ctx context.Context, token, from string) (*Caller, error) {
	t, u, m, err := s.Store.APICaller(ctx, token)
	if err != nil {
		return nil, err
	}
	if t.JobID == nil {
		now, last := s.now(), t.CreatedAt
		if t.LastUsedAt != nil {
			last = *t.LastUsedAt
		}
		if s.TokenIdle > 0 && now.Sub(last) > s.TokenIdle {
			if err := s.Store.DeleteUserAPIToken(ctx, t.UserID, t.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
				return nil, err
			}
			return nil, storage.ErrNotFound
		}
		// Written at most once a minute per address, to spare the database.
		if t.LastUsedAt == nil || now.Sub(last) > time.Minute || t.LastUsed != from {
			if err := s.Store.TouchAPIToken(ctx, t.ID, now, from); err != nil {
				return nil, err
			}
		}
	}
	return &Caller{User: u, Tenant: &m.Tenant, Role: m.Role, JobID: t.JobID, TokenID: t.ID}, nil
}

// Tokens lists the user's own API tokens (not their jobs').
func (s *Service) Tokens(ctx context.Context, userID int64) ([]storage.APIToken, error) {
	return s.Store.UserAPITokens(ctx, userID)
}

// RevokeToken ends one of the user's own tokens; storage.ErrNotFound for
// anyone else's.
func (s *Service) RevokeToken(ctx context.Context, userID, id int64) error {
	return s.Store.DeleteUserAPIToken(ctx, userID, id)
}
