package web_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"kqi/portal/i18n"
	"kqi/portal/jobs"
	"kqi/portal/portaltest"
	"kqi/slurm"
	"kqi/storage"
)

// tbEnv is a portal on the fake cluster with a completed training of lab
// and users of lab and of another tenant.
type tbEnv struct {
	*stateSetup
	training     *storage.Job
	alice, other *portaltest.Browser
}

func newTBEnv(t *testing.T) *tbEnv {
	env := portaltest.New(t)
	lab := env.Tenant(t, "lab")
	env.Tenant(t, "other")
	alice := env.User(t, "alice", pw, false, "lab")
	env.User(t, "olga", pw, false, "other")
	dsID, err := env.Store.CreateDataset(context.Background(), storage.NewDataset{TenantID: lab.ID, Name: "d"})
	if err != nil {
		t.Fatal(err)
	}
	s := &stateSetup{env: env, lab: lab, who: jobs.Actor{TenantID: lab.ID, UserID: alice.ID}, dsID: dsID}
	e := &tbEnv{stateSetup: s, alice: env.Browser(t), other: env.Browser(t)}
	e.alice.Login("alice", pw)
	e.other.Login("olga", pw)
	e.training = s.completed(t, jobs.Training, "mnist")
	return e
}

// start posts the training page's Start TensorBoard form and returns the
// TensorBoard it leads to.
func (e *tbEnv) start(t *testing.T, b *portaltest.Browser, ids ...int64) *storage.Job {
	t.Helper()
	form := url.Values{}
	for _, id := range ids {
		form.Add("ids", strconv.FormatInt(id, 10))
	}
	p := b.Submit(fmt.Sprintf("/trainings/%d", ids[0]), "/tensorboards", form)
	m := regexp.MustCompile(`^/tensorboards/(\d+)$`).FindStringSubmatch(p.Location)
	if p.Status != http.StatusSeeOther || m == nil {
		t.Fatalf("start tensorboard: %d %q %s", p.Status, p.Location, p.Body)
	}
	id, _ := strconv.ParseInt(m[1], 10, 64)
	tb, err := e.env.Jobs.Job(context.Background(), e.lab.ID, jobs.TensorBoard, id)
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

// app is a stand-in for TensorBoard on a "node" address that is not
// localhost (127.0.0.2): a portal proxying to a hard-coded localhost
// never reaches it. It records what reached it.
type app struct {
	addr string
	mu   sync.Mutex
	seen []*http.Request
}

func newApp(t *testing.T) *app {
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	a := &app{addr: ln.Addr().String()}
	mux := http.NewServeMux()
	mux.HandleFunc("/tensorboard/{id}/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil) // checks Origin against Host, as apps do
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, msg, err := c.Read(r.Context())
			if err != nil {
				return
			}
			c.Write(r.Context(), typ, append([]byte("echo: "), msg...))
		}
	})
	mux.HandleFunc("/tensorboard/{id}/", func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.seen = append(a.seen, r)
		a.mu.Unlock()
		w.Header().Set("Content-Security-Policy", "default-src 'self' 'unsafe-inline'")
		fmt.Fprintf(w, "<h1>the app</h1><p>path %s</p>", r.URL.Path)
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return a
}

func (a *app) last() *http.Request {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.seen) == 0 {
		return nil
	}
	return a.seen[len(a.seen)-1]
}

// running has the fake Slurm run tb and the job write its endpoint.
func (e *tbEnv) running(t *testing.T, tb *storage.Job, endpoint string) *storage.Job {
	t.Helper()
	// The app listens on 127.0.0.2, a "node" the dev machine has; Slurm
	// names it so (the endpoint must be on the job's node).
	e.slurmSays(t, tb, func(i *slurm.JobInfo) { i.State, i.Node, i.StartTime = "RUNNING", "127.0.0.2", time.Now() })
	if endpoint != "" {
		e.record(t, tb, slurm.OutputDir+"/"+jobs.EndpointFile, endpoint+"\n")
	}
	return e.reload(t, tb)
}

