//go:build faults

package faults

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"kqi/storage/storagetest"
)

// Timings of the portals under test: a fast poller and a short grace, so
// that every fault settles within seconds.
const (
	pollInterval = time.Second
	submitGrace  = 20 * time.Second
)

// portal is one kqi-portal process of the suite's own, on its own
// database and shared-root directory, reaching the cluster's services
// through proxies the suite controls.
type portal struct {
	name   string
	bin    string
	env    []string
	url    string
	db     *sql.DB // direct, not through the proxy: the suite's own view
	root   string  // its KQI_SHARED_ROOT
	logf   *os.File
	cmd    *exec.Cmd
	client *http.Client

	password string
	token    string
	dataset  int64

	mu       sync.Mutex
	accepted map[int64]string // job id → phase, for every 201 answer
}

// clusterEnv is what the suite reads of the dev cluster's settings.
var clusterEnv = []string{
	"KQI_DATABASE_URL", "KQI_SLURM_REST_URL", "KQI_SLURM_JWT_KEY_FILE", "KQI_SLURM_USER",
	"KQI_SSH_ADDR", "KQI_SSH_USER", "KQI_SSH_KEY_FILE", "KQI_SSH_KNOWN_HOSTS",
	"KQI_SHARED_ROOT", "KQI_DEV_IMAGE_ROOT", "KQI_DEV_IMAGE", "KQI_DEV_GIT_PUBLIC_REPO", "KQI_DEV_NODE",
}

// newPortal prepares (not starts) a portal: database, shared root (a tmpfs
// of rootSize bytes when rootSize > 0), settings, administrator.
func newPortal(t *testing.T, name, bin string, cluster map[string]string, settings map[string]string, rootSize int64) *portal {
	t.Helper()
	_, dbURL := storagetest.NewStore(t)
	db, err := sql.Open("postgres", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })

	dir := t.TempDir()
	root := filepath.Join(cluster["KQI_SHARED_ROOT"], "faults-"+name+"-"+rand.Text()[:8])
	if err := os.Mkdir(root, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	if rootSize > 0 {
		run(t, "mount", "-t", "tmpfs", "-o", "size="+strconv.FormatInt(rootSize, 10)+",mode=0700", "tmpfs", root)
		t.Cleanup(func() { exec.Command("umount", "-l", root).Run() })
	}
	u, err := user.Lookup(cluster["KQI_SLURM_USER"])
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(root, uid, gid); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, "secret.key")
	if err := os.WriteFile(key, []byte(rand.Text()+rand.Text()), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	vars := map[string]string{
		"KQI_LISTEN": addr, "KQI_BASE_URL": "http://" + addr,
		"KQI_SLURM_USER": cluster["KQI_SLURM_USER"], "KQI_SLURM_JWT_KEY_FILE": cluster["KQI_SLURM_JWT_KEY_FILE"],
		"KQI_SHARED_ROOT": root, "KQI_SECRET_KEY_FILE": key,
		"KQI_RUNTIME": "bubblewrap", "KQI_IMAGE_ROOT": cluster["KQI_DEV_IMAGE_ROOT"], "KQI_DEFAULT_IMAGE": cluster["KQI_DEV_IMAGE"],
		"KQI_POLL_INTERVAL": pollInterval.String(), "KQI_SUBMIT_GRACE": submitGrace.String(),
		"KQI_ADMIN_USER": "admin", "KQI_ADMIN_PASSWORD": "faults-" + rand.Text(), "KQI_ADMIN_TENANT": "faults",
		"KQI_LOG_LEVEL": "debug", "KQI_SHELL_LISTEN": "off", // shells are not what this suite faults
	}
	for k, v := range settings {
		vars[k] = v
	}
	if vars["KQI_DATABASE_URL"] == "" {
		vars["KQI_DATABASE_URL"] = dbURL
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	logf, err := os.Create(filepath.Join(dir, "portal.log"))
	if err != nil {
		t.Fatal(err)
	}
	p := &portal{name: name, bin: bin, env: env, url: "http://" + addr, db: db, root: root, logf: logf,
		client: &http.Client{Timeout: 60 * time.Second}, accepted: map[int64]string{}}
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("log of portal %s (last 8 KiB):\n%s", name, b[max(0, len(b)-8<<10):])
		}
	})
	cmd := exec.Command(bin, "create-admin")
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("create-admin: %v\n%s", err, out)
	}
	p.password = vars["KQI_ADMIN_PASSWORD"]
	return p
}

