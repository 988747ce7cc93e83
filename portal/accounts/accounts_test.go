package accounts_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"kqi/portal/accounts"
	"kqi/portal/auth"
	"kqi/portal/refusal"
	"kqi/storage"
	"kqi/storage/storagetest"
)

const pw = "correct-horse-9"

// refused describes err as "kind field key …" for each reason: "" for
// nil, "server error" for anything that is not a refusal.
func refused(err error) string {
	if err == nil {
		return ""
	}
	e, ok := refusal.Of(err)
	if !ok {
		return "server error: " + err.Error()
	}
	kind := map[refusal.Kind]string{refusal.Invalid: "invalid", refusal.NotFound: "not found", refusal.Conflict: "conflict"}[e.Kind]
	var parts []string
	for _, f := range e.Fields {
		parts = append(parts, strings.Join(strings.Fields(kind+" "+f.Field+" "+f.Key), " "))
	}
	return strings.Join(parts, "; ")
}

func newService(t *testing.T) *accounts.Service {
	st, _ := storagetest.NewStore(t)
	return &accounts.Service{Store: st}
}

func ptr(n int) *int { return &n }

func TestParseQuota(t *testing.T) {
	for _, tc := range []struct {
		name          string
		cpu, mem, gpu string
		want          accounts.Quota
		refused       string
	}{
		{"all empty: no limits", "", "", "", accounts.Quota{}, ""},
		{"numbers, spaces trimmed", " 8 ", "64", "0", accounts.Quota{CPU: ptr(8), MemoryGB: ptr(64), GPU: ptr(0)}, ""},
		{"some empty", "4", "", "2", accounts.Quota{CPU: ptr(4), GPU: ptr(2)}, ""},
		// A negative number parses; SetQuota refuses it.
		{"negative", "-1", "", "", accounts.Quota{CPU: ptr(-1)}, ""},
		{"not a number", "lots", "1.5", "", accounts.Quota{}, "invalid cpu admin.tenants.bad_quota; invalid memory_gb admin.tenants.bad_quota"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, err := accounts.ParseQuota(tc.cpu, tc.mem, tc.gpu)
			if got := refused(err); got != tc.refused {
				t.Fatalf("refused %q, want %q", got, tc.refused)
			}
			if err == nil && !reflect.DeepEqual(q, tc.want) {
				t.Fatalf("quota %+v, want %+v", q, tc.want)
			}
		})
	}
}

func TestTenantRules(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	lab, err := s.CreateTenant(ctx, "lab")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("create", func(t *testing.T) {
		for _, tc := range []struct{ name, want string }{
			{"vision-2", ""},
			{"Bad Name!", "invalid name tenant.invalid_name"},
			{"../etc", "invalid name tenant.invalid_name"},
			{"lab", "conflict name tenant.name_taken"},
		} {
			_, err := s.CreateTenant(ctx, tc.name)
			if got := refused(err); got != tc.want {
				t.Errorf("CreateTenant(%q): %q, want %q", tc.name, got, tc.want)
			}
		}
	})
	t.Run("quota", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			tenant int64
			q      accounts.Quota
			want   string
		}{
			{"limits", lab.ID, accounts.Quota{CPU: ptr(8), GPU: ptr(0)}, ""},
			{"no limits", lab.ID, accounts.Quota{}, ""},
			{"negative", lab.ID, accounts.Quota{CPU: ptr(-1), GPU: ptr(-2)}, "invalid cpu admin.tenants.bad_quota; invalid gpu admin.tenants.bad_quota"},
			{"unknown tenant", 999999, accounts.Quota{CPU: ptr(1)}, "not found error.not_found"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if got := refused(s.SetQuota(ctx, tc.tenant, tc.q)); got != tc.want {
					t.Fatalf("%q, want %q", got, tc.want)
				}
			})
		}
	})
	t.Run("slurm account", func(t *testing.T) {
		for _, tc := range []struct {
			name, account, stored, want string
			tenant                      int64
		}{
			{"trimmed", " lab-vision ", "lab-vision", "", lab.ID},
			{"cleared", "", "", "", lab.ID},
			{"shell characters", "lab;id", "", "invalid account admin.tenants.bad_account", lab.ID},
			{"option-like", "-rf", "", "invalid account admin.tenants.bad_account", lab.ID},
			{"unknown tenant", "x", "x", "not found error.not_found", 999999},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := s.SetSlurmAccount(ctx, tc.tenant, tc.account)
				if r := refused(err); r != tc.want {
					t.Fatalf("%q, want %q", r, tc.want)
				}
				if err == nil {
					tn, _ := s.Store.TenantByID(ctx, tc.tenant)
					if got != tc.stored || tn.SlurmAccount != tc.stored {
						t.Fatalf("returned %q, stored %q, want %q", got, tn.SlurmAccount, tc.stored)
					}
				}
			})
		}
	})
}

