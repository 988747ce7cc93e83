package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"kqi/portal/accounts"
	"kqi/portal/jobs"
	"kqi/portal/portaltest"
	"kqi/storage"
)

func id(n int64) string { return strconv.FormatInt(n, 10) }

// adminEnv is a portal with a system administrator logged in.
func adminEnv(t *testing.T) (*portaltest.Env, *portaltest.Browser, *storage.User) {
	env := portaltest.New(t)
	root := env.User(t, "root", pw, true)
	b := env.Browser(t)
	b.Login("root", pw)
	return env, b, root
}

// Rename keeps the id; a refused name (bad, taken) shows in the tenant's
// own row as typed, and so does a refused quota, never at the page's top.
func TestAdminRenamesTenant(t *testing.T) {
	env, b, _ := adminEnv(t)
	lab := env.Tenant(t, "lab")
	env.Tenant(t, "other")
	path := "/admin/tenants/" + id(lab.ID) + "/rename"
	for _, tc := range []struct{ name, typed, want string }{
		{"bad name", "Bad Name!", "A tenant name uses lower-case letters"},
		{"taken", "other", "A tenant with that name already exists."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := b.Submit("/admin/tenants", path, url.Values{"name": {tc.typed}})
			if p.Status != http.StatusUnprocessableEntity {
				t.Fatalf("status %d", p.Status)
			}
			row := rowOf(t, p.Body, "tenant-"+id(lab.ID))
			if !strings.Contains(row, `value="`+htmlEscape(tc.typed)+`"`) {
				t.Errorf("the typed name is not kept in the row:\n%s", row)
			}
			if !strings.Contains(errorRowOf(p.Body, lab.ID), tc.want) {
				t.Errorf("the refusal is not next to the tenant:\n%s", p.Body)
			}
			if strings.Index(p.Body, tc.want) < strings.Index(p.Body, `id="tenant-table"`) {
				t.Error("the refusal shows above the table")
			}
		})
	}
	t.Run("quota error next to its tenant", func(t *testing.T) {
		p := b.Submit("/admin/tenants", "/admin/tenants/"+id(lab.ID)+"/quota", url.Values{"quota_cpu": {"lots"}})
		if p.Status != http.StatusUnprocessableEntity || !strings.Contains(errorRowOf(p.Body, lab.ID), "A quota is a whole number") {
			t.Fatalf("%d\n%s", p.Status, p.Body)
		}
		if strings.Index(p.Body, "A quota is a whole number") < strings.Index(p.Body, `id="tenant-table"`) {
			t.Error("the quota error shows above the table")
		}
	})
	t.Run("not found", func(t *testing.T) {
		if p := b.Submit("/admin/tenants", "/admin/tenants/987654321/rename", url.Values{"name": {"x"}}); p.Status != http.StatusNotFound {
			t.Fatalf("status %d", p.Status)
		}
	})
	t.Run("renamed", func(t *testing.T) {
		if p := b.Submit("/admin/tenants", path, url.Values{"name": {"vision"}}); p.Status != http.StatusSeeOther {
			t.Fatalf("status %d", p.Status)
		}
		got, err := env.Store.TenantByID(t.Context(), lab.ID)
		if err != nil || got.Name != "vision" {
			t.Fatalf("after rename: %+v %v", got, err)
		}
		if p := b.Get("/admin/tenants"); !strings.Contains(p.Body, "Tenant renamed.") || !strings.Contains(rowOf(t, p.Body, "tenant-"+id(lab.ID)), `value="vision"`) {
			t.Fatal("the list does not show the new name")
		}
	})
}