func (e *tbEnv) reload(t *testing.T, j *storage.Job) *storage.Job {
	t.Helper()
	j, err := e.env.Store.JobByID(context.Background(), e.lab.ID, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func TestStartTensorBoardRunsAJobOverTheTraining(t *testing.T) {
	e := newTBEnv(t)
	tb := e.start(t, e.alice, e.training.ID)
	if tb.Kind != "tensorboard" || tb.Status != "queued" || len(tb.ParentIDs) != 1 || tb.ParentIDs[0] != e.training.ID {
		t.Fatalf("tensorboard job %+v", tb)
	}
	fj, ok := e.env.Fake.Job(tb.SlurmJobID)
	if !ok {
		t.Fatal("no Slurm job")
	}
	spec := fj.Spec
	if !strings.HasPrefix(spec.Name, "tensorboard-mnist-") || spec.CPUs != 1 || spec.MemoryGiB != 2 || spec.Partition != "cpu" {
		t.Errorf("spec %s, %d CPU, %d GiB, partition %q", spec.Name, spec.CPUs, spec.MemoryGiB, spec.Partition)
	}
	bound := false
	for _, in := range spec.Inputs {
		bound = bound || (in.Target == "/kqi/parent" && strings.HasSuffix(in.Source, e.training.JobDir+"/output"))
	}
	if !bound {
		t.Errorf("the training's outputs are not bound read-only at /kqi/parent: %+v", spec.Inputs)
	}
	for _, want := range []string{`--logdir /kqi/parent`, `--port "$kqi_port"`, `--path_prefix "/tensorboard/$TENSORBOARD_ID"`, jobs.EndpointFile} {
		if !strings.Contains(spec.Command, want) {
			t.Errorf("command lacks %q:\n%s", want, spec.Command)
		}
	}
	// One per (user, set): the same again, another user's is their own.
	if again := e.start(t, e.alice, e.training.ID); again.ID != tb.ID {
		t.Errorf("a second start made #%d beside #%d", again.ID, tb.ID)
	}
	bob := e.env.User(t, "bob", pw, false, "lab")
	bb := e.env.Browser(t)
	bb.Login(bob.Username, pw)
	if theirs := e.start(t, bb, e.training.ID); theirs.ID == tb.ID {
		t.Error("another user was handed alice's TensorBoard")
	}
	// Another tenant cannot start one over lab's training.
	form := url.Values{"ids": {strconv.FormatInt(e.training.ID, 10)}}
	if p := e.other.Submit("/trainings", "/tensorboards", form); p.Status != http.StatusUnprocessableEntity {
		t.Errorf("another tenant's start: %d", p.Status)
	}
}

// The proxy: a running TensorBoard is reached at the address its job
// wrote, through the portal, over HTTP and WebSocket; nobody else reaches
// it; and its route keeps the app's own CSP.
func TestTensorBoardProxy(t *testing.T) {
	e := newTBEnv(t)
	a := newApp(t)
	tb := e.start(t, e.alice, e.training.ID)
	base := jobs.TensorBoardPath(tb.ID)

	if p := e.alice.Get(base); p.Status != http.StatusServiceUnavailable || !strings.Contains(p.Body, i18n.T("en", "tensorboard.proxy_starting")) {
		t.Errorf("queued: %d %s", p.Status, p.Body)
	}
	tb = e.running(t, tb, a.addr)

	resp, err := e.alice.Client.Get(e.alice.URL(base + "scalars?x=1"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "<h1>the app</h1><p>path "+base+"scalars</p>") {
		t.Fatalf("through the proxy: %d %s", resp.StatusCode, body)
	}
	if csp := resp.Header.Values("Content-Security-Policy"); len(csp) != 1 || csp[0] != "default-src 'self' 'unsafe-inline'" {
		t.Errorf("CSP %q, want only the app's", csp)
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Error("the portal's other headers are gone")
	}
	r := a.last()
	if r == nil {
		t.Fatal("nothing reached the app")
	}
	if r.URL.RawQuery != "x=1" || r.Header.Get("Cookie") != "" || r.Header.Get("X-Forwarded-For") == "" {
		t.Errorf("the app got query %q, cookies %q, X-Forwarded-For %q", r.URL.RawQuery, r.Header.Get("Cookie"), r.Header.Get("X-Forwarded-For"))
	}
	// The portal's own pages keep the portal's CSP.
	resp, err = e.alice.Client.Get(e.alice.URL(fmt.Sprintf("/tensorboards/%d", tb.ID)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("the TensorBoard page's CSP is %q", csp)
	}

	t.Run("websocket", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.alice.URL(base+"ws"), "http"), &websocket.DialOptions{
			HTTPClient: &http.Client{Jar: e.alice.Client.Jar}, HTTPHeader: http.Header{"Origin": {e.env.URL}}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		for _, msg := range []string{"hello", "again"} {
			if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
				t.Fatal(err)
			}
			if _, got, err := c.Read(ctx); err != nil || string(got) != "echo: "+msg {
				t.Fatalf("echo %q, %v", got, err)
			}
		}
		// A page of another site cannot open one with the visitor's cookie.
		_, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.alice.URL(base+"ws"), "http"), &websocket.DialOptions{
			HTTPClient: &http.Client{Jar: e.alice.Client.Jar}, HTTPHeader: http.Header{"Origin": {"http://evil.example"}}})
		if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("a cross-site WebSocket: %v %v", resp, err)
		}
	})

	t.Run("another tenant and a missing id look the same", func(t *testing.T) {
		theirs := e.other.Get(base)
		missing := e.alice.Get(jobs.TensorBoardPath(tb.ID + 1000))
		if theirs.Status != http.StatusNotFound || missing.Status != http.StatusNotFound {
			t.Fatalf("another tenant's: %d, missing: %d", theirs.Status, missing.Status)
		}
		if strings.Contains(theirs.Body, "the app") {
			t.Error("another tenant reached the app")
		}
		if p := e.other.Get(fmt.Sprintf("/tensorboards/%d", tb.ID)); p.Status != http.StatusNotFound {
			t.Errorf("another tenant's TensorBoard page: %d", p.Status)
		}
		// A training's id is not a TensorBoard's.
		if p := e.alice.Get(jobs.TensorBoardPath(e.training.ID)); p.Status != http.StatusNotFound {
			t.Errorf("a training's id: %d", p.Status)
		}
	})

	t.Run("logged out goes to login", func(t *testing.T) {
		anon := e.env.Browser(t)
		p := anon.Get(base + "scalars")
		if p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location, "/login?next=") {
			t.Fatalf("anonymous: %d %q", p.Status, p.Location)
		}
	})

	t.Run("a node that does not answer", func(t *testing.T) {
		ln, _ := net.Listen("tcp", "127.0.0.2:0")
		dead := ln.Addr().String()
		ln.Close()
		e.record(t, tb, slurm.OutputDir+"/"+jobs.EndpointFile, dead+"\n")
		if p := e.alice.Get(base); p.Status != http.StatusBadGateway || !strings.Contains(p.Body, i18n.T("en", "tensorboard.proxy_unreachable")) {
			t.Errorf("dead endpoint: %d", p.Status)
		}
		// Not an endpoint, or not on the job's node (the portal's own
		// localhost, another host).
		_, port, _ := net.SplitHostPort(a.addr)
		for _, bad := range []string{"", "nonsense", "127.0.0.2:99999", "a b:80", "127.0.0.2:80; rm -rf /", "127.0.0.1:" + port, "localhost:" + port, "db.internal:5432", "127.0.0.20:" + port} {
			e.record(t, tb, slurm.OutputDir+"/"+jobs.EndpointFile, bad+"\n")
			if p := e.alice.Get(base); p.Status != http.StatusServiceUnavailable {
				t.Errorf("endpoint %q: %d", bad, p.Status)
			}
		}
		e.record(t, tb, slurm.OutputDir+"/"+jobs.EndpointFile, a.addr+"\n")
	})

	t.Run("stopped by the user", func(t *testing.T) {
		if p := e.alice.Submit(fmt.Sprintf("/tensorboards/%d", tb.ID), fmt.Sprintf("/tensorboards/%d/stop", tb.ID), nil); p.Status != http.StatusSeeOther {
			t.Fatalf("stop: %d", p.Status)
		}
		if p := e.alice.Get(base); p.Status != http.StatusServiceUnavailable || !strings.Contains(p.Body, i18n.T("en", "tensorboard.proxy_stopped")) {
			t.Errorf("after stop: %d", p.Status)
		}
		if err := e.env.Jobs.Poll(context.Background()); err != nil {
			t.Fatal(err)
		}
		if fj, _ := e.env.Fake.Job(tb.SlurmJobID); fj.Info.State != "CANCELLED" {
			t.Errorf("Slurm job %s", fj.Info.State)
		}
	})
}

