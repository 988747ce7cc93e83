package server_test

// What the generated route tests share: every registered route read from
// the router, a tenant full of real objects, and the fixtures that fill a
// route's variables with those objects' ids. A route added later is walked
// like the others; one whose variable no fixture knows fails the tests
// with the place to add one.

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/gorilla/mux"
	"golang.org/x/crypto/ssh"

	"kqi/portal/accounts"
	"kqi/portal/data"
	"kqi/portal/jobs"
	"kqi/portal/portaltest"
	"kqi/portal/preprocess"
	"kqi/portal/transfer"
	"kqi/slurm"
	"kqi/storage"
)

// route is one registered route and method.
type route struct {
	name, tmpl, method string
	vars               []string // in the order they appear
}

func (r route) String() string { return r.method + " " + r.tmpl + " (" + r.name + ")" }

func (r route) api() bool { return strings.HasPrefix(r.tmpl, "/api/") }

var routeVar = regexp.MustCompile(`\{([A-Za-z_]\w*)(?::[^{}]*)?\}`)

// routesOf lists every route of the router that has a handler and methods.
func routesOf(t *testing.T, router *mux.Router) []route {
	t.Helper()
	var out []route
	err := router.Walk(func(r *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		tmpl, err := r.GetPathTemplate()
		methods, merr := r.GetMethods()
		if err != nil || merr != nil || r.GetHandler() == nil {
			return nil // a subrouter's node or a catch-all: its routes are walked themselves
		}
		var vars []string
		for _, m := range routeVar.FindAllStringSubmatch(tmpl, -1) {
			vars = append(vars, m[1])
		}
		for _, m := range methods {
			out = append(out, route{name: r.GetName(), tmpl: tmpl, method: m, vars: vars})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 50 {
		t.Fatalf("only %d routes found: the walk is broken", len(out))
	}
	sort.SliceStable(out, func(i, j int) bool { return destructive(out[i]) < destructive(out[j]) })
	return out
}

// destructive orders the walk: routes that delete or end things run last,
// so the others still find the fixtures.
func destructive(r route) int {
	if r.method == http.MethodDelete || strings.Contains(r.tmpl, "delete") || strings.Contains(r.tmpl, "remove") || strings.Contains(r.tmpl, "revoke") || r.tmpl == "/logout" {
		return 1
	}
	return 0
}

// build fills the route's path: each variable's value from fill, escaped as
// a path segment (a {path:.+} keeps its slashes).
func (r route) build(fill func(v string) string) string {
	return routeVar.ReplaceAllStringFunc(r.tmpl, func(m string) string {
		v := routeVar.FindStringSubmatch(m)[1]
		val := fill(v)
		if strings.Contains(m, ".+") {
			parts := strings.Split(val, "/")
			for i := range parts {
				parts[i] = pathEscape(parts[i])
			}
			return strings.Join(parts, "/")
		}
		return pathEscape(val)
	})
}

// pathEscape escapes every byte that is not a plain path character, bad
// UTF-8 and NUL included.
func pathEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// collection is the literal path segment before the route's first
// variable ("data" for /api/v1/data/{id}/files/{name}): with the
// variable's name it says which fixture fills it.
func (r route) collection() string {
	before, _, _ := strings.Cut(r.tmpl, "{")
	parts := strings.Split(strings.Trim(before, "/"), "/")
	return parts[len(parts)-1]
}

// tenantObjects are one tenant's real things, one of each, for the routes
// to be called on.
type tenantObjects struct {
	tenant  *storage.Tenant
	admin   *storage.User // the tenant's admin
	member  *storage.User // another member
	data    *storage.Data
	file    string // a file of data
	dataset int64
	jobs    map[string]*storage.Job // by kind name: a completed job with an output file
	token   int64                   // an API token of admin's
	// preprocess is a definition with an open (external) history entry
	// for data.
	preprocess int64
	sshKey     int64 // an SSH key of admin's
}

// sshKey returns the id of an SSH key of the tenant's admin, registered
// the first time it is asked for.
func (w *world) sshKey(t *testing.T, o *tenantObjects) int64 {
	t.Helper()
	if o.sshKey == 0 {
		pub, _, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		key, _ := ssh.NewPublicKey(pub)
		k, err := w.env.Store.CreateSSHKey(context.Background(), o.admin.ID, "fixture", string(ssh.MarshalAuthorizedKey(key)), ssh.FingerprintSHA256(key))
		if err != nil {
			t.Fatal(err)
		}
		o.sshKey = k.ID
	}
	return o.sshKey
}

// outputFile is the output every fixture job leaves.
const outputFile = "sub/result.txt"

// world is a portal with two tenants' objects: lab (whose admin is also the
// system administrator) and other.
type world struct {
	env        *portaltest.Env
	lab, other *tenantObjects
	gitServer  int64
	registry   int64
}

func newWorld(t *testing.T) *world {
	t.Helper()
	env := portaltest.New(t)
	w := &world{env: env}
	root := env.User(t, "root", "correct-horse-9", true)
	w.lab = w.tenant(t, "lab", root)
	w.other = w.tenant(t, "other", nil)
	ctx := context.Background()
	src := &accounts.Sources{Store: env.Store}
	g, err := src.CreateGitServer(ctx, "devgit", "https://git.example.org")
	if err != nil {
		t.Fatal(err)
	}
	reg, err := src.CreateRegistry(ctx, "hub", "registry.example.org:5000")
	if err != nil {
		t.Fatal(err)
	}
	w.gitServer, w.registry = g.ID, reg.ID
	return w
}

// tenant makes a tenant with a datum, a dataset and a completed job of
// every kind the routes name. admin, if given, becomes its admin.
func (w *world) tenant(t *testing.T, name string, admin *storage.User) *tenantObjects {
	t.Helper()
	env, ctx := w.env, context.Background()
	o := &tenantObjects{tenant: env.Tenant(t, name), jobs: map[string]*storage.Job{}}
	acc := &accounts.Service{Store: env.Store}
	if admin == nil {
		admin = env.User(t, name+"-admin", "correct-horse-9", false)
	}
	if err := acc.AddMember(ctx, admin.ID, o.tenant.ID, storage.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	o.admin = admin
	tok, err := env.Store.APITokenByValue(ctx, env.APIToken(t, admin, o.tenant.ID))
	if err != nil {
		t.Fatal(err)
	}
	o.token = tok.ID
	o.member = env.User(t, name+"-member", "correct-horse-9", false, name)
	who := data.Actor{TenantID: o.tenant.ID, UserID: admin.ID}
	body, ctype := uploadBody(t, map[string]string{"name": name + "-data"}, "a.txt", "hello\n")
	req, _ := http.NewRequest(http.MethodPost, "/", body)
	req.Header.Set("Content-Type", ctype)
	mr, err := transfer.FormOf(req)
	if err != nil {
		t.Fatal(err)
	}
	svc := &data.Service{Store: env.Store, Files: env.Files, Log: slog.New(slog.DiscardHandler)}
	if o.data, _, err = svc.Register(ctx, who, mr); err != nil {
		t.Fatal(err)
	}
	o.file = "a.txt"
	o.dataset, err = svc.CreateDataset(ctx, who, data.DatasetForm{Name: name + "-set",
		Entries: []storage.Entry{{DataID: o.data.ID, Area: "training"}}})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// job returns the tenant's completed job of kind, submitting it (on the
// fake cluster) the first time it is asked for.
func (w *world) job(t *testing.T, o *tenantObjects, kind jobs.Kind) *storage.Job {
	t.Helper()
	if j := o.jobs[kind.Name()]; j != nil {
		return j
	}
	ctx := context.Background()
	req := jobRequest(t, w, o, kind)
	j, err := w.env.Jobs.Submit(ctx, jobs.Actor{TenantID: o.tenant.ID, UserID: o.admin.ID}, kind, req)
	if err != nil {
		t.Fatalf("fixture: submitting a %s job with jobRequest's request was refused (%v): teach jobRequest in portal/server/routes_test.go what a %s needs", kind.Name(), err, kind.Name())
	}
	for file, content := range map[string]string{slurm.ExitCodeFile: "0\n", slurm.OutputDir + "/" + outputFile: "42\n"} {
		if _, err := w.env.Files.Put(ctx, j.JobDir+"/"+file, strings.NewReader(content)); err != nil {
			t.Fatal(err)
		}
	}
	w.env.Fake.Set(j.SlurmJobID, func(i *slurm.JobInfo) { i.State = "COMPLETED" })
	if err := w.env.Jobs.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if j, err = w.env.Store.JobByID(ctx, o.tenant.ID, j.ID); err != nil {
		t.Fatal(err)
	}
	o.jobs[kind.Name()] = j
	return j
}

// jobRequest is a request a job of kind is accepted with. Kinds made from
// a parent get the tenant's training.
func jobRequest(t *testing.T, w *world, o *tenantObjects, kind jobs.Kind) jobs.Request {
	req := jobs.Request{Name: "fixture", DatasetID: o.dataset, CPU: 1, MemoryGB: 1, Command: "true"}
	switch kind {
	case jobs.Training:
	case jobs.Inference:
		req.ParentIDs = []int64{w.job(t, o, jobs.Training).ID}
	default:
		// A new kind: the training's request and a training parent, which
		// is what most kinds take; if not, add a case above.
		req.ParentIDs = []int64{w.job(t, o, jobs.Training).ID}
	}
	return req
}

// missingID is an id no object has.
const missingID = "987654321"

// fill returns the value of variable v of route r for the objects of o, or
// fails the test naming the place to teach it. Job routes are known by
// their collection, the kind's name plus "s" or "es".
func (w *world) fill(t *testing.T, r route, o *tenantObjects, v string) string {
	t.Helper()
	id := func(n int64) string { return strconv.FormatInt(n, 10) }
	col := r.collection()
	if kind, ok := kindOf(col); ok {
		switch v {
		case "id":
			return id(w.job(t, o, kind).ID)
		case "path":
			return outputFile
		}
	}
	switch col + "." + v {
	case "data.id":
		return id(o.data.ID)
	case "data.name":
		return o.file
	case "datasets.id":
		return id(o.dataset)
	case "members.id":
		return id(o.member.ID)
	case "tenants.id":
		return id(o.tenant.ID)
	case "users.id":
		return id(o.member.ID)
	case "api-tokens.id":
		return id(o.token)
	case "ssh-keys.id":
		return id(w.sshKey(t, o))
	case "preprocessing.id", "preprocesses.id":
		return id(w.preprocess(t, o))
	case "preprocessing.data", "preprocesses.data":
		w.preprocess(t, o)
		return id(o.data.ID)
	case "credentials.kind":
		return "git"
	case "credentials.id":
		return id(w.gitServer)
	case "git-servers.id":
		return id(w.gitServer)
	case "registries.id":
		return id(w.registry)
	}
	t.Fatalf("route %s: no fixture fills {%s} (collection %q): add a case to world.fill in portal/server/routes_test.go", r, v, col)
	return ""
}

// preprocess returns the tenant's preprocess definition, made the first
// time it is asked for with an external history entry open for its datum.
func (w *world) preprocess(t *testing.T, o *tenantObjects) int64 {
	t.Helper()
	if o.preprocess != 0 {
		return o.preprocess
	}
	ctx := context.Background()
	svc := &preprocess.Service{Store: w.env.Store, Files: w.env.Files, Jobs: w.env.Jobs, Log: slog.New(slog.DiscardHandler)}
	who := jobs.Actor{TenantID: o.tenant.ID, UserID: o.admin.ID}
	p, err := svc.Create(ctx, who, preprocess.Fields{Name: "fixture"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Open(ctx, who, p.ID, o.data.ID); err != nil {
		t.Fatal(err)
	}
	o.preprocess = p.ID
	return p.ID
}

// kindOf is the job kind whose routes are under /{collection}.
func kindOf(collection string) (jobs.Kind, bool) {
	for _, name := range []string{strings.TrimSuffix(collection, "s"), strings.TrimSuffix(collection, "es")} {
		if k, ok := jobs.KindOf(name); ok && name != collection {
			return k, true
		}
	}
	return nil, false
}
