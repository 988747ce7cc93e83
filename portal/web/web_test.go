package web_test

import (
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"kqi/portal/accounts"
	"kqi/portal/config"
	"kqi/portal/portaltest"
)

const pw = "correct-horse-9"

func TestLoginRefusals(t *testing.T) {
	env := portaltest.New(t)
	env.Tenant(t, "lab-a")
	env.User(t, "alice", pw, false, "lab-a")

	tests := []struct {
		name, user, pass string
	}{
		{"wrong password", "alice", "not-the-password"},
		{"unknown user", "mallory", pw},
		{"empty", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := env.Browser(t)
			p := b.Submit("/login", "/login", url.Values{"username": {tc.user}, "password": {tc.pass}})
			if p.Status != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", p.Status)
			}
			if !strings.Contains(p.Body, "Wrong user name or password.") {
				t.Fatalf("no clear message in %s", p.Body)
			}
			if tc.user != "" && !strings.Contains(p.Body, `value="`+tc.user+`"`) {
				t.Errorf("the typed user name was not kept")
			}
			if home := b.Get("/"); home.Status != http.StatusSeeOther || !strings.HasPrefix(home.Location, "/login") {
				t.Fatalf("not logged in, yet / answered %d %q", home.Status, home.Location)
			}
		})
	}
}

func TestLoginLogout(t *testing.T) {
	env := portaltest.New(t)
	env.Tenant(t, "lab-a")
	env.User(t, "alice", pw, false, "lab-a")
	b := env.Browser(t)

	// A protected page first sends us to log in, and back afterwards.
	p := b.Get("/settings")
	if p.Status != http.StatusSeeOther || p.Location != "/login?next=%2Fsettings" {
		t.Fatalf("GET /settings anonymous: %d %q", p.Status, p.Location)
	}
	p = b.Submit("/login?next=%2Fsettings", "/login", url.Values{"username": {"alice"}, "password": {pw}, "next": {"/settings"}})
	if p.Status != http.StatusSeeOther || p.Location != "/settings" {
		t.Fatalf("login: %d %q", p.Status, p.Location)
	}
	home := b.Get("/")
	if home.Status != 200 || !strings.Contains(home.Body, `id="current-tenant">lab-a<`) || !strings.Contains(home.Body, `id="current-user">alice<`) {
		t.Fatalf("home does not show tenant and user: %d %s", home.Status, home.Body)
	}
	p = b.Submit("/", "/logout", nil)
	if p.Status != http.StatusSeeOther || p.Location != "/login" {
		t.Fatalf("logout: %d %q", p.Status, p.Location)
	}
	if p := b.Get("/login"); !strings.Contains(p.Body, "You have logged out.") {
		t.Errorf("no logout message")
	}
	if p := b.Get("/"); p.Status != http.StatusSeeOther {
		t.Fatalf("still logged in after logout: %d", p.Status)
	}
}

func TestOffsiteNextIsIgnored(t *testing.T) {
	env := portaltest.New(t)
	env.User(t, "alice", pw, false)
	for _, next := range []string{"//evil.example/", "https://evil.example/", "/\\evil.example", "/\t/evil.example", "/\n/evil.example", "/%09/x\t"} {
		b := env.Browser(t)
		p := b.Submit("/login", "/login", url.Values{"username": {"alice"}, "password": {pw}, "next": {next}})
		// A next with a control character is refused at the edge (the
		// login form again, no redirect at all); any other is ignored.
		if p.Location != "/" && !(p.Status == http.StatusUnprocessableEntity && p.Location == "" && strings.ContainsAny(next, "\t\n")) {
			t.Errorf("next=%q redirected to %q", next, p.Location)
		}
	}
}