func TestUserRules(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	lab, _ := s.CreateTenant(ctx, "lab")
	if _, err := s.CreateUser(ctx, accounts.NewUser{Username: "alice", Password: pw}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		n    accounts.NewUser
		want string
	}{
		{"with a tenant", accounts.NewUser{Username: "bob", Password: pw, Tenants: []accounts.TenantRole{{Tenant: "lab", Role: storage.RoleAdmin}}}, ""},
		{"name taken", accounts.NewUser{Username: "alice", Password: pw}, "conflict username user.name_taken"},
		{"every reason at once", accounts.NewUser{Username: "no spaces", Password: "short",
			Tenants: []accounts.TenantRole{{Tenant: "lab", Role: "owner"}, {Tenant: "nope", Role: storage.RoleUser}}},
			"invalid username user.invalid_name; invalid password settings.password_too_short; invalid tenants user.invalid_role; invalid tenants user.unknown_tenant"},
		{"password too long", accounts.NewUser{Username: "carol", Password: strings.Repeat("p", 73)}, "invalid password settings.password_too_long"},
		{"a common password", accounts.NewUser{Username: "carol", Password: "password"}, "invalid password settings.password_guessable"},
		{"eight digits", accounts.NewUser{Username: "carol", Password: "12345678"}, "invalid password settings.password_guessable"},
		{"eight spaces", accounts.NewUser{Username: "carol", Password: "        "}, "invalid password settings.password_guessable"},
		{"the user's own name", accounts.NewUser{Username: "carolina", Password: "carolina"}, "invalid password settings.password_guessable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.CreateUser(ctx, tc.n)
			if got := refused(err); got != tc.want {
				t.Fatalf("%q, want %q", got, tc.want)
			}
		})
	}
	if _, err := s.Store.UserByName(ctx, "carol"); err == nil {
		t.Fatal("a refused user was created")
	}
	bob, _ := s.Store.UserByName(ctx, "bob")
	if ms, _ := s.Memberships(ctx, bob.ID); len(ms) != 1 || ms[0].Tenant.ID != lab.ID || ms[0].Role != storage.RoleAdmin {
		t.Fatalf("bob's memberships %+v", ms)
	}
}

