package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"time"

	"kqi/storage"
)

// Visit is a live browser session: its user, their tenants, and the tenant
// the session works in.
type Visit struct {
	Session     *storage.Session
	User        *storage.User
	Memberships []storage.Membership
	Tenant      *storage.Tenant // nil: none chosen, or no longer a member
	Role        storage.Role    // the user's role in Tenant
}

// CSRFToken is the form token of the session id names: derived from the
// id (which only the browser holds; the database keeps a hash of it), so
// the database holds no token a leak of it could turn into forged forms.
func CSRFToken(sessionID string) string {
	m := hmac.New(sha256.New, []byte(sessionID))
	m.Write([]byte("kqi csrf token"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// StartSession logs a browser in as u, in their starting tenant, and
// returns the session id for its cookie.
func (s *Service) StartSession(ctx context.Context, u *storage.User) (string, error) {
	ms, err := s.Store.MembershipsOfUser(ctx, u.ID)
	if err != nil {
		return "", err
	}
	sess := storage.Session{UserID: u.ID, ExpiresAt: s.now().Add(s.SessionIdle)}
	if m := StartingTenant(u, ms); m != nil {
		sess.TenantID = &m.Tenant.ID
	}
	id := NewSecret()
	return id, s.Store.CreateSession(ctx, id, sess)
}

// ResumeSession returns the session id names, or storage.ErrNotFound once
// it has ended or its user is disabled. Each use moves its end SessionIdle on, never past
// SessionMax after login.
func (s *Service) ResumeSession(ctx context.Context, id string) (*Visit, error) {
	sess, err := s.Store.SessionByID(ctx, id, s.now())
	if err != nil {
		return nil, err
	}
	u, err := s.Store.UserByID(ctx, sess.UserID)
	if err != nil {
		return nil, err
	}
	if u.DisabledAt != nil { // its sessions ended when it was disabled; never one more
		return nil, storage.ErrNotFound
	}
	ms, err := s.Store.MembershipsOfUser(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	v := &Visit{Session: sess, User: u, Memberships: ms}
	if sess.TenantID != nil {
		// The membership may have been removed since the session chose it.
		for i := range ms {
			if ms[i].Tenant.ID == *sess.TenantID {
				v.Tenant, v.Role = &ms[i].Tenant, ms[i].Role
			}
		}
	}
	// Written at most once a minute, to spare the database.
	want := s.now().Add(s.SessionIdle)
	if limit := sess.CreatedAt.Add(s.SessionMax); want.After(limit) {
		want = limit
	}
	if want.Sub(sess.ExpiresAt) > time.Minute {
		if err := s.Store.ExtendSession(ctx, id, want); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// EndSession logs a browser out.
func (s *Service) EndSession(ctx context.Context, id string) error {
	return s.Store.DeleteSession(ctx, id)
}

// SwitchTenant moves a session of userID to another of their tenants;
// ErrNotMember for one they are not in.
func (s *Service) SwitchTenant(ctx context.Context, sessionID string, userID, tenantID int64) error {
	if _, err := s.Store.Membership(ctx, userID, tenantID); errors.Is(err, storage.ErrNotFound) {
		return ErrNotMember
	} else if err != nil {
		return err
	}
	return s.Store.SetSessionTenant(ctx, sessionID, tenantID)
}
