package accounts

import (
	"context"
	"errors"

	"kqi/portal/refusal"
	"kqi/storage"
)

// Members lists a tenant's members.
func (s *Service) Members(ctx context.Context, tenantID int64) ([]storage.Membership, error) {
	return s.Store.MembersOfTenant(ctx, tenantID)
}

// AddMember puts an existing user in an existing tenant with a role, or
// changes their role there.
func (s *Service) AddMember(ctx context.Context, userID, tenantID int64, role storage.Role) error {
	if !role.Valid() {
		return refusal.Invalidf("role", "user.invalid_role")
	}
	if _, err := s.Store.UserByID(ctx, userID); err != nil {
		return err
	}
	if _, err := s.Store.TenantByID(ctx, tenantID); errors.Is(err, storage.ErrNotFound) {
		return refusal.Invalidf("tenant_id", "user.unknown_tenant")
	} else if err != nil {
		return err
	}
	return s.Store.AddMembership(ctx, userID, tenantID, role)
}

// AddMemberNamed is AddMember for a user given by name, as a tenant's
// administrator types it. The role is checked before the name is looked
// up, and a name that does not exist gets the same answer as any other
// refusal of the user: a tenant's administrator cannot use the form to
// learn which user names exist on the portal.
func (s *Service) AddMemberNamed(ctx context.Context, tenantID int64, username string, role storage.Role) error {
	if !role.Valid() {
		return refusal.Invalidf("role", "user.invalid_role")
	}
	cannot := refusal.Invalidf("username", "members.cannot_add")
	u, err := s.Store.UserByName(ctx, username)
	if errors.Is(err, storage.ErrNotFound) {
		return cannot
	}
	if err != nil {
		return err
	}
	if err := s.AddMember(ctx, u.ID, tenantID, role); err != nil {
		if _, ok := refusal.Of(err); ok {
			return cannot
		}
		return err
	}
	return nil
}

// RemoveMember takes a user out of a tenant. by, the one removing, may
// not remove themselves, so a tenant never loses its last way in by
// accident.
func (s *Service) RemoveMember(ctx context.Context, tenantID, userID, by int64) error {
	if userID == by {
		return refusal.Invalidf("", "members.not_yourself")
	}
	return s.Store.RemoveMembership(ctx, userID, tenantID)
}