func TestExpiredSession(t *testing.T) {
	env := portaltest.New(t)
	idle := env.Config.SessionIdle + time.Second
	env.User(t, "alice", pw, false)
	b := env.Browser(t)
	b.Login("alice", pw)
	b.CSRF("/settings") // fails the test unless the session works until the clock moves
	env.Clock.Advance(idle)

	p := b.Get("/settings")
	if p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location, "/login") {
		t.Fatalf("expired session reached /settings: %d %q", p.Status, p.Location)
	}
	if login := b.Get(p.Location); !strings.Contains(login.Body, "Your session has expired") {
		t.Fatalf("no expiry message on the login page: %s", login.Body)
	}
	// A form posted from a page of the dead session is refused the same way.
	b2 := env.Browser(t)
	b2.Login("alice", pw)
	token := b2.CSRF("/settings")
	env.Clock.Advance(idle)
	p = b2.Post("/settings/language", url.Values{"csrf_token": {token}, "lang": {"ja"}})
	if p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location, "/login") {
		t.Fatalf("POST with expired session: %d %q", p.Status, p.Location)
	}
}

func TestCSRF(t *testing.T) {
	env := portaltest.New(t)
	env.Tenant(t, "lab-a")
	env.User(t, "alice", pw, false, "lab-a")
	b := env.Browser(t)
	b.Login("alice", pw)

	for name, token := range map[string]string{"missing": "", "wrong": "forged-token-0123456789abcdefghijklmnop"} {
		t.Run(name, func(t *testing.T) {
			form := url.Values{"lang": {"ja"}}
			if token != "" {
				form.Set("csrf_token", token)
			}
			p := b.Post("/settings/language", form)
			if p.Status != http.StatusForbidden || !strings.Contains(p.Body, "did not come from this site") {
				t.Fatalf("status %d body %s", p.Status, p.Body)
			}
			if p := b.Get("/settings"); !strings.Contains(p.Body, `<option value="en" selected>`) {
				t.Fatalf("the refused POST changed the language anyway")
			}
		})
	}
	t.Run("login form", func(t *testing.T) {
		anon := env.Browser(t)
		p := anon.Post("/login", url.Values{"username": {"alice"}, "password": {pw}})
		if p.Status != http.StatusForbidden {
			t.Fatalf("login without CSRF token: %d", p.Status)
		}
	})
	t.Run("token of another session", func(t *testing.T) {
		other := env.Browser(t)
		other.Login("alice", pw)
		p := b.Post("/settings/language", url.Values{"csrf_token": {other.CSRF("/settings")}, "lang": {"ja"}})
		if p.Status != http.StatusForbidden {
			t.Fatalf("another session's token accepted: %d", p.Status)
		}
	})
}

