package accounts

import (
	"context"
	"crypto/rand"
	"errors"
	"regexp"
	"strings"

	"kqi/portal/auth"
	"kqi/portal/refusal"
	"kqi/storage"
)

var userName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

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
func (s *Service) CreateUser(ctx context.Context, n NewUser) (*storage.User, error) {
	var bad refusal.Fields
	if !userName.MatchString(n.Username) {
		bad.Add("username", "user.invalid_name")
	}
	if key := passwordPolicy(n.Password, n.Username); key != "" {
		bad.Add("password", key)
	}
	var ms []storage.TenantRole
	for _, tr := range n.Tenants {
		if !tr.Role.Valid() {
			bad.Add("tenants", "user.invalid_role")
			continue
		}
		t, err := s.Store.TenantByRef(ctx, tr.Tenant)
		if errors.Is(err, storage.ErrNotFound) {
			bad.Add("tenants", "user.unknown_tenant")
			continue
		}
		if err != nil {
			return nil, err
		}
		ms = append(ms, storage.TenantRole{TenantID: t.ID, Role: tr.Role})
	}
	if err := bad.Err(); err != nil {
		return nil, err
	}
	hash, err := auth.HashPassword(n.Password)
	if err != nil {
		return nil, err
	}
	u, err := s.Store.CreateUser(ctx, storage.NewUser{Username: n.Username, PasswordHash: hash, IsSystemAdmin: n.IsSystemAdmin}, ms...)
	if errors.Is(err, storage.ErrConflict) {
		return nil, taken("username", "user.name_taken")
	}
	return u, err
}

// passwordPolicy is the catalog key of what is wrong with a new
// password of username, or "".
func passwordPolicy(password, username string) string {
	switch err := auth.CheckNewPassword(password, username); {
	case errors.Is(err, auth.ErrPasswordTooShort):
		return "settings.password_too_short"
	case errors.Is(err, auth.ErrPasswordTooLong):
		return "settings.password_too_long"
	case errors.Is(err, auth.ErrPasswordGuessable):
		return "settings.password_guessable"
	}
	return ""
}

// UserTenants is a user and the tenants they are in.
type UserTenants struct {
	User        storage.User
	Memberships []storage.Membership
}

// Users lists every user with their tenants.
func (s *Service) Users(ctx context.Context) ([]UserTenants, error) {
	users, err := s.Store.Users(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]UserTenants, 0, len(users))
	for _, u := range users {
		ms, err := s.Store.MembershipsOfUser(ctx, u.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, UserTenants{User: u, Memberships: ms})
	}
	return out, nil
}

// Memberships lists the tenants a user is in, with their role in each.
func (s *Service) Memberships(ctx context.Context, userID int64) ([]storage.Membership, error) {
	return s.Store.MembershipsOfUser(ctx, userID)
}

// SetDisabled disables a user, ending all their sessions and API tokens
// at once (their running jobs go on), or enables them again. by, the
// administrator doing it, may not disable themselves: a site must not lose
// its last way in by a slip.
func (s *Service) SetDisabled(ctx context.Context, userID int64, disabled bool, by int64) error {
	if disabled && userID == by {
		return refusal.Conflictf("admin.users.not_yourself")
	}
	return s.Store.SetUserDisabled(ctx, userID, disabled)
}

// tempAlphabet leaves out characters people misread (0/O, 1/l/I).
const tempAlphabet = "abcdefghjkmnpqrstuvwxyz23456789"

// ResetPassword gives a user a new random temporary password, which they
// must change at their next login, ends every session and API token of
// theirs, and returns it: shown to the administrator this once, stored
// only hashed. Administrators change their own in their settings.
func (s *Service) ResetPassword(ctx context.Context, userID, by int64) (string, error) {
	if userID == by {
		return "", refusal.Conflictf("admin.users.not_yourself")
	}
	if _, err := s.Store.UserByID(ctx, userID); err != nil {
		return "", err
	}
	var temp strings.Builder
	for n := 0; n < 15; {
		var b [1]byte
		rand.Read(b[:])
		if int(b[0]) >= 256/len(tempAlphabet)*len(tempAlphabet) {
			continue // would favour the first letters
		}
		if n > 0 && n%5 == 0 {
			temp.WriteByte('-')
		}
		temp.WriteByte(tempAlphabet[int(b[0])%len(tempAlphabet)])
		n++
	}
	hash, err := auth.HashPassword(temp.String())
	if err != nil {
		return "", err
	}
	return temp.String(), s.Store.ResetPassword(ctx, userID, hash)
}
