package auth

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"kqi/storage"
	"kqi/storage/storagetest"
)

func TestStartingTenant(t *testing.T) {
	a := storage.Membership{Tenant: storage.Tenant{ID: 1, Name: "a"}}
	b := storage.Membership{Tenant: storage.Tenant{ID: 2, Name: "b"}}
	id := func(n int64) *int64 { return &n }
	for _, tc := range []struct {
		name     string
		defaultT *int64
		ms       []storage.Membership
		want     string // tenant name, "" for none
	}{
		{"the default tenant", id(2), []storage.Membership{a, b}, "b"},
		{"no default: the first", nil, []storage.Membership{b, a}, "b"},
		{"default no longer a membership: the first", id(9), []storage.Membership{a, b}, "a"},
		{"no tenants", id(1), nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := StartingTenant(&storage.User{DefaultTenantID: tc.defaultT}, tc.ms)
			got := ""
			if m != nil {
				got = m.Tenant.Name
			}
			if got != tc.want {
				t.Fatalf("starting tenant %q, want %q", got, tc.want)
			}
		})
	}
}

const pw = "correct-horse-9"

// newService is the service on a fresh database with tenants lab-a and
// lab-b, alice in both (lab-a first, so her default) and loner in none.
func newService(t *testing.T) (*Service, *storage.User, [2]*storage.Tenant) {
	ctx := context.Background()
	st, _ := storagetest.NewStore(t)
	var ts [2]*storage.Tenant
	for i, name := range []string{"lab-a", "lab-b"} {
		tn, err := st.CreateTenant(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		ts[i] = tn
	}
	hash, _ := HashPassword(pw)
	alice, err := st.CreateUser(ctx, storage.NewUser{Username: "alice", PasswordHash: hash},
		storage.TenantRole{TenantID: ts[0].ID, Role: storage.RoleUser}, storage.TenantRole{TenantID: ts[1].ID, Role: storage.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateUser(ctx, storage.NewUser{Username: "loner", PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	return &Service{Store: st, Limit: NewFailureLimit(2, time.Minute, nil), SessionIdle: time.Hour, SessionMax: 2 * time.Hour, TokenTTL: time.Hour}, alice, ts
}

func TestServiceLogin(t *testing.T) {
	ctx := context.Background()
	s, _, _ := newService(t)
	for _, tc := range []struct {
		name, client, user, password string
		want                         error
	}{
		{"right", "a", "alice", pw, nil},
		{"wrong password", "a", "alice", "wrong-wrong", ErrBadCredentials},
		{"unknown user", "a", "mallory", pw, ErrBadCredentials},
		// Two failures used up client a's limit: even the right password is refused.
		{"right, after the limit", "a", "alice", pw, ErrTooManyFailures},
		{"another client", "b", "alice", pw, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := s.Login(ctx, tc.client, tc.user, tc.password)
			if !errors.Is(err, tc.want) || (err == nil) != (u != nil) {
				t.Fatalf("user %v, error %v; want error %v", u, err, tc.want)
			}
		})
	}
}

func TestServiceSessions(t *testing.T) {
	ctx := context.Background()
	s, alice, ts := newService(t)
	id, err := s.StartSession(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.ResumeSession(ctx, id)
	if err != nil || v.User.ID != alice.ID || v.Tenant == nil || v.Tenant.ID != ts[0].ID || v.Role != storage.RoleUser || len(v.Memberships) != 2 {
		t.Fatalf("new session: %+v %v", v, err)
	}
	if err := s.SwitchTenant(ctx, id, alice.ID, ts[1].ID); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.ResumeSession(ctx, id); v.Tenant.ID != ts[1].ID || v.Role != storage.RoleAdmin {
		t.Fatalf("after switching: %+v in %+v", v.Role, v.Tenant)
	}
	if err := s.SwitchTenant(ctx, id, alice.ID, 999999); !errors.Is(err, ErrNotMember) {
		t.Fatalf("switch to a tenant she is not in: %v", err)
	}
	// A removed membership leaves the session without a tenant.
	if err := s.Store.RemoveMembership(ctx, alice.ID, ts[1].ID); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.ResumeSession(ctx, id); v.Tenant != nil || len(v.Memberships) != 1 {
		t.Fatalf("after the membership was removed: tenant %+v", v.Tenant)
	}
	if err := s.EndSession(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ResumeSession(ctx, id); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("ended session: %v", err)
	}
}

func TestServiceTokens(t *testing.T) {
	ctx := context.Background()
	s, alice, ts := newService(t)
	loner, _ := s.Store.UserByName(ctx, "loner")
	for _, tc := range []struct {
		name string
		user *storage.User
		ref  string
		want string // tenant name
		err  error
	}{
		{"starting tenant", alice, "", "lab-a", nil},
		{"by name", alice, "lab-b", "lab-b", nil},
		{"by id", alice, strconv.FormatInt(ts[1].ID, 10), "lab-b", nil},
		{"unknown tenant", alice, "lab-z", "", ErrNotMember},
		{"no tenant at all", loner, "", "", ErrNoTenant},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := s.IssueToken(ctx, tc.user, tc.ref, "192.0.2.1")
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			if tok.Membership.Tenant.Name != tc.want {
				t.Fatalf("token for %q, want %q", tok.Membership.Tenant.Name, tc.want)
			}
			c, err := s.Caller(ctx, tok.Value, "192.0.2.1")
			if err != nil || c.User.ID != tc.user.ID || c.Tenant.Name != tc.want || c.JobID != nil {
				t.Fatalf("caller %+v %v", c, err)
			}
		})
	}
	if _, err := s.IssueToken(ctx, loner, "lab-a", ""); !errors.Is(err, ErrNotMember) {
		t.Fatalf("a tenant of someone else: %v", err)
	}
	if _, err := s.Caller(ctx, "not-a-token", ""); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("unknown token: %v", err)
	}
}

// Parallel guesses from one address get no more password checks than the
// limit: the attempt is counted before the slow hash, not after (13 of 10
// got through before).
func TestParallelGuessesStayWithinTheLimit(t *testing.T) {
	ctx := context.Background()
	s, _, _ := newService(t)
	s.Limit = NewFailureLimit(10, time.Minute, nil)
	results := make(chan error)
	for i := range 30 {
		go func() {
			_, err := s.Login(ctx, "guesser", "alice", "wrong-"+strconv.Itoa(i))
			results <- err
		}()
	}
	checked := 0
	for range 30 {
		err := <-results
		switch {
		case errors.Is(err, ErrBadCredentials):
			checked++
		case !errors.Is(err, ErrTooManyFailures):
			t.Errorf("login: %v", err)
		}
	}
	if checked > 10 {
		t.Fatalf("%d passwords checked, limit 10", checked)
	}
}

// Guesses at one account from many addresses are slowed to one per delay
// once the free ones are used; the owner is never locked out: after the
// delay the right password works.
func TestAccountDelay(t *testing.T) {
	ctx := context.Background()
	s, _, _ := newService(t)
	now := time.Now()
	s.Limit = NewFailureLimit(100, time.Minute, nil)
	s.Accounts = NewAccountDelay(3, 30*time.Second, time.Hour)
	s.Accounts.now = func() time.Time { return now }
	login := func(client, password string) error {
		_, err := s.Login(ctx, client, "alice", password)
		return err
	}
	for i := range 3 {
		if err := login("c"+strconv.Itoa(i), "wrong-wrong"); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("free attempt %d: %v", i, err)
		}
	}
	if err := login("elsewhere", pw); !errors.Is(err, ErrSlowDown) {
		t.Fatalf("within the delay, from a new address: %v, want ErrSlowDown", err)
	}
	now = now.Add(31 * time.Second)
	if err := login("c9", "wrong-wrong"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("after the delay: %v, want the password checked", err)
	}
	if err := login("c10", pw); !errors.Is(err, ErrSlowDown) {
		t.Fatalf("right after: %v, want ErrSlowDown", err)
	}
	now = now.Add(31 * time.Second)
	if err := login("c11", pw); err != nil {
		t.Fatalf("the owner after the delay: %v", err)
	}
	if err := login("c12", "wrong-wrong"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("a success clears the count: %v", err)
	}
}

// A disabled account is told so only after its right password; its
// sessions and own API tokens end at once, its jobs' tokens work on; once
// enabled it logs in again.
func TestDisabledAccount(t *testing.T) {
	ctx := context.Background()
	s, alice, ts := newService(t)
	sess, err := s.StartSession(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s.IssueToken(ctx, alice, "", "test")
	if err != nil {
		t.Fatal(err)
	}
	j, err := s.Store.CreateJob(ctx, storage.NewJob{TenantID: ts[0].ID, Kind: "training", Name: "run", Image: "host", Command: "true", CPU: 1, MemoryGB: 1, Partition: "cpu", CreatedBy: alice.ID})
	if err != nil {
		t.Fatal(err)
	}
	jobToken := NewSecret()
	if err := s.Store.CreateJobToken(ctx, jobToken, alice.ID, ts[0].ID, j.ID, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Store.SetUserDisabled(ctx, alice.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Login(ctx, "x", "alice", "wrong-wrong"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("a wrong password of a disabled account: %v", err)
	}
	if _, err := s.Login(ctx, "y", "alice", pw); !errors.Is(err, ErrDisabled) {
		t.Errorf("the right password of a disabled account: %v", err)
	}
	if _, err := s.ResumeSession(ctx, sess); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("the session of a disabled account: %v", err)
	}
	if _, err := s.Caller(ctx, tok.Value, "test"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("the API token of a disabled account: %v", err)
	}
	if c, err := s.Caller(ctx, jobToken, "job"); err != nil || c.JobID == nil || *c.JobID != j.ID {
		t.Errorf("the job's token of a disabled account: %+v, %v", c, err)
	}
	if err := s.Store.SetUserDisabled(ctx, alice.ID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Login(ctx, "z", "alice", pw); err != nil {
		t.Errorf("after enabling: %v", err)
	}
	if err := s.Store.SetUserDisabled(ctx, 987654, true); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("an unknown user: %v", err)
	}
}

// A temporary password lets its user log in (to choose their own) but
// gets no API token.
func TestTemporaryPasswordGetsNoToken(t *testing.T) {
	ctx := context.Background()
	s, alice, _ := newService(t)
	hash, _ := HashPassword("temp-pass-12345")
	if err := s.Store.ResetPassword(ctx, alice.ID, hash); err != nil {
		t.Fatal(err)
	}
	u, err := s.Login(ctx, "a", "alice", "temp-pass-12345")
	if err != nil || !u.MustChangePassword {
		t.Fatalf("login with the temporary password: %+v, %v", u, err)
	}
	if _, err := s.IssueToken(ctx, u, "", "test"); !errors.Is(err, ErrMustChangePassword) {
		t.Errorf("a token for a temporary password: %v", err)
	}
	hash, _ = HashPassword("own-pass-12345")
	if err := s.Store.SetPassword(ctx, alice.ID, hash, nil); err != nil {
		t.Fatal(err)
	}
	if u, _ := s.Store.UserByID(ctx, alice.ID); u.MustChangePassword {
		t.Error("choosing a password left the flag")
	}
}