func TestTenantSwitch(t *testing.T) {
	env := portaltest.New(t)
	a := env.Tenant(t, "lab-a")
	bTenant := env.Tenant(t, "lab-b")
	c := env.Tenant(t, "lab-c")
	env.User(t, "alice", pw, false, "lab-a", "lab-b:admin")
	br := env.Browser(t)
	br.Login("alice", pw)

	p := br.Submit("/", "/tenant", url.Values{"tenant_id": {strconv.FormatInt(bTenant.ID, 10)}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("switch to lab-b: %d", p.Status)
	}
	if home := br.Get("/"); !strings.Contains(home.Body, `id="current-tenant">lab-b<`) || !strings.Contains(home.Body, "tenant admin") {
		t.Fatalf("home after switch: %s", home.Body)
	}
	// Tenant C exists but alice is not in it: refused, and she stays in B.
	p = br.Submit("/", "/tenant", url.Values{"tenant_id": {strconv.FormatInt(c.ID, 10)}})
	if p.Status != http.StatusForbidden || !strings.Contains(p.Body, "not a member of that tenant") {
		t.Fatalf("switch to a foreign tenant: %d %s", p.Status, p.Body)
	}
	for _, bad := range []string{"999999", "abc", ""} {
		if p := br.Submit("/", "/tenant", url.Values{"tenant_id": {bad}}); p.Status != http.StatusForbidden {
			t.Errorf("tenant_id=%q: %d", bad, p.Status)
		}
	}
	if home := br.Get("/"); !strings.Contains(home.Body, `id="current-tenant">lab-b<`) {
		t.Fatalf("a refused switch changed the tenant")
	}
	// The user menu offers only alice's tenants.
	home := br.Get("/")
	if strings.Contains(home.Body, "lab-c") || !strings.Contains(home.Body, `data-tenant="lab-a"`) {
		t.Fatalf("user menu lists the wrong tenants")
	}
	_ = a
}

// A tenant's administrator who is not a system administrator finds no
// site-admin page or action: each answers 404, as anything not theirs,
// and changes nothing.
func TestAdminPagesNeedSystemAdmin(t *testing.T) {
	env := portaltest.New(t)
	lab := env.Tenant(t, "lab-a")
	env.User(t, "alice", pw, false, "lab-a:admin")
	bob := env.User(t, "bob", pw, false, "lab-a")
	g, err := (&accounts.Sources{Store: env.Store}).CreateGitServer(t.Context(), "devgit", "https://git.example.org")
	if err != nil {
		t.Fatal(err)
	}
	b := env.Browser(t)
	b.Login("alice", pw)
	tid, uid, gid := strconv.FormatInt(lab.ID, 10), strconv.FormatInt(bob.ID, 10), strconv.FormatInt(g.ID, 10)
	for _, path := range []string{"/admin/tenants", "/admin/users", "/admin/sources", "/admin/tenants/" + tid + "/delete",
		"/admin/users/" + uid + "/disable", "/admin/users/" + uid + "/password-reset", "/admin/git-servers/" + gid + "/delete"} {
		if p := b.Get(path); p.Status != http.StatusNotFound {
			t.Errorf("GET %s as tenant admin: %d", path, p.Status)
		}
	}
	for path, form := range map[string]url.Values{
		"/admin/tenants":                          {"name": {"sneaky"}},
		"/admin/tenants/" + tid + "/rename":       {"name": {"sneaky"}},
		"/admin/tenants/" + tid + "/delete":       nil,
		"/admin/users/" + uid + "/disable":        nil,
		"/admin/users/" + uid + "/password-reset": nil,
		"/admin/git-servers/" + gid + "/delete":   nil,
	} {
		if p := b.Submit("/", path, form); p.Status != http.StatusNotFound {
			t.Errorf("POST %s as tenant admin: %d", path, p.Status)
		}
	}
	if _, err := env.Store.TenantByName(t.Context(), "sneaky"); err == nil {
		t.Fatal("a tenant admin created or renamed a tenant")
	}
	if u, _ := env.Store.UserByID(t.Context(), bob.ID); u.DisabledAt != nil || u.MustChangePassword {
		t.Fatalf("a tenant admin changed a user: %+v", u)
	}
	if gs, _ := env.Store.GitServers(t.Context()); len(gs) != 1 {
		t.Fatal("a tenant admin deleted a Git server")
	}
}

func TestAdminCreatesTenantAndUser(t *testing.T) {
	env := portaltest.New(t)
	env.User(t, "root", pw, true)
	b := env.Browser(t)
	b.Login("root", pw)

	p := b.Submit("/admin/tenants", "/admin/tenants", url.Values{"name": {"vision"}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("create tenant: %d %s", p.Status, p.Body)
	}
	// Bad input: a clear message, and what was typed is kept.
	p = b.Submit("/admin/tenants", "/admin/tenants", url.Values{"name": {"Bad Name!"}})
	if p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Body, "A tenant name uses lower-case letters") || !strings.Contains(p.Body, `value="Bad Name!"`) {
		t.Fatalf("bad tenant name: %d %s", p.Status, p.Body)
	}
	p = b.Submit("/admin/tenants", "/admin/tenants", url.Values{"name": {"vision"}})
	if p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Body, "already exists") {
		t.Fatalf("duplicate tenant: %d", p.Status)
	}
	vision, err := env.Store.TenantByName(t.Context(), "vision")
	if err != nil {
		t.Fatal(err)
	}
	vid := strconv.FormatInt(vision.ID, 10)

	p = b.Submit("/admin/users", "/admin/users", url.Values{"username": {"bob"}, "password": {"short"}, "tenant_id": {vid}, "role": {"admin"}})
	if p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Body, "at least 8 characters") || !strings.Contains(p.Body, `value="bob"`) {
		t.Fatalf("short password: %d %s", p.Status, p.Body)
	}
	if _, err := env.Store.UserByName(t.Context(), "bob"); err == nil {
		t.Fatal("a refused user was created")
	}
	p = b.Submit("/admin/users", "/admin/users", url.Values{"username": {"bob"}, "password": {pw}, "tenant_id": {vid}, "role": {"admin"}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("create user: %d %s", p.Status, p.Body)
	}
	bob := env.Browser(t)
	bob.Login("bob", pw)
	if home := bob.Get("/"); !strings.Contains(home.Body, `id="current-tenant">vision<`) {
		t.Fatalf("bob is not in vision")
	}

	// Add bob to a second tenant as a user through the row form.
	env.Tenant(t, "audio")
	audio, _ := env.Store.TenantByName(t.Context(), "audio")
	u, _ := env.Store.UserByName(t.Context(), "bob")
	p = b.Submit("/admin/users", "/admin/users/"+strconv.FormatInt(u.ID, 10)+"/memberships",
		url.Values{"tenant_id": {strconv.FormatInt(audio.ID, 10)}, "role": {"user"}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("add membership: %d %s", p.Status, p.Body)
	}
	if m, err := env.Store.Membership(t.Context(), u.ID, audio.ID); err != nil || m.Role != "user" {
		t.Fatalf("membership: %+v %v", m, err)
	}
}

func TestPasswordChange(t *testing.T) {
	env := portaltest.New(t)
	env.User(t, "alice", pw, false)
	b := env.Browser(t)
	b.Login("alice", pw)
	other := env.Browser(t)
	other.Login("alice", pw)

	p := b.Submit("/settings", "/settings/password", url.Values{"current_password": {"nope-nope-nope"}, "new_password": {"another-pass-1"}, "confirm_password": {"another-pass-1"}})
	if p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Body, "The current password is wrong.") {
		t.Fatalf("wrong current password: %d", p.Status)
	}
	p = b.Submit("/settings", "/settings/password", url.Values{"current_password": {pw}, "new_password": {"another-pass-1"}, "confirm_password": {"another-pass-2"}})
	if p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Body, "differ") {
		t.Fatalf("mismatch: %d", p.Status)
	}
	p = b.Submit("/settings", "/settings/password", url.Values{"current_password": {pw}, "new_password": {"another-pass-1"}, "confirm_password": {"another-pass-1"}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("change: %d %s", p.Status, p.Body)
	}
	if p := b.Get("/settings"); p.Status != http.StatusOK {
		t.Fatalf("the changing session was logged out: %d", p.Status)
	}
	if p := other.Get("/settings"); p.Status != http.StatusSeeOther {
		t.Fatalf("another session survived the password change: %d", p.Status)
	}
	fresh := env.Browser(t)
	fresh.Login("alice", "another-pass-1")
	if p := env.Browser(t).Submit("/login", "/login", url.Values{"username": {"alice"}, "password": {pw}}); p.Status != http.StatusUnauthorized {
		t.Fatalf("the old password still works: %d", p.Status)
	}
}