// A tenant holding anything but members cannot be deleted: the confirm
// page and the POST say what is left (running jobs first); an empty one
// is deleted with its memberships, the users stay.
func TestAdminDeletesTenant(t *testing.T) {
	env, b, _ := adminEnv(t)
	ctx := context.Background()
	lab := env.Tenant(t, "lab")
	alice := env.User(t, "alice", pw, false, "lab")
	dsID, err := env.Store.CreateDataset(ctx, storage.NewDataset{TenantID: lab.ID, Name: "mnist"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = env.Jobs.Submit(ctx, jobs.Actor{TenantID: lab.ID, UserID: alice.ID}, jobs.Training,
		jobs.Request{Name: "resnet", DatasetID: dsID, CPU: 1, MemoryGB: 1, Command: "true"})
	if err != nil {
		t.Fatal(err)
	}
	path := "/admin/tenants/" + id(lab.ID) + "/delete"

	p := b.Get(path)
	for _, want := range []string{"Delete tenant lab?", "Jobs still queued or running: 1", "Jobs (trainings, inferences, preprocessing runs, TensorBoards) left: 1.", "Datasets left: 1.", "nothing but members"} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("the confirm page of a full tenant lacks %q", want)
		}
	}
	if p.Status != http.StatusOK || strings.Contains(p.Body, `id="confirm-button"`) {
		t.Errorf("a full tenant's confirm page: %d, offers the button: %v", p.Status, strings.Contains(p.Body, `id="confirm-button"`))
	}
	p = b.Submit("/admin/tenants", path, nil)
	if p.Status != http.StatusConflict || !strings.Contains(p.Body, "Jobs still queued or running: 1") {
		t.Fatalf("deleting a tenant with a running job: %d", p.Status)
	}
	if _, err := env.Store.TenantByID(ctx, lab.ID); err != nil {
		t.Fatal("the refused tenant is gone")
	}

	// A tenant that holds nothing but members goes. (A tenant whose
	// dataset a job used cannot be emptied: a used dataset is frozen.)
	spare := env.Tenant(t, "spare")
	if err := (&accounts.Service{Store: env.Store}).AddMember(ctx, alice.ID, spare.ID, storage.RoleUser); err != nil {
		t.Fatal(err)
	}
	path = "/admin/tenants/" + id(spare.ID) + "/delete"
	p = b.Get(path)
	if !strings.Contains(p.Body, `id="confirm-button"`) || !strings.Contains(p.Body, "Memberships that end: 1") {
		t.Fatalf("the empty tenant's confirm page:\n%s", p.Body)
	}
	if _, err := env.Files.Put(ctx, "tenants/"+id(spare.ID)+"/data/.keep", strings.NewReader("")); err != nil {
		t.Fatal(err)
	}
	if p := b.Submit("/admin/tenants", path, nil); p.Status != http.StatusSeeOther {
		t.Fatalf("deleting the empty tenant: %d\n%s", p.Status, p.Body)
	}
	if _, err := env.Store.TenantByID(ctx, spare.ID); err == nil {
		t.Fatal("the tenant is still there")
	}
	if ms, _ := env.Store.MembershipsOfUser(ctx, alice.ID); len(ms) != 1 || ms[0].Tenant.ID != lab.ID {
		t.Fatalf("memberships left: %+v", ms)
	}
	if _, err := env.Store.UserByID(ctx, alice.ID); err != nil {
		t.Fatal("the member went with the tenant")
	}
	if _, err := env.Files.Stat(ctx, "tenants/"+id(spare.ID)); err == nil {
		t.Error("the tenant's directory is left")
	}
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		var p portaltest.Page
		if method == http.MethodGet {
			p = b.Get(path)
		} else {
			p = b.Submit("/admin/tenants", path, nil)
		}
		if p.Status != http.StatusNotFound {
			t.Errorf("%s of a deleted tenant: %d", method, p.Status)
		}
	}
}