func TestMemberRules(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	lab, _ := s.CreateTenant(ctx, "lab")
	boss, _ := s.CreateUser(ctx, accounts.NewUser{Username: "boss", Password: pw, Tenants: []accounts.TenantRole{{Tenant: "lab", Role: storage.RoleAdmin}}})
	alice, _ := s.CreateUser(ctx, accounts.NewUser{Username: "alice", Password: pw})
	for _, tc := range []struct {
		name, user string
		role       storage.Role
		want       string
	}{
		{"add", "alice", storage.RoleUser, ""},
		{"change role", "alice", storage.RoleAdmin, ""},
		{"unknown user", "nobody", storage.RoleUser, "invalid username members.cannot_add"},
		{"unknown role", "alice", "owner", "invalid role user.invalid_role"},
		// The role is checked first: a bad one says nothing of the name.
		{"unknown role, unknown user", "nobody", "owner", "invalid role user.invalid_role"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := refused(s.AddMemberNamed(ctx, lab.ID, tc.user, tc.role)); got != tc.want {
				t.Fatalf("%q, want %q", got, tc.want)
			}
		})
	}
	if got := refused(s.AddMember(ctx, alice.ID, 999999, storage.RoleUser)); got != "invalid tenant_id user.unknown_tenant" {
		t.Errorf("unknown tenant: %q", got)
	}
	if got := refused(s.AddMember(ctx, 999999, lab.ID, storage.RoleUser)); got != "not found error.not_found" {
		t.Errorf("unknown user: %q", got)
	}
	if got := refused(s.RemoveMember(ctx, lab.ID, boss.ID, boss.ID)); got != "invalid members.not_yourself" {
		t.Errorf("removing oneself: %q", got)
	}
	if err := s.RemoveMember(ctx, lab.ID, alice.ID, boss.ID); err != nil {
		t.Fatal(err)
	}
	if got := refused(s.RemoveMember(ctx, lab.ID, alice.ID, boss.ID)); got != "not found error.not_found" {
		t.Errorf("removing a non-member: %q", got)
	}
	if ms, _ := s.Members(ctx, lab.ID); len(ms) != 1 || ms[0].UserID != boss.ID {
		t.Fatalf("members %+v", ms)
	}
}

func TestSettingsRules(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	u, _ := s.CreateUser(ctx, accounts.NewUser{Username: "alice", Password: pw})
	for _, tc := range []struct {
		name, current, next, confirm, want string
	}{
		{"wrong current", "nope-nope-nope", "another-pass-1", "another-pass-1", "invalid current_password settings.wrong_current_password"},
		{"mismatch", pw, "another-pass-1", "another-pass-2", "invalid confirm_password settings.password_mismatch"},
		{"too short", pw, "short", "short", "invalid new_password settings.password_too_short"},
		{"own name", pw, "alice-alice", "alice-alice", "invalid new_password settings.password_guessable"},
		{"common", pw, "iloveyou1", "iloveyou1", "invalid new_password settings.password_guessable"},
		{"changed", pw, "another-pass-1", "another-pass-1", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := refused(s.ChangePassword(ctx, u, "", tc.current, tc.next, tc.confirm)); got != tc.want {
				t.Fatalf("%q, want %q", got, tc.want)
			}
		})
	}
	if u, _ := s.Store.UserByID(ctx, u.ID); !auth.VerifyPassword(u, "another-pass-1") {
		t.Fatal("the new password does not work")
	}
	if got := refused(s.SetLanguage(ctx, u.ID, "fr")); got != "invalid lang settings.unknown_language" {
		t.Errorf("unknown language: %q", got)
	}
	if err := s.SetLanguage(ctx, u.ID, "ja"); err != nil {
		t.Fatal(err)
	}
}

