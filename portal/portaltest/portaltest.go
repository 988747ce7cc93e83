// Package portaltest runs the whole portal handler against a fresh database,
// on the in-memory fake cluster or (WithCluster, WithSFTP) the dev cluster,
// with helpers to make users and tenants and to act as a browser.
package portaltest

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"kqi/portal/accounts"
	"kqi/portal/auth"
	"kqi/portal/config"
	"kqi/portal/data"
	"kqi/portal/gitref"
	"kqi/portal/jobs"
	"kqi/portal/secret"
	"kqi/portal/server"
	"kqi/portal/shell"
	"kqi/slurm"
	"kqi/slurm/login"
	"kqi/slurm/slurmfake"
	"kqi/slurm/slurmtest"
	"kqi/storage"
	"kqi/storage/files"
	"kqi/storage/storagetest"
)

// Env is a running portal on a throw-away database.
type Env struct {
	Store *storage.Store
	Files files.FS
	Jobs  *jobs.Service
	// Fake is the in-memory cluster jobs run on without WithCluster (nil
	// with it): tests set what "Slurm" reports and drive Jobs.Poll.
	Fake *slurmfake.Fake
	// Clock is what the pages (session expiry) and the poller take as now.
	Clock *Clock
	// Shell opens shells into jobs: on the dev cluster with WithShell,
	// else through FakeShells.
	Shell  *shell.Gateway
	Config *config.Config
	// Sealer seals and opens the portal's stored secrets.
	Sealer *secret.Sealer
	Server *httptest.Server
	URL    string
	// Router has every route the portal serves (tests walk it).
	Router *mux.Router
	logs   *logBuffer
}

// Option adjusts the configuration before the server starts.
type Option func(*config.Config)

// WithCluster runs trainings on the dev cluster: slurmrestd, bubblewrap
// with the host image, and a job root on the shared filesystem that the
// cluster user owns. Tests drive the poller with Env.Jobs.Poll. It makes the
// test an integration test (slurmtest.Integration).
func WithCluster(c *config.Config) {
	c.SlurmBackend = "rest"
	c.SlurmRESTURL = os.Getenv("KQI_SLURM_REST_URL")
	c.SlurmJWTKeyFile = os.Getenv("KQI_SLURM_JWT_KEY_FILE")
	c.SlurmUser = os.Getenv("KQI_SLURM_USER")
	if c.SlurmRESTURL == "" {
		c.SlurmRESTURL = "missing" // still the cluster: restCluster fails the test with the variable's name
	}
}

// WithSFTP makes the portal reach its file store through SFTP on the dev
// cluster's sshd instead of a local directory. It makes the test an
// integration test (slurmtest.Integration).
func WithSFTP(c *config.Config) { c.FileStore = "sftp" }

// WithSmallDisk gives the portal a local file store on a tmpfs of size
// bytes (the project's tests run as root), for what a full disk does.
func WithSmallDisk(t testing.TB, size int64) Option {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+strconv.FormatInt(size, 10), "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount a small tmpfs (needs root): %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return func(c *config.Config) { c.SharedRoot = dir }
}

// needsCluster reports whether opts reach the dev cluster, so that New can
// skip (under -short) before it builds anything.
func needsCluster(opts []Option) bool {
	var c config.Config
	for _, o := range opts {
		o(&c)
	}
	return c.SlurmRESTURL != "" || c.FileStore == "sftp"
}