func TestJapaneseUI(t *testing.T) {
	env := portaltest.New(t)
	env.User(t, "alice", pw, false)
	b := env.Browser(t)
	b.Login("alice", pw)
	if p := b.Submit("/settings", "/settings/language", url.Values{"lang": {"ja"}}); p.Status != http.StatusSeeOther {
		t.Fatalf("set language: %d", p.Status)
	}
	p := b.Get("/settings")
	if !strings.Contains(p.Body, `<html lang="ja">`) || !strings.Contains(p.Body, "ユーザ設定") {
		t.Fatalf("settings page not in Japanese")
	}
}

func TestSecurityHeadersAndNotFound(t *testing.T) {
	env := portaltest.New(t)
	resp, err := http.Get(env.URL + "/no/such/page")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("status %d", resp.StatusCode)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"script-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Error("no nosniff")
	}
}

func TestAdminSetsQuota(t *testing.T) {
	env := portaltest.New(t)
	lab := env.Tenant(t, "lab")
	env.User(t, "root", pw, true)
	b := env.Browser(t)
	b.Login("root", pw)
	path := "/admin/tenants/" + strconv.FormatInt(lab.ID, 10) + "/quota"
	if p := b.Submit("/admin/tenants", path, url.Values{"quota_cpu": {"-1"}, "quota_memory_gb": {"64"}, "quota_gpu": {""}}); p.Status != http.StatusUnprocessableEntity ||
		!strings.Contains(p.Body, `name="quota_cpu" size="3" inputmode="numeric" value="-1"`) || !strings.Contains(p.Body, `name="quota_memory_gb" size="3" inputmode="numeric" value="64"`) {
		t.Fatalf("negative quota: %d, typed values kept: %v", p.Status, strings.Contains(p.Body, `value="-1"`))
	}
	if p := b.Submit("/admin/tenants", path, url.Values{"quota_cpu": {"8"}, "quota_memory_gb": {""}, "quota_gpu": {"2"}}); p.Status != http.StatusSeeOther {
		t.Fatalf("set quota: %d", p.Status)
	}
	got, _ := env.Store.TenantByID(t.Context(), lab.ID)
	if got.QuotaCPU == nil || *got.QuotaCPU != 8 || got.QuotaMemoryGB != nil || got.QuotaGPU == nil || *got.QuotaGPU != 2 {
		t.Fatalf("quota %+v", got)
	}
	if p := b.Get("/admin/tenants"); !strings.Contains(p.Body, `name="quota_cpu" size="3" inputmode="numeric" value="8"`) {
		t.Fatal("the page does not show the quota")
	}
}