// start runs the portal and waits until it answers /readyz.
func (p *portal) start(t *testing.T) {
	t.Helper()
	p.cmd = exec.Command(p.bin, "serve")
	p.cmd.Env = p.env
	p.cmd.Stdout, p.cmd.Stderr = p.logf, p.logf
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := p.client.Get(p.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("portal %s does not answer /readyz: %v", p.name, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// kill ends the portal with SIGKILL: no shutdown, no cleanup, as a crash.
func (p *portal) kill() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.cmd.Wait()
	p.cmd = nil
}

// login gets an API token and makes a dataset with one datum.
func (p *portal) login(t *testing.T) {
	t.Helper()
	var tok struct{ Token string }
	p.call(t, "POST", "/api/v1/auth/token", map[string]string{"username": "admin", "password": p.password, "tenant": "faults"}, http.StatusCreated, &tok)
	p.token = tok.Token
	var d struct{ ID int64 }
	status, body := p.upload(t, "input", 64<<10, -1)
	if status != http.StatusCreated {
		t.Fatalf("upload: %d %s", status, body)
	}
	json.Unmarshal(body, &d)
	var ds struct{ ID int64 }
	p.call(t, "POST", "/api/v1/datasets", map[string]any{"name": "faults", "entries": map[string][]int64{"training": {d.ID}}}, http.StatusCreated, &ds)
	p.dataset = ds.ID
}

// call sends a JSON request and decodes the answer, which must have status
// want.
func (p *portal) call(t *testing.T, method, path string, in any, want int, out any) {
	t.Helper()
	status, body, err := p.do(method, path, in)
	if err != nil || status != want {
		t.Fatalf("%s %s: %d %s, %v; want %d", method, path, status, body, err, want)
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, body)
		}
	}
}