// Disabling ends the user's sessions and API tokens at once and keeps
// their jobs; a disabled account is told so only after the right
// password, a wrong one gets the usual answer. Enabling lets them in.
func TestAdminDisablesUser(t *testing.T) {
	env, b, root := adminEnv(t)
	ctx := context.Background()
	lab := env.Tenant(t, "lab")
	alice := env.User(t, "alice", pw, false, "lab")
	ab := env.Browser(t)
	ab.Login("alice", pw)
	token := env.APIToken(t, alice, lab.ID)
	dsID, _ := env.Store.CreateDataset(ctx, storage.NewDataset{TenantID: lab.ID, Name: "mnist"})
	j, err := env.Jobs.Submit(ctx, jobs.Actor{TenantID: lab.ID, UserID: alice.ID}, jobs.Training,
		jobs.Request{Name: "resnet", DatasetID: dsID, CPU: 1, MemoryGB: 1, Command: "true"})
	if err != nil {
		t.Fatal(err)
	}
	path := "/admin/users/" + id(alice.ID) + "/disable"
	p := b.Get(path)
	for _, want := range []string{"Disable alice?", "sessions and API tokens end at once", "keep running", `id="confirm-button"`} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("the confirm page lacks %q", want)
		}
	}
	if p := b.Submit("/admin/users", path, nil); p.Status != http.StatusSeeOther {
		t.Fatalf("disable: %d", p.Status)
	}
	if p := ab.Get("/data"); p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location, "/login") {
		t.Errorf("the disabled user's session still works: %d %s", p.Status, p.Location)
	}
	if status := apiStatus(t, env, token); status != http.StatusUnauthorized {
		t.Errorf("the disabled user's API token answers %d", status)
	}
	if got, _ := env.Store.JobByID(ctx, lab.ID, j.ID); got.Status != j.Status || got.StopRequested {
		t.Errorf("the job was touched: %s, stop %v", got.Status, got.StopRequested)
	}
	if p := env.Browser(t).Submit("/login", "/login", url.Values{"username": {"alice"}, "password": {"wrong-password-1"}}); p.Status != http.StatusUnauthorized || strings.Contains(p.Body, "disabled") {
		t.Errorf("a wrong password of a disabled account: %d, says disabled: %v", p.Status, strings.Contains(p.Body, "disabled"))
	}
	if p := env.Browser(t).Submit("/login", "/login", url.Values{"username": {"alice"}, "password": {pw}}); p.Status != http.StatusForbidden || !strings.Contains(p.Body, "This account is disabled.") {
		t.Errorf("the right password of a disabled account: %d", p.Status)
	}
	if p := b.Get("/admin/users"); !strings.Contains(rowOf(t, p.Body, "user-"+id(alice.ID)), "disabled") {
		t.Error("the list does not mark the user disabled")
	}
	if p := b.Submit("/admin/users", "/admin/users/"+id(alice.ID)+"/enable", nil); p.Status != http.StatusSeeOther {
		t.Fatalf("enable: %d", p.Status)
	}
	env.Browser(t).Login("alice", pw)

	t.Run("not yourself", func(t *testing.T) {
		self := "/admin/users/" + id(root.ID) + "/disable"
		if p := b.Get(self); !strings.Contains(p.Body, "your own account") || strings.Contains(p.Body, `id="confirm-button"`) {
			t.Errorf("own confirm page:\n%s", p.Body)
		}
		if p := b.Submit("/admin/users", self, nil); p.Status != http.StatusConflict {
			t.Errorf("disabling oneself: %d", p.Status)
		}
		if u, _ := env.Store.UserByID(ctx, root.ID); u.DisabledAt != nil {
			t.Fatal("the administrator disabled themselves")
		}
	})
	t.Run("not found", func(t *testing.T) {
		if p := b.Get("/admin/users/987654321/disable"); p.Status != http.StatusNotFound {
			t.Errorf("GET: %d", p.Status)
		}
		if p := b.Submit("/admin/users", "/admin/users/987654321/disable", nil); p.Status != http.StatusNotFound {
			t.Errorf("POST: %d", p.Status)
		}
		if p := b.Submit("/admin/users", "/admin/users/987654321/enable", nil); p.Status != http.StatusNotFound {
			t.Errorf("enable: %d", p.Status)
		}
	})
}