func TestAdminSetsSlurmAccount(t *testing.T) {
	env := portaltest.New(t)
	lab := env.Tenant(t, "lab")
	env.User(t, "root", pw, true)
	b := env.Browser(t)
	b.Login("root", pw)
	path := "/admin/tenants/" + strconv.FormatInt(lab.ID, 10) + "/slurm-account"
	if p := b.Submit("/admin/tenants", path, url.Values{"slurm_account": {"lab;id"}}); p.Status != http.StatusUnprocessableEntity ||
		!strings.Contains(p.Body, "Slurm account name") || !strings.Contains(p.Body, `name="slurm_account" size="10" value="lab;id"`) {
		t.Fatalf("bad account: %d", p.Status)
	}
	if p := b.Submit("/admin/tenants", path, url.Values{"slurm_account": {" lab-vision "}}); p.Status != http.StatusSeeOther {
		t.Fatalf("set account: %d", p.Status)
	}
	if got, _ := env.Store.TenantByID(t.Context(), lab.ID); got.SlurmAccount != "lab-vision" {
		t.Fatalf("account %q", got.SlurmAccount)
	}
	if p := b.Get("/admin/tenants"); !strings.Contains(p.Body, `name="slurm_account" size="10" value="lab-vision"`) {
		t.Fatal("the page does not show the account")
	}
	if p := b.Submit("/admin/tenants", path, url.Values{"slurm_account": {""}}); p.Status != http.StatusSeeOther {
		t.Fatalf("clear account: %d", p.Status)
	}
	if got, _ := env.Store.TenantByID(t.Context(), lab.ID); got.SlurmAccount != "" {
		t.Fatalf("account %q after clearing", got.SlurmAccount)
	}
}