func (p *portal) do(method, path string, in any) (int, []byte, error) {
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, p.url+path, body)
	req.Header.Set("Content-Type", "application/json")
	if p.token != "" {
		req.Header.Set("Authorization", "Bearer "+p.token)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// upload registers a datum of size bytes; with cutAt ≥ 0 the connection
// is closed after that many bytes of the body, as a client that went away.
func (p *portal) upload(t *testing.T, name string, size, cutAt int) (int, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("name", name)
	w, _ := mw.CreateFormFile("file", "blob.bin")
	w.Write(bytes.Repeat([]byte("kqi-faults "), size/11+1)[:size])
	mw.Close()
	if cutAt < 0 {
		req, _ := http.NewRequest("POST", p.url+"/api/v1/data", &buf)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		req.Header.Set("Authorization", "Bearer "+p.token)
		resp, err := p.client.Do(req)
		if err != nil {
			return 0, []byte(err.Error())
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	// A raw connection, so the body can stop halfway.
	u, _ := url.Parse(p.url)
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "POST /api/v1/data HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
		u.Host, p.token, mw.FormDataContentType(), buf.Len())
	c.Write(buf.Bytes()[:cutAt])
	time.Sleep(200 * time.Millisecond)
	c.Close()
	return 0, nil
}

// submitResult counts the answers of a burst of submissions: created
// (201), refused with a cause the user can act on (503, 507), unanswered
// (the portal was down) and failed (anything else: a 500 is a bug).
type submitResult struct {
	created, refused, unanswered, failed int
	statuses                             map[string]int
}

// burst submits n short trainings, conc at a time, and records every job
// a 201 answered with. during, if set, runs once after the first answer.
func (p *portal) burst(t *testing.T, phase string, n, conc int, during func()) submitResult {
	t.Helper()
	var (
		mu   sync.Mutex
		res  = submitResult{statuses: map[string]int{}}
		once sync.Once
		wg   sync.WaitGroup
		work = make(chan int)
	)
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				status, body, err := p.do("POST", "/api/v1/trainings", map[string]any{
					"name": fmt.Sprintf("%s-%d", strings.ReplaceAll(phase, " ", "-"), i), "dataset_id": p.dataset,
					"git":     map[string]string{"repository": os.Getenv("KQI_DEV_GIT_PUBLIC_REPO")},
					"command": "sleep 1; echo done", "cpu": 1, "memory_gb": 1,
				})
				mu.Lock()
				key := strconv.Itoa(status)
				if err != nil {
					key = "no answer"
				}
				res.statuses[key]++
				switch {
				case status == http.StatusCreated:
					var j struct{ ID int64 }
					json.Unmarshal(body, &j)
					p.mu.Lock()
					p.accepted[j.ID] = phase
					p.mu.Unlock()
					res.created++
				case status == http.StatusServiceUnavailable || status == http.StatusInsufficientStorage:
					res.refused++
				case err != nil:
					res.unanswered++
				default:
					res.failed++
				}
				mu.Unlock()
				if during != nil {
					once.Do(during)
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	return res
}

// counts are the suite's invariants for one portal after one fault.
type counts struct {
	accepted, lost, orphans, duplicates, stuck, secrets, tokens, cancelledOutside int
}

func (c counts) bad() bool {
	return c.lost+c.orphans+c.duplicates+c.stuck+c.secrets+c.tokens+c.cancelledOutside > 0
}

// settle waits until every job has ended (the reconcile has had its
// grace; the short jobs have run) and then measures the invariants.
func (p *portal) settle(t *testing.T, ctx context.Context) counts {
	t.Helper()
	deadline := time.Now().Add(submitGrace + 90*time.Second)
	var stuck, active int
	for {
		if err := p.db.QueryRowContext(ctx, `SELECT count(*) FILTER (WHERE status = 'submitting'),
			count(*) FILTER (WHERE status IN ('submitting', 'queued', 'running')) FROM jobs`).Scan(&stuck, &active); err != nil {
			t.Fatal(err)
		}
		if active == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	if active > stuck {
		t.Logf("%s: %d jobs still queued or running after %s", p.name, active-stuck, submitGrace+90*time.Second)
	}
	c := counts{stuck: stuck}

	p.mu.Lock()
	ids := make([]int64, 0, len(p.accepted))
	for id := range p.accepted {
		ids = append(ids, id)
	}
	p.mu.Unlock()
	c.accepted = len(ids)
	for _, id := range ids {
		var n int
		if err := p.db.QueryRowContext(ctx, `SELECT count(*) FROM jobs WHERE id = $1`, id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			c.lost++
			t.Errorf("%s: job %d answered 201 but has no row", p.name, id)
		}
	}

	// Every Slurm job carrying this portal's comment belongs to exactly
	// one row, and no row has two.
	var instance string
	if err := p.db.QueryRowContext(ctx, `SELECT id FROM instance`).Scan(&instance); err != nil {
		t.Fatalf("instance id: %v", err)
	}
	rows := map[string]string{} // comment → the row's slurm job id
	rs, err := p.db.QueryContext(ctx, `SELECT id, kind, slurm_job_id, status, reason, job_dir FROM jobs`)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		id                                 int64
		kind, slurmID, status, reason, dir string
	}
	var all []row
	for rs.Next() {
		var r row
		if err := rs.Scan(&r.id, &r.kind, &r.slurmID, &r.status, &r.reason, &r.dir); err != nil {
			t.Fatal(err)
		}
		all = append(all, r)
		rows["kqi:"+instance+":"+r.kind+":"+strconv.FormatInt(r.id, 10)] = r.slurmID
	}
	rs.Close()
	byComment := map[string][]string{}
	for _, j := range slurmJobs(t) {
		if strings.HasPrefix(j.comment, "kqi:"+instance+":") {
			byComment[j.comment] = append(byComment[j.comment], j.id)
		}
	}
	for comment, jobs := range byComment {
		if len(jobs) > 1 {
			c.duplicates++
			t.Errorf("%s: %d Slurm jobs carry %s: %v", p.name, len(jobs), comment, jobs)
		}
		if rows[comment] != jobs[0] {
			c.orphans++
			t.Errorf("%s: Slurm job %v (%s) is not its row's (row has %q)", p.name, jobs, comment, rows[comment])
		}
	}

	// Ended rows keep neither a secrets file nor a live token.
	for _, r := range all {
		switch r.status {
		case "completed", "failed", "killed", "error":
		default:
			continue
		}
		if r.reason == "cancelled_outside" {
			c.cancelledOutside++
			t.Errorf("%s: job %d ended cancelled outside KQI: its own portal cancelled it", p.name, r.id)
		}
		if r.dir == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(p.root, r.dir, "secrets")); err == nil {
			c.secrets++
			t.Errorf("%s: ended job %d still has its secrets file", p.name, r.id)
		}
	}
	if err := p.db.QueryRowContext(ctx, `SELECT count(*) FROM api_tokens a JOIN jobs j ON a.job_id = j.id
		WHERE j.status IN ('completed', 'failed', 'killed', 'error')`).Scan(&c.tokens); err != nil {
		t.Fatal(err)
	}
	if c.tokens > 0 {
		t.Errorf("%s: %d live tokens of ended jobs", p.name, c.tokens)
	}
	if stuck > 0 {
		t.Errorf("%s: %d rows still submitting past the grace", p.name, stuck)
	}
	return c
}

// slurmJob is one line of squeue: id and comment.
type slurmJob struct{ id, comment string }

func slurmJobs(t *testing.T) []slurmJob {
	t.Helper()
	out, err := exec.Command("squeue", "--noheader", "--states=all", "--Format=JobID:\x1f,Comment:\x1e").Output()
	if err != nil {
		t.Fatalf("squeue: %v", err)
	}
	var jobs []slurmJob
	for _, rec := range strings.Split(string(out), "\x1e") {
		id, comment, ok := strings.Cut(strings.TrimSpace(rec), "\x1f")
		if ok {
			jobs = append(jobs, slurmJob{strings.TrimSpace(id), strings.TrimSpace(comment)})
		}
	}
	return jobs
}

// cancelAll cancels every Slurm job of the portal's rows.
func (p *portal) cancelAll() {
	rs, err := p.db.Query(`SELECT slurm_job_id FROM jobs WHERE slurm_job_id <> ''`)
	if err != nil {
		return
	}
	defer rs.Close()
	var ids []string
	for rs.Next() {
		var id string
		rs.Scan(&id)
		ids = append(ids, id)
	}
	if len(ids) > 0 {
		exec.Command("scancel", ids...).Run()
	}
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}