// Idle shutdown and deleted trainings stop a TensorBoard through the
// poller, which cancels its Slurm job.
func TestTensorBoardLifetime(t *testing.T) {
	e := newTBEnv(t)
	e.env.Jobs.Cfg.TensorBoard.Idle = 10 * time.Minute
	a := newApp(t)
	ctx := context.Background()
	cancelled := func(tb *storage.Job) bool {
		fj, _ := e.env.Fake.Job(tb.SlurmJobID)
		return fj.Info.State == "CANCELLED" && e.reload(t, tb).StopRequested
	}

	tb := e.running(t, e.start(t, e.alice, e.training.ID), a.addr)
	e.env.Clock.Advance(8 * time.Minute)
	if p := e.alice.Get(jobs.TensorBoardPath(tb.ID)); p.Status != 200 { // a request resets the idle time
		t.Fatalf("proxy: %d", p.Status)
	}
	e.env.Clock.Advance(8 * time.Minute)
	e.env.Jobs.Poll(ctx)
	if cancelled(tb) {
		t.Fatal("stopped although used 8 minutes ago")
	}
	e.env.Clock.Advance(3 * time.Minute)
	e.env.Jobs.Poll(ctx)
	if !cancelled(tb) {
		t.Fatal("not stopped after 11 idle minutes")
	}

	// Deleting one of the trainings stops a TensorBoard over them.
	second := e.completed(t, jobs.Training, "mnist2")
	both := e.running(t, e.start(t, e.alice, e.training.ID, second.ID), a.addr)
	only := e.running(t, e.start(t, e.alice, e.training.ID), a.addr)
	if p := e.alice.Submit(fmt.Sprintf("/trainings/%d", second.ID), fmt.Sprintf("/trainings/%d/delete", second.ID), nil); p.Status != http.StatusSeeOther {
		t.Fatalf("delete training: %d %s", p.Status, p.Body)
	}
	e.env.Jobs.Poll(ctx)
	if !cancelled(both) {
		t.Error("a TensorBoard over a deleted training still runs")
	}
	if cancelled(only) {
		t.Error("a TensorBoard over trainings still there was stopped")
	}
	if p := e.alice.Get(fmt.Sprintf("/tensorboards/%d", both.ID)); p.Status != 200 || !strings.Contains(p.Body, i18n.T("en", "tensorboard.lost", 1)) {
		t.Errorf("its page: %d", p.Status)
	}

	// A day after they stopped, stopped TensorBoards are cleared away,
	// directory and all; a running one stays.
	e.env.Jobs.Poll(ctx) // the cancelled ones end
	e.env.Clock.Advance(25 * time.Hour)
	e.running(t, only, a.addr) // polls, and was used just now
	for _, gone := range []*storage.Job{tb, both} {
		if _, err := e.env.Store.JobByID(ctx, e.lab.ID, gone.ID); err == nil {
			t.Errorf("stopped TensorBoard #%d is still there", gone.ID)
		}
		if _, err := e.env.Files.Stat(ctx, gone.JobDir); err == nil {
			t.Errorf("stopped TensorBoard #%d's directory is still there", gone.ID)
		}
	}
	if _, err := e.env.Store.JobByID(ctx, e.lab.ID, only.ID); err != nil {
		t.Errorf("the running one: %v", err)
	}
}