// New starts the portal. Readiness checks are the database only: tests
// that need Slurm talk to it directly.
func New(t testing.TB, opts ...Option) *Env {
	t.Helper()
	if needsCluster(opts) {
		slurmtest.Integration(t)
	}
	st, dbURL := storagetest.NewStore(t)
	cfg, err := config.Load("test", nil, func(k string) string {
		if k == "KQI_DATABASE_URL" {
			return dbURL
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range opts {
		o(cfg)
	}
	logs := &logBuffer{}
	var logOut io.Writer = logs
	if testing.Verbose() {
		logOut = io.MultiWriter(logs, testWriter{t})
	}
	log := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelDebug}))
	fs := newFiles(t, cfg)
	dataSvc := &data.Service{Store: st, Files: fs, Log: log}
	key := make([]byte, 32)
	rand.Read(key)
	sealer, _ := secret.NewSealerFromKey(key)
	sources := &accounts.Sources{Store: st, Sealer: sealer}
	var cluster slurm.Cluster
	var fake *slurmfake.Fake
	if cfg.SlurmRESTURL != "" {
		cluster = restCluster(t, cfg)
	} else {
		fake = slurmfake.NewFake()
		cluster = fake
	}
	clock := &Clock{}
	jobsSvc := newJobs(st, fs, dataSvc, cluster, log)
	jobsSvc.Sources = sources
	if cfg.SlurmRESTURL != "" {
		jobsSvc.Refs = gitref.Lister{} // the dev cluster's Git server answers; made-up repositories of unit tests would not
	}
	jobsSvc.Now = clock.Now
	jobsSvc.Cfg.TensorBoard = cfg.TensorBoard
	gateway := newGateway(t, cfg, st, fs, log)
	h, err := server.New(cfg, server.Deps{Store: st, Files: fs, Sources: sources, Data: dataSvc, Jobs: jobsSvc, Shell: gateway, Log: log, Now: clock.Now,
		Checks: []server.Check{{Name: "database", Fn: st.Ping}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	cfg.BaseURL = srv.URL
	jobsSvc.Cfg.ServerURL = srv.URL
	return &Env{Store: st, Files: fs, Jobs: jobsSvc, Fake: fake, Clock: clock, Config: cfg, Sealer: sealer, Server: srv, URL: srv.URL, Router: h.Router, Shell: gateway, logs: logs}
}

// Logs is everything the portal has logged so far, as slog's text lines.
func (e *Env) Logs() string { return e.logs.String() }

// logBuffer collects the portal's log for Env.Logs; handlers log from
// many goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Clock is the portal's clock in a test: the real time plus an offset that
// the test moves forward instead of sleeping.
type Clock struct {
	mu     sync.Mutex
	offset time.Duration
}

// Now is the moved time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Tenant creates a tenant.
func (e *Env) Tenant(t testing.TB, name string) *storage.Tenant {
	t.Helper()
	tn, err := (&accounts.Service{Store: e.Store}).CreateTenant(context.Background(), name)
	if err != nil {
		t.Fatalf("create tenant %s: %v", name, err)
	}
	return tn
}

// User creates a user with a role in each tenant given ("name" or
// "name:admin").
func (e *Env) User(t testing.TB, name, password string, admin bool, tenants ...string) *storage.User {
	t.Helper()
	n := accounts.NewUser{Username: name, Password: password, IsSystemAdmin: admin}
	for _, spec := range tenants {
		tn, role, _ := strings.Cut(spec, ":")
		if role == "" {
			role = "user"
		}
		n.Tenants = append(n.Tenants, accounts.TenantRole{Tenant: tn, Role: storage.Role(role)})
	}
	u, err := (&accounts.Service{Store: e.Store}).CreateUser(context.Background(), n)
	if err != nil {
		t.Fatalf("create user %s: %v", name, err)
	}
	return u
}

// Browser is an HTTP client with a cookie jar that does not follow
// redirects, so tests see each step.
type Browser struct {
	t      testing.TB
	env    *Env
	Client *http.Client
}

// Browser returns a fresh cookie-keeping client.
func (e *Env) Browser(t testing.TB) *Browser {
	jar, _ := cookiejar.New(nil)
	return &Browser{t: t, env: e, Client: &http.Client{
		Jar:     jar,
		Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

// Page is a fetched response with its body read.
type Page struct {
	Status   int
	Location string
	Body     string
}

// Get fetches path.
func (b *Browser) Get(path string) Page {
	b.t.Helper()
	resp, err := b.Client.Get(b.env.URL + path)
	if err != nil {
		b.t.Fatalf("GET %s: %v", path, err)
	}
	return ReadPage(b.t, resp)
}

// URL is the absolute URL of path on the test server.
func (b *Browser) URL(path string) string { return b.env.URL + path }

// Post submits a form to path as is (the caller adds csrf_token).
func (b *Browser) Post(path string, form url.Values) Page {
	b.t.Helper()
	resp, err := b.Client.PostForm(b.env.URL+path, form)
	if err != nil {
		b.t.Fatalf("POST %s: %v", path, err)
	}
	return ReadPage(b.t, resp)
}

var csrfInput = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// CSRF returns the token of the first form on the page at path.
func (b *Browser) CSRF(path string) string {
	b.t.Helper()
	p := b.Get(path)
	m := csrfInput.FindStringSubmatch(p.Body)
	if m == nil {
		b.t.Fatalf("no csrf_token on %s (status %d)", path, p.Status)
	}
	return m[1]
}

// Submit posts a form to path with the CSRF token of the page at from.
func (b *Browser) Submit(from, path string, form url.Values) Page {
	b.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf_token", b.CSRF(from))
	return b.Post(path, form)
}

// Login logs in and fails the test unless it is redirected home.
func (b *Browser) Login(username, password string) {
	b.t.Helper()
	p := b.Submit("/login", "/login", url.Values{"username": {username}, "password": {password}})
	if p.Status != http.StatusSeeOther || p.Location != "/" {
		b.t.Fatalf("login as %s: status %d location %q body %s", username, p.Status, p.Location, p.Body)
	}
}

// ReadPage reads a response into a Page.
func ReadPage(t testing.TB, resp *http.Response) Page {
	t.Helper()
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return Page{Status: resp.StatusCode, Location: resp.Header.Get("Location"), Body: string(body)}
}

// newFiles opens the test's file store: a temporary directory, used
// directly or through the dev sshd's SFTP as the cluster user.
func newFiles(t testing.TB, cfg *config.Config) files.FS {
	t.Helper()
	if cfg.SlurmRESTURL != "" {
		return clusterFiles(t)
	}
	if cfg.FileStore != "sftp" {
		root := cfg.SharedRoot
		if root == "" {
			root = t.TempDir()
		}
		fs, err := files.NewLocal(root)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { fs.Close() })
		return fs
	}
	env := slurmtest.Integration(t, "KQI_SHARED_ROOT", "KQI_SSH_USER", "KQI_SSH_ADDR", "KQI_SSH_KEY_FILE", "KQI_SSH_KNOWN_HOSTS")
	root := SharedDir(t, env["KQI_SHARED_ROOT"], "test-portal-", env["KQI_SSH_USER"], 0o755)
	dialer, err := login.New(login.Config{
		Addr: env["KQI_SSH_ADDR"], User: env["KQI_SSH_USER"],
		KeyFile: env["KQI_SSH_KEY_FILE"], KnownHostsFile: env["KQI_SSH_KNOWN_HOSTS"],
	})
	if err != nil {
		t.Fatal(err)
	}
	fs, err := files.NewSFTP(context.Background(), files.SFTPConfig{Dialer: dialer, Root: root})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	return fs
}

// Eventually retries check until it passes or 10 seconds have gone, for
// effects a server finishes after answering.
func Eventually(t testing.TB, check func() error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// clusterFiles is a local store on the shared filesystem whose files belong
// to the cluster user, as jobs need.
func clusterFiles(t testing.TB) files.FS {
	t.Helper()
	env := slurmtest.Integration(t, "KQI_SHARED_ROOT", "KQI_SLURM_USER")
	root := SharedDir(t, env["KQI_SHARED_ROOT"], "test-portal-", env["KQI_SLURM_USER"], 0o755)
	u, err := user.Lookup(env["KQI_SLURM_USER"])
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	fs, err := files.NewLocal(root, files.WithOwner(uid, gid))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	return fs
}

// restCluster is the dev cluster's slurmrestd.
func restCluster(t testing.TB, cfg *config.Config) slurm.Cluster {
	t.Helper()
	slurmtest.Integration(t, "KQI_SLURM_REST_URL", "KQI_SLURM_JWT_KEY_FILE", "KQI_SLURM_USER")
	signer, err := slurm.NewTokenSigner(cfg.SlurmJWTKeyFile, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	cluster, err := slurm.NewREST(slurm.RESTConfig{URL: cfg.SlurmRESTURL, User: cfg.SlurmUser, Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	return cluster
}

func newJobs(st *storage.Store, fs files.FS, dataSvc *data.Service, cluster slurm.Cluster, log *slog.Logger) *jobs.Service {
	return &jobs.Service{Store: st, Files: fs, Data: dataSvc, Cluster: cluster, Log: log, Cfg: jobs.Config{
		// The dev image store when the cluster has one (images other than
		// the host need it).
		Runtime: slurm.Bubblewrap{ImageRoot: os.Getenv("KQI_DEV_IMAGE_ROOT")}, DefaultImage: slurm.HostImage, TokenTTL: time.Hour, SubmitGrace: time.Minute,
		AllowHostImage: true, // tests run trivial commands in the node's own root
		SiteEnv:        []slurm.EnvVar{{Name: "LC_ALL", Value: "C.UTF-8"}, {Name: "LANG", Value: "C.UTF-8"}},
	}}
}

// SessionAs logs the browser in as u without the login form (no password
// hashing, no login limit): for tests that need many sessions.
func (b *Browser) SessionAs(u *storage.User) {
	b.t.Helper()
	s := &auth.Service{Store: b.env.Store, SessionIdle: b.env.Config.SessionIdle, SessionMax: b.env.Config.SessionMax, Now: b.env.Clock.Now}
	id, err := s.StartSession(context.Background(), u)
	if err != nil {
		b.t.Fatal(err)
	}
	base, _ := url.Parse(b.env.URL)
	// The pages' session cookie (web.sessionCookie).
	b.Client.Jar.SetCookies(base, []*http.Cookie{{Name: "kqi_session", Value: id, Path: "/"}})
}

// APIToken issues u a bearer token for tenantID directly in the store.
func (e *Env) APIToken(t testing.TB, u *storage.User, tenantID int64) string {
	t.Helper()
	value := auth.NewSecret()
	if _, err := e.Store.CreateAPIToken(context.Background(), value, u.ID, tenantID, e.Clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	return value
}