// apiStatus is what GET /api/v1/me answers to a bearer token.
func apiStatus(t *testing.T, env *portaltest.Env, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, env.URL+"/api/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

var tempPassword = regexp.MustCompile(`id="temp-password">([^<]+)<`)

// A reset shows a temporary password once (never logged), ends the
// user's sessions; the user must choose their own before anything else,
// and gets no API token until they have.
func TestAdminResetsPassword(t *testing.T) {
	env, b, root := adminEnv(t)
	env.Tenant(t, "lab")
	alice := env.User(t, "alice", pw, false, "lab")
	ab := env.Browser(t)
	ab.Login("alice", pw)
	path := "/admin/users/" + id(alice.ID) + "/password-reset"
	if p := b.Get(path); p.Status != http.StatusOK || !strings.Contains(p.Body, "Reset the password of alice?") || !strings.Contains(p.Body, `id="confirm-button"`) {
		t.Fatalf("confirm page: %d", p.Status)
	}
	p := b.Submit("/admin/users", path, nil)
	m := tempPassword.FindStringSubmatch(p.Body)
	if p.Status != http.StatusOK || m == nil {
		t.Fatalf("reset: %d\n%s", p.Status, p.Body)
	}
	temp := m[1]
	if strings.Contains(env.Logs(), temp) {
		t.Fatal("the temporary password is in the log")
	}
	if !strings.Contains(env.Logs(), "password reset by an administrator") {
		t.Error("the reset is not logged")
	}
	if u, _ := env.Store.UserByID(t.Context(), alice.ID); strings.Contains(u.PasswordHash, temp) || !u.MustChangePassword {
		t.Fatalf("stored %+v", u)
	}
	if p := ab.Get("/data"); p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location, "/login") {
		t.Errorf("the user's session survived the reset: %d %s", p.Status, p.Location)
	}
	if p := env.Browser(t).Submit("/login", "/login", url.Values{"username": {"alice"}, "password": {pw}}); p.Status != http.StatusUnauthorized {
		t.Errorf("the old password still works: %d", p.Status)
	}
	if status, body := apiLogin(t, env, "alice", temp); status != http.StatusForbidden || !strings.Contains(body, "temporary") {
		t.Errorf("an API token for a temporary password: %d %s", status, body)
	}

	u := env.Browser(t)
	if p := u.Submit("/login", "/login", url.Values{"username": {"alice"}, "password": {temp}}); p.Status != http.StatusSeeOther || p.Location != "/password" {
		t.Fatalf("login with the temporary password: %d %s", p.Status, p.Location)
	}
	if p := u.Get("/data"); p.Status != http.StatusSeeOther || p.Location != "/password" {
		t.Errorf("another page before choosing a password: %d %s", p.Status, p.Location)
	}
	for _, tc := range []struct{ name, current, next, confirm, want string }{
		{"wrong temporary", "nope-nope-nope", "horse-battery-77", "horse-battery-77", "current password is wrong"},
		{"mismatch", temp, "horse-battery-77", "horse-battery-78", "differ"},
	} {
		p := u.Submit("/password", "/password", url.Values{"current_password": {tc.current}, "new_password": {tc.next}, "confirm_password": {tc.confirm}})
		if p.Status != http.StatusUnprocessableEntity || !strings.Contains(strings.ToLower(p.Body), tc.want) {
			t.Errorf("%s: %d\n%s", tc.name, p.Status, p.Body)
		}
	}
	if p := u.Submit("/password", "/password", url.Values{"current_password": {temp}, "new_password": {"horse-battery-77"}, "confirm_password": {"horse-battery-77"}}); p.Status != http.StatusSeeOther || p.Location != "/" {
		t.Fatalf("choosing a password: %d %s", p.Status, p.Location)
	}
	if p := u.Get("/data"); p.Status != http.StatusOK {
		t.Errorf("after choosing: %d", p.Status)
	}
	if p := u.Get("/password"); p.Status != http.StatusSeeOther || p.Location != "/settings" {
		t.Errorf("the page once chosen: %d %s", p.Status, p.Location)
	}
	if status, _ := apiLogin(t, env, "alice", "horse-battery-77"); status != http.StatusCreated {
		t.Errorf("an API token after choosing: %d", status)
	}

	t.Run("not yourself", func(t *testing.T) {
		if p := b.Submit("/admin/users", "/admin/users/"+id(root.ID)+"/password-reset", nil); p.Status != http.StatusConflict || tempPassword.MatchString(p.Body) {
			t.Errorf("resetting one's own: %d", p.Status)
		}
	})
	t.Run("not found", func(t *testing.T) {
		if p := b.Get("/admin/users/987654321/password-reset"); p.Status != http.StatusNotFound {
			t.Errorf("GET: %d", p.Status)
		}
		if p := b.Submit("/admin/users", "/admin/users/987654321/password-reset", nil); p.Status != http.StatusNotFound {
			t.Errorf("POST: %d", p.Status)
		}
	})
}