// Every state of a TensorBoard's page, in both languages.
func TestTensorBoardPageInEveryState(t *testing.T) {
	e := newTBEnv(t)
	ja := e.env.Browser(t)
	e.env.User(t, "akira", pw, false, "lab")
	ja.Login("akira", pw)
	if p := ja.Submit("/settings", "/settings/language", url.Values{"lang": {"ja"}}); p.Status != http.StatusSeeOther {
		t.Fatal(p.Status)
	}
	a := newApp(t)
	queued := e.start(t, e.alice, e.training.ID)
	second := e.completed(t, jobs.Training, "mnist2")
	noEndpoint := e.running(t, e.start(t, e.alice, second.ID), "")
	third := e.completed(t, jobs.Training, "mnist3")
	ready := e.running(t, e.start(t, e.alice, third.ID), a.addr)
	fourth := e.completed(t, jobs.Training, "mnist4")
	stopped := e.running(t, e.start(t, e.alice, fourth.ID), a.addr)
	e.env.Jobs.Stop(context.Background(), e.lab.ID, jobs.TensorBoard, stopped.ID)
	e.env.Jobs.Poll(context.Background())
	for _, c := range []struct {
		name  string
		tb    *storage.Job
		state string
	}{{"queued", queued, "starting"}, {"running, no endpoint yet", noEndpoint, "starting"}, {"ready", ready, "ready"}, {"stopped", stopped, "stopped"}} {
		for lang, b := range map[string]*portaltest.Browser{"en": e.alice, "ja": ja} {
			t.Run(lang+"/"+c.name, func(t *testing.T) {
				p := b.Get(fmt.Sprintf("/tensorboards/%d", c.tb.ID))
				if p.Status != 200 {
					t.Fatalf("page: %d", p.Status)
				}
				checkPage(t, lang, p.Body)
				if got := textOf(t, p.Body, `id="tensorboard-state">`); got != i18n.T(lang, "tensorboard.state_"+c.state) {
					t.Errorf("state %q, want %q", got, i18n.T(lang, "tensorboard.state_"+c.state))
				}
				open := strings.Contains(p.Body, `<p id="tensorboard-open-box" ><a class="button" id="tensorboard-open" href="`+jobs.TensorBoardPath(c.tb.ID)+`">`)
				if open != (c.state == "ready") {
					t.Errorf("the Open link shows: %v", open)
				}
				if stop := strings.Contains(p.Body, `id="tensorboard-stop"`); stop != (c.state != "stopped") {
					t.Errorf("Stop offered: %v", stop)
				}
				if again := strings.Contains(p.Body, `id="tensorboard-restart"`); again != (c.state == "stopped") {
					t.Errorf("Start again offered: %v", again)
				}
				sp := b.Get(fmt.Sprintf("/tensorboards/%d/state", c.tb.ID))
				checkClean(t, lang, sp.Body)
				if !strings.Contains(sp.Body, `"state":"`+c.state+`"`) {
					t.Errorf("state JSON %s", sp.Body)
				}
				// The training's page links to a running one.
				tp := b.Get(fmt.Sprintf("/trainings/%d", c.tb.ParentIDs[0]))
				if link := strings.Contains(tp.Body, `id="training-tensorboard-open"`); link != (c.state != "stopped" && b == e.alice) {
					t.Errorf("the training page links a TensorBoard: %v", link)
				}
			})
		}
	}
}