func TestTenantAdminManagesMembers(t *testing.T) {
	env := portaltest.New(t)
	lab := env.Tenant(t, "lab")
	env.Tenant(t, "other")
	env.User(t, "boss", pw, false, "lab:admin")
	env.User(t, "alice", pw, false, "lab")
	bob := env.User(t, "bob", pw, false, "other")

	alice := env.Browser(t)
	alice.Login("alice", pw)
	if p := alice.Get("/members"); p.Status != http.StatusForbidden {
		t.Fatalf("a tenant user opened /members: %d", p.Status)
	}

	b := env.Browser(t)
	b.Login("boss", pw)
	if p := b.Submit("/members", "/members", url.Values{"username": {"nobody"}, "role": {"user"}}); p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Body, `value="nobody"`) {
		t.Fatalf("unknown user: %d", p.Status)
	}
	if p := b.Submit("/members", "/members", url.Values{"username": {"bob"}, "role": {"user"}}); p.Status != http.StatusSeeOther {
		t.Fatalf("add bob: %d %s", p.Status, p.Body)
	}
	if _, err := env.Store.Membership(t.Context(), bob.ID, lab.ID); err != nil {
		t.Fatalf("bob is not in lab: %v", err)
	}
	if p := b.Submit("/members", "/members/"+strconv.FormatInt(bob.ID, 10)+"/remove", nil); p.Status != http.StatusSeeOther {
		t.Fatalf("remove bob: %d", p.Status)
	}
	if _, err := env.Store.Membership(t.Context(), bob.ID, lab.ID); err == nil {
		t.Fatal("bob is still in lab")
	}
	boss, _ := env.Store.UserByName(t.Context(), "boss")
	if p := b.Submit("/members", "/members/"+strconv.FormatInt(boss.ID, 10)+"/remove", nil); p.Status != http.StatusUnprocessableEntity {
		t.Fatalf("removing oneself: %d", p.Status)
	}
}

// After ten failed logins from one client, even the right password is
// refused for a while, on the pages and the API alike.
func TestLoginFailureLimit(t *testing.T) {
	env := portaltest.New(t)
	env.Tenant(t, "lab")
	env.User(t, "alice", pw, false, "lab")
	b := env.Browser(t)
	for i := 0; i < 10; i++ {
		if p := b.Submit("/login", "/login", url.Values{"username": {"alice"}, "password": {"guess-" + strconv.Itoa(i)}}); p.Status != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d", i, p.Status)
		}
	}
	p := b.Submit("/login", "/login", url.Values{"username": {"alice"}, "password": {pw}})
	if p.Status != http.StatusTooManyRequests || !strings.Contains(p.Body, "Too many failed logins") || !strings.Contains(p.Body, `value="alice"`) {
		t.Fatalf("right password after ten failures: %d", p.Status)
	}
	resp, err := http.Post(env.URL+"/api/v1/auth/token", "application/json",
		strings.NewReader(`{"username":"alice","password":"`+pw+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("API token after ten failures: %d", resp.StatusCode)
	}
}

// Behind a trusted reverse proxy each user keeps a limit of their own: one
// guesser does not lock out everyone else behind the same proxy.
func TestLoginFailureLimitBehindProxy(t *testing.T) {
	env := portaltest.New(t, func(c *config.Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	})
	env.Tenant(t, "lab")
	env.User(t, "alice", pw, false, "lab")
	token := func(from, password string) int {
		req, err := http.NewRequest(http.MethodPost, env.URL+"/api/v1/auth/token",
			strings.NewReader(`{"username":"alice","password":"`+password+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", from)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for i := 0; i < 10; i++ {
		if code := token("198.51.100.66", "guess"); code != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d", i, code)
		}
	}
	if code := token("198.51.100.66", pw); code != http.StatusTooManyRequests {
		t.Fatalf("the guesser after ten failures: %d", code)
	}
	if code := token("198.51.100.7", pw); code != http.StatusCreated {
		t.Fatalf("another user behind the proxy: %d", code)
	}
}
