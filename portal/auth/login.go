package auth

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"kqi/storage"
)

// Service lets people in, the same way for the pages and the API: a login
// checks the failure limit, then the password; a browser then gets a
// session and a program an API token, each in a tenant of the user's.
type Service struct {
	Store *storage.Store
	// Limit is shared by the pages and the API: a guesser gets no more
	// tries by switching between them.
	Limit *FailureLimit
	// Accounts delays guesses at one account from many addresses; nil for
	// none.
	Accounts    *AccountDelay
	SessionIdle time.Duration // a session ends this long after its last use
	SessionMax  time.Duration // and this long after login, however used
	TokenTTL    time.Duration // how long an API token lives
	TokenIdle   time.Duration // and how long it lives unused (0: no limit)
	// Now is the clock sessions and tokens expire by (time.Now when nil);
	// tests move it instead of sleeping.
	Now func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

var (
	// ErrBadCredentials covers both an unknown user and a wrong password,
	// so a caller cannot probe which user names exist.
	ErrBadCredentials = errors.New("auth: wrong user name or password")
	// ErrTooManyFailures refuses any login from a client that has used up
	// its failures, whatever the password.
	ErrTooManyFailures = errors.New("auth: too many failed logins")
	// ErrSlowDown refuses an attempt at an account that failed too often
	// lately, until its delay has passed.
	ErrSlowDown = errors.New("auth: too many failed logins of this account; wait")
	// ErrNotMember refuses a tenant the user is not in (or that does not
	// exist: which names exist is none of their business).
	ErrNotMember = errors.New("auth: not a member of that tenant")
	// ErrNoTenant means the user is in no tenant at all.
	ErrNoTenant = errors.New("auth: not a member of any tenant")
	// ErrDisabled refuses a disabled account. It is only ever answered to
	// the right password: to anyone else a disabled account is like any
	// other, so it cannot be probed for.
	ErrDisabled = errors.New("auth: the account is disabled")
	// ErrMustChangePassword refuses an API token to a user whose password
	// is an administrator's temporary one: it is changed in a browser.
	ErrMustChangePassword = errors.New("auth: the temporary password must be changed first")
)

// Login returns the user whose name and password match. From a client
// that has failed too often it is ErrTooManyFailures, and at an account
// that has, ErrSlowDown until its delay has passed; a wrong name or
// password is ErrBadCredentials, and the right password of a disabled
// account ErrDisabled. Every attempt is counted before the password is
// checked; a right one at an enabled account is given back.
func (s *Service) Login(ctx context.Context, client, username, password string) (*storage.User, error) {
	if !s.Limit.Take(client) {
		return nil, ErrTooManyFailures
	}
	account := strings.ToLower(username)
	if s.Accounts != nil && s.Accounts.Take(account) > 0 {
		return nil, ErrSlowDown
	}
	u, err := Login(ctx, s.Store, username, password)
	if err == nil {
		s.Limit.Succeeded(client)
		if s.Accounts != nil {
			s.Accounts.Succeeded(account)
		}
	}
	return u, err
}

// Users is the part of storage a password check needs.
type Users interface {
	UserByName(ctx context.Context, username string) (*storage.User, error)
}

// Login returns the user whose name and password match, or
// ErrBadCredentials; ErrDisabled (after the right password only) for a
// disabled account.
func Login(ctx context.Context, users Users, username, password string) (*storage.User, error) {
	u, err := users.UserByName(ctx, username)
	if errors.Is(err, storage.ErrNotFound) {
		bcrypt.CompareHashAndPassword(dummyHash(), []byte(password))
		return nil, ErrBadCredentials
	}
	if err != nil {
		return nil, err
	}
	if !VerifyPassword(u, password) {
		return nil, ErrBadCredentials
	}
	if u.DisabledAt != nil {
		return nil, ErrDisabled
	}
	return u, nil
}

// dummyHash is compared against when the user does not exist, so both
// failures take the same time.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("kqi-no-such-user"), bcryptCost)
	return h
})

// StartingTenant is where a login starts when no tenant is asked for: the
// user's default tenant while they are still in it, else their first,
// else none (nil).
func StartingTenant(u *storage.User, ms []storage.Membership) *storage.Membership {
	for i := range ms {
		if u.DefaultTenantID != nil && ms[i].Tenant.ID == *u.DefaultTenantID {
			return &ms[i]
		}
	}
	if len(ms) > 0 {
		return &ms[0]
	}
	return nil
}
