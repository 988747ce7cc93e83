package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coder/websocket"

	"kqi/portal/jobs"
	"kqi/portal/portaltest"
	"kqi/slurm"
	"kqi/slurm/slurmtest"
	"kqi/storage"
)

// clusterTB is a portal on the dev cluster whose TensorBoards run the dev
// image's stand-in, with the poller running.
type clusterTB struct {
	env   *portaltest.Env
	lab   *storage.Tenant
	who   jobs.Actor
	dsID  int64
	alice *portaltest.Browser
}

func newClusterTB(t *testing.T) *clusterTB {
	dev := slurmtest.Integration(t, "KQI_DEV_IMAGE")
	env := portaltest.New(t, portaltest.WithCluster)
	env.Jobs.Cfg.TensorBoard.Image = dev["KQI_DEV_IMAGE"]
	lab := env.Tenant(t, "vision")
	u := env.User(t, "alice", "correct-horse-9", false, "vision")
	dsID, err := env.Store.CreateDataset(context.Background(), storage.NewDataset{TenantID: lab.ID, Name: "empty"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	go env.Jobs.Run(ctx, 300*time.Millisecond)
	c := &clusterTB{env: env, lab: lab, who: jobs.Actor{TenantID: lab.ID, UserID: u.ID}, dsID: dsID, alice: env.Browser(t)}
	c.alice.Login("alice", "correct-horse-9")
	t.Cleanup(func() {
		// Leave nothing running on the shared cluster.
		stop()
		active, _ := env.Store.ActiveJobs(context.Background())
		for _, j := range active {
			env.Store.RequestStop(context.Background(), j.TenantID, j.ID)
		}
		env.Jobs.Poll(context.Background())
	})
	return c
}

func (c *clusterTB) training(t *testing.T, name, command string) *storage.Job {
	t.Helper()
	j, err := c.env.Jobs.Submit(context.Background(), c.who, jobs.Training, jobs.Request{Name: name, DatasetID: c.dsID, CPU: 1, MemoryGB: 1, Command: command})
	if err != nil || j.Status != "queued" {
		t.Fatalf("submit %s: %v %+v", name, err, j)
	}
	return j
}

// waitFor polls the job's row until cond holds.
func (c *clusterTB) waitFor(t *testing.T, j *storage.Job, what string, cond func(*storage.Job) bool) *storage.Job {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		now, err := c.env.Store.JobByID(context.Background(), j.TenantID, j.ID)
		if err != nil {
			t.Fatal(err)
		}
		if cond(now) {
			return now
		}
		if time.Now().After(deadline) {
			t.Fatalf("job #%d (%s) never %s: status %s %s %s", now.ID, now.Kind, what, now.Status, now.Reason, now.ReasonArg)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (c *clusterTB) startTB(t *testing.T, ids ...int64) *storage.Job {
	t.Helper()
	form := url.Values{}
	for _, id := range ids {
		form.Add("ids", strconv.FormatInt(id, 10))
	}
	p := c.alice.Submit(fmt.Sprintf("/trainings/%d", ids[0]), "/tensorboards", form)
	m := regexp.MustCompile(`^/tensorboards/(\d+)$`).FindStringSubmatch(p.Location)
	if m == nil {
		t.Fatalf("start: %d %q %s", p.Status, p.Location, p.Body)
	}
	id, _ := strconv.ParseInt(m[1], 10, 64)
	tb, err := c.env.Jobs.Job(context.Background(), c.lab.ID, jobs.TensorBoard, id)
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

// ready waits until the TensorBoard page's state says ready.
func (c *clusterTB) ready(t *testing.T, tb *storage.Job) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		var st struct{ State string }
		p := c.alice.Get(fmt.Sprintf("/tensorboards/%d/state", tb.ID))
		json.Unmarshal([]byte(p.Body), &st)
		if st.State == "ready" {
			return
		}
		if time.Now().After(deadline) || st.State == "stopped" {
			now, _ := c.env.Store.JobByID(context.Background(), tb.TenantID, tb.ID)
			b := []byte{}
			if log, err := c.env.Files.Open(context.Background(), tb.JobDir+"/"+slurm.LogFile); err == nil {
				b, _ = io.ReadAll(log)
				log.Close()
			}
			t.Fatalf("TensorBoard never ready: %q (job %s %s %s)\n%s", st.State, now.Status, now.Reason, now.ReasonArg, b)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

var pointsOf = regexp.MustCompile(`data-label="loss" data-points="(\d+)"`)

// The acceptance of issue 12 on the real cluster: a training's metrics.csv
// drawn while it grows; TensorBoard as a Slurm job of kind tensorboard over
// the completed training, reached through the portal at the address its
// job wrote (HTTP and WebSocket), by nobody else; idle shutdown; deleting
// the training stops the TensorBoard over it.
func TestTensorBoardOnTheCluster(t *testing.T) {
	c := newClusterTB(t)
	ctx := context.Background()
	tr := c.training(t, "writer", `echo step,loss > /kqi/output/metrics.csv
for i in $(seq 1 30); do echo "$i,$((100 - i))" >> /kqi/output/metrics.csv; sleep 0.2; done`)
	tr = c.waitFor(t, tr, "ran", func(j *storage.Job) bool { return j.Status == "running" || !j.Active() })

	// Two loads while it runs: the chart has grown.
	count := func() int {
		m := pointsOf.FindStringSubmatch(c.alice.Get(fmt.Sprintf("/trainings/%d", tr.ID)).Body)
		if m == nil {
			return 0
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}
	first := 0
	for deadline := time.Now().Add(30 * time.Second); first == 0 && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		first = count()
	}
	time.Sleep(1500 * time.Millisecond)
	if second := count(); first == 0 || second <= first {
		t.Errorf("points on two loads: %d then %d", first, second)
	}
	tr = c.waitFor(t, tr, "completed", func(j *storage.Job) bool { return j.Status == "completed" })
	if n := count(); n != 30 {
		t.Errorf("%d points once completed, want 30", n)
	}
	// An event file for TensorBoard's run list.
	b, _ := os.ReadFile("../scalars/testdata/events.out.tfevents.1700000000.writer")
	c.env.Files.Put(ctx, tr.JobDir+"/"+slurm.OutputDir+"/run1/events.out.tfevents.1700000000.writer", strings.NewReader(string(b)))

	tb := c.startTB(t, tr.ID)
	if tb.Kind != "tensorboard" || tb.SlurmJobID == "" {
		t.Fatalf("TensorBoard job %+v", tb)
	}
	c.ready(t, tb)
	tb, _ = c.env.Store.JobByID(ctx, tb.TenantID, tb.ID)
	if tb.Status != "running" {
		t.Fatalf("ready but Slurm says %s", tb.Status)
	}
	ep, err := c.env.Jobs.TensorBoardEndpoint(ctx, tb)
	if err != nil {
		t.Fatal(err)
	}
	// The node's own name, as Slurm reports it (the dev cluster's second
	// node, kqi-node2, is 127.0.0.2): what the proxy dials, never a
	// localhost of its own.
	if host, _, _ := net.SplitHostPort(ep); host != tb.Node {
		t.Errorf("endpoint %s: the host is not the node %q", ep, tb.Node)
	}

	base := jobs.TensorBoardPath(tb.ID)
	p := c.alice.Get(base)
	if p.Status != 200 || !strings.Contains(p.Body, "TensorBoard (KQI stand-in)") || !strings.Contains(p.Body, `<li class="run">run1</li>`) ||
		!strings.Contains(p.Body, `<code id="logdir">/kqi/parent</code>`) {
		t.Fatalf("through the proxy: %d %s", p.Status, p.Body)
	}
	if p := c.alice.Get(strings.TrimSuffix(base, "/")); p.Status != http.StatusMovedPermanently || p.Location != base {
		t.Errorf("the bare prefix: %d %q", p.Status, p.Location)
	}
	wsURL := "ws" + strings.TrimPrefix(c.alice.URL(base+"ws"), "http")
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(wctx, wsURL, &websocket.DialOptions{HTTPClient: &http.Client{Jar: c.alice.Client.Jar}, HTTPHeader: http.Header{"Origin": {c.env.URL}}})
	if err != nil {
		t.Fatalf("websocket through the proxy: %v", err)
	}
	ws.Write(wctx, websocket.MessageText, []byte("ping 12"))
	if _, msg, err := ws.Read(wctx); err != nil || string(msg) != "ping 12" {
		t.Errorf("echo %q %v", msg, err)
	}
	ws.Close(websocket.StatusNormalClosure, "")

	c.env.User(t, "olga", "correct-horse-9", false, c.env.Tenant(t, "speech").Name)
	other := c.env.Browser(t)
	other.Login("olga", "correct-horse-9")
	if p := other.Get(base); p.Status != http.StatusNotFound || strings.Contains(p.Body, "stand-in") {
		t.Errorf("another tenant: %d", p.Status)
	}
	if p := c.env.Browser(t).Get(base); p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location, "/login") {
		t.Errorf("logged out: %d %q", p.Status, p.Location)
	}

	// Deleting the training stops a TensorBoard over it (another one).
	gone := c.training(t, "short", "echo done")
	gone = c.waitFor(t, gone, "completed", func(j *storage.Job) bool { return j.Status == "completed" })
	tb2 := c.startTB(t, gone.ID)
	c.ready(t, tb2)
	if err := c.env.Jobs.Delete(ctx, c.lab.ID, jobs.Training, gone.ID); err != nil {
		t.Fatal(err)
	}
	c.waitFor(t, tb2, "stopped by the deletion", func(j *storage.Job) bool { return j.Status == "killed" })

	// Idle: no request for the idle time stops (cancels) the first.
	c.env.Clock.Advance(c.env.Config.TensorBoard.Idle + time.Minute)
	c.waitFor(t, tb, "stopped when idle", func(j *storage.Job) bool { return j.Status == "killed" })
	if p := c.alice.Get(base); p.Status != http.StatusServiceUnavailable {
		t.Errorf("an idle-stopped TensorBoard through the proxy: %d", p.Status)
	}
}

// A person starts TensorBoard from a training's page, waits for it to be
// ready (the page follows it), opens it and sees the stand-in's page
// through the proxy, in a real Chromium.
func TestBrowserTensorBoard(t *testing.T) {
	c := newClusterTB(t)
	tr := c.training(t, "seen", `mkdir -p /kqi/output/run-a && echo step,loss > /kqi/output/metrics.csv && echo 1,0.5 >> /kqi/output/metrics.csv`)
	tr = c.waitFor(t, tr, "completed", func(j *storage.Job) bool { return j.Status == "completed" })
	b, _ := os.ReadFile("../scalars/testdata/events.out.tfevents.1700000000.writer")
	c.env.Files.Put(context.Background(), tr.JobDir+"/"+slurm.OutputDir+"/run-a/events.out.tfevents.1700000000.writer", strings.NewReader(string(b)))

	browser := portaltest.Chrome(t)
	ctx, cancel := context.WithTimeout(browser, 2*time.Minute)
	defer cancel()
	err := chromedp.Do(ctx,
		logIn(c.env, "alice", "correct-horse-9"),
		chromedp.Navigate(fmt.Sprintf("%s/trainings/%d", c.env.URL, tr.ID)),
		chromedp.WaitVisible("#training-metrics figure.chart-box"),
	)
	if err != nil {
		t.Fatalf("training page: %v", err)
	}
	portaltest.Screenshot(t, ctx, "training-metrics")
	if err := chromedp.Do(ctx, chromedp.Click("#training-tensorboard-start"), chromedp.WaitVisible("#tensorboard-card")); err != nil {
		t.Fatalf("start TensorBoard: %v", err)
	}
	portaltest.Screenshot(t, ctx, "tensorboard-starting")
	// The page's script shows Open once the job answers.
	if err := chromedp.Do(ctx, chromedp.WaitVisible("#tensorboard-open")); err != nil {
		t.Fatalf("TensorBoard never ready on the page: %v", err)
	}
	state, _ := chromedp.Run(ctx, chromedp.Text("#tensorboard-state"))
	if strings.TrimSpace(state) != "ready" {
		t.Errorf("state shown %q", state)
	}
	portaltest.Screenshot(t, ctx, "tensorboard-ready")
	if err := chromedp.Do(ctx, chromedp.Click("#tensorboard-open"), chromedp.WaitVisible("#tensorboard-standin")); err != nil {
		t.Fatalf("open TensorBoard: %v", err)
	}
	runs, _ := chromedp.Run(ctx, chromedp.Text("#runs"))
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	if !strings.Contains(runs, "run-a") || !strings.HasPrefix(loc, c.env.URL+"/tensorboard/") {
		t.Errorf("at %s the stand-in lists %q", loc, runs)
	}
	portaltest.Screenshot(t, ctx, "tensorboard-app")
}