func TestTenantRenameAndDelete(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	lab, _ := s.CreateTenant(ctx, "lab")
	s.CreateTenant(ctx, "other")
	alice, _ := s.CreateUser(ctx, accounts.NewUser{Username: "alice", Password: pw, Tenants: []accounts.TenantRole{{Tenant: "lab", Role: storage.RoleUser}}})
	t.Run("rename", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			tenant int64
			want   string
		}{
			{"Bad Name!", lab.ID, "invalid name tenant.invalid_name"},
			{"other", lab.ID, "conflict name tenant.name_taken"},
			{"vision", 999999, "not found error.not_found"},
			{"vision", lab.ID, ""},
		} {
			if got := refused(s.RenameTenant(ctx, tc.tenant, tc.name)); got != tc.want {
				t.Errorf("RenameTenant(%d, %q): %q, want %q", tc.tenant, tc.name, got, tc.want)
			}
		}
		if tn, _ := s.Store.TenantByID(ctx, lab.ID); tn.Name != "vision" {
			t.Fatalf("renamed to %q", tn.Name)
		}
	})
	t.Run("delete", func(t *testing.T) {
		j, err := s.Store.CreateJob(ctx, storage.NewJob{TenantID: lab.ID, Kind: "training", Name: "run", Image: "host", Command: "true", CPU: 1, MemoryGB: 1, Partition: "cpu", CreatedBy: alice.ID})
		if err != nil {
			t.Fatal(err)
		}
		if got := refused(s.DeleteTenant(ctx, lab.ID)); got != "conflict admin.tenants.still_running; conflict admin.tenants.still_jobs" {
			t.Errorf("a tenant with a job: %q", got)
		}
		if err := s.Store.UpdateJobState(ctx, j.ID, storage.JobState{Status: "failed"}); err != nil {
			t.Fatal(err)
		}
		if got := refused(s.DeleteTenant(ctx, lab.ID)); got != "conflict admin.tenants.still_jobs" {
			t.Errorf("a tenant with an ended job: %q", got)
		}
		if err := s.Store.DeleteJob(ctx, lab.ID, j.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Store.CreateDataset(ctx, storage.NewDataset{TenantID: lab.ID, Name: "mnist"}); err != nil {
			t.Fatal(err)
		}
		if got := refused(s.DeleteTenant(ctx, lab.ID)); got != "conflict admin.tenants.still_datasets" {
			t.Errorf("a tenant with a dataset: %q", got)
		}
		if _, err := s.Store.TenantByID(ctx, lab.ID); err != nil {
			t.Fatal("a refused delete deleted")
		}
		empty, _ := s.CreateTenant(ctx, "empty")
		s.AddMember(ctx, alice.ID, empty.ID, storage.RoleAdmin)
		if err := s.DeleteTenant(ctx, empty.ID); err != nil {
			t.Fatal(err)
		}
		if got := refused(s.DeleteTenant(ctx, empty.ID)); got != "not found error.not_found" {
			t.Errorf("deleting twice: %q", got)
		}
		if ms, _ := s.Memberships(ctx, alice.ID); len(ms) != 1 {
			t.Errorf("memberships after the delete: %+v", ms)
		}
	})
}

func TestDisableAndReset(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	root, _ := s.CreateUser(ctx, accounts.NewUser{Username: "root", Password: pw, IsSystemAdmin: true})
	alice, _ := s.CreateUser(ctx, accounts.NewUser{Username: "alice", Password: pw})
	if got := refused(s.SetDisabled(ctx, root.ID, true, root.ID)); got != "conflict admin.users.not_yourself" {
		t.Errorf("disabling oneself: %q", got)
	}
	if err := s.SetDisabled(ctx, alice.ID, true, root.ID); err != nil {
		t.Fatal(err)
	}
	if u, _ := s.Store.UserByID(ctx, alice.ID); u.DisabledAt == nil {
		t.Fatal("not disabled")
	}
	if got := refused(s.SetDisabled(ctx, 999999, true, root.ID)); got != "not found error.not_found" {
		t.Errorf("an unknown user: %q", got)
	}
	if _, err := s.ResetPassword(ctx, root.ID, root.ID); refused(err) != "conflict admin.users.not_yourself" {
		t.Errorf("resetting one's own: %v", err)
	}
	if _, err := s.ResetPassword(ctx, 999999, root.ID); refused(err) != "not found error.not_found" {
		t.Errorf("resetting an unknown user: %v", err)
	}
	temp, err := s.ResetPassword(ctx, alice.ID, root.ID)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := s.ResetPassword(ctx, alice.ID, root.ID)
	if len(temp) != 17 || temp == again || strings.ContainsAny(temp, "01lIO") {
		t.Errorf("temporary passwords %q, %q", temp, again)
	}
	u, _ := s.Store.UserByID(ctx, alice.ID)
	if !u.MustChangePassword || !auth.VerifyPassword(u, again) || auth.VerifyPassword(u, pw) {
		t.Fatalf("after the reset: %+v", u)
	}
}