func apiLogin(t *testing.T, env *portaltest.Env, user, password string) (int, string) {
	t.Helper()
	body := `{"username": "` + user + `", "password": "` + password + `"}`
	resp, err := http.Post(env.URL+"/api/v1/auth/token", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b := new(strings.Builder)
	buf := make([]byte, 4096)
	n, _ := resp.Body.Read(buf)
	b.Write(buf[:n])
	return resp.StatusCode, b.String()
}

// A Git server in use can be deleted: its tokens go, and the jobs that
// named it as server/path keep its full URL, so their history still reads
// the repository. A registry's tokens go the same way.
func TestAdminDeletesSources(t *testing.T) {
	env, b, _ := adminEnv(t)
	ctx := context.Background()
	lab := env.Tenant(t, "lab")
	alice := env.User(t, "alice", pw, false, "lab")
	src := &accounts.Sources{Store: env.Store, Sealer: env.Sealer}
	g, _ := src.CreateGitServer(ctx, "devgit", "https://git.example.org")
	other, _ := src.CreateGitServer(ctx, "devgit2", "https://git2.example.org")
	reg, _ := src.CreateRegistry(ctx, "hub", "registry.example.org:5000")
	if err := src.SetToken(ctx, alice.ID, storage.CredentialGit, g.ID, "alice", "s3cret"); err != nil {
		t.Fatal(err)
	}
	if err := src.SetToken(ctx, alice.ID, storage.CredentialRegistry, reg.ID, "alice", "s3cret"); err != nil {
		t.Fatal(err)
	}
	dsID, _ := env.Store.CreateDataset(ctx, storage.NewDataset{TenantID: lab.ID, Name: "mnist"})
	submit := func(repo string) *storage.Job {
		j, err := env.Jobs.Submit(ctx, jobs.Actor{TenantID: lab.ID, UserID: alice.ID}, jobs.Training,
			jobs.Request{Name: "resnet", DatasetID: dsID, CPU: 1, MemoryGB: 1, Command: "true", GitRepository: repo})
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	mine, theirs := submit("devgit/lab/model.git"), submit("devgit2/lab/model.git")

	path := "/admin/git-servers/" + id(g.ID) + "/delete"
	p := b.Get(path)
	for _, want := range []string{"Delete devgit (https://git.example.org)?", "Tokens users stored for it, which are deleted: 1.", "Jobs and preprocessing definitions that name it as server/path: 1.", "Of those jobs, queued or running: 1.", `id="confirm-button"`} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("the confirm page lacks %q", want)
		}
	}
	if p := b.Submit("/admin/sources", path, nil); p.Status != http.StatusSeeOther {
		t.Fatalf("delete: %d", p.Status)
	}
	if gs, _ := env.Store.GitServers(ctx); len(gs) != 1 || gs[0].ID != other.ID {
		t.Fatalf("servers left: %+v", gs)
	}
	if _, err := env.Store.CredentialFor(ctx, alice.ID, storage.CredentialGit, g.ID); err == nil {
		t.Error("the token for the deleted server is left")
	}
	if got, _ := env.Store.JobByID(ctx, lab.ID, mine.ID); got.GitRepository != "https://git.example.org/lab/model.git" {
		t.Errorf("the job's repository reads %q", got.GitRepository)
	}
	if got, _ := env.Store.JobByID(ctx, lab.ID, theirs.ID); got.GitRepository != "devgit2/lab/model.git" {
		t.Errorf("another server's job now reads %q", got.GitRepository)
	}
	ab := env.Browser(t)
	ab.Login("alice", pw)
	if p := ab.Get("/trainings/" + id(mine.ID)); !strings.Contains(p.Body, "https://git.example.org/lab/model.git") {
		t.Error("the training's page does not show the URL it ran with")
	}

	rpath := "/admin/registries/" + id(reg.ID) + "/delete"
	if p := b.Get(rpath); !strings.Contains(p.Body, "Delete hub (registry.example.org:5000)?") || !strings.Contains(p.Body, "Tokens users stored for it, which are deleted: 1.") {
		t.Errorf("the registry's confirm page:\n%s", p.Body)
	}
	if p := b.Submit("/admin/sources", rpath, nil); p.Status != http.StatusSeeOther {
		t.Fatalf("delete registry: %d", p.Status)
	}
	if _, err := env.Store.CredentialFor(ctx, alice.ID, storage.CredentialRegistry, reg.ID); err == nil {
		t.Error("the token for the deleted registry is left")
	}
	for _, path := range []string{path, rpath} {
		if p := b.Get(path); p.Status != http.StatusNotFound {
			t.Errorf("GET %s once deleted: %d", path, p.Status)
		}
		if p := b.Submit("/admin/sources", path, nil); p.Status != http.StatusNotFound {
			t.Errorf("POST %s once deleted: %d", path, p.Status)
		}
	}
}

// rowOf is the table row with the element id, or fails.
func rowOf(t *testing.T, body, elementID string) string {
	t.Helper()
	i := strings.Index(body, `id="`+elementID+`"`)
	if i < 0 {
		t.Fatalf("no row %s", elementID)
	}
	end := strings.Index(body[i:], "</tr>")
	return body[i : i+end]
}

// errorRowOf is the refusal row shown under a tenant's row ("" if none).
func errorRowOf(body string, tenantID int64) string {
	i := strings.Index(body, `id="tenant-`+id(tenantID)+`-error"`)
	if i < 0 {
		return ""
	}
	end := strings.Index(body[i:], "</tr>")
	return body[i : i+end]
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;").Replace(s)
}
