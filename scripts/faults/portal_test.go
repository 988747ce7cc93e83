//go:build faults

package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"kqi/portal/portaltest"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
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
	*portaltest.Process

	mu       sync.Mutex
	accepted map[int64]string // job id → phase, for every 201 answer
}

// newPortal prepares (not starts) a portal: database, shared root (a tmpfs
// of rootSize bytes when rootSize > 0), settings, administrator.
func newPortal(t *testing.T, name, bin string, cluster map[string]string, settings map[string]string, rootSize int64) *portal {
	t.Helper()
	vars := map[string]string{
		"KQI_POLL_INTERVAL": pollInterval.String(), "KQI_SUBMIT_GRACE": submitGrace.String(),
		"KQI_LOG_LEVEL": "debug",
	}
	for k, v := range settings {
		vars[k] = v
	}
	return &portal{Process: portaltest.NewProcess(t, name, bin, cluster, vars, rootSize), accepted: map[int64]string{}}
}

// upload registers a datum of size bytes; with cutAt ≥ 0 the connection
// is closed after that many bytes of the body, as a client that went away.
func (p *portal) upload(t *testing.T, name string, size, cutAt int) (int, []byte) {
	t.Helper()
	if cutAt < 0 {
		return p.Upload(t, name, size)
	}
	// A raw connection, so the body can stop halfway.
	buf, contentType := portaltest.UploadBody(name, size)
	u, _ := url.Parse(p.URL)
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "POST /api/v1/data HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
		u.Host, p.Token, contentType, buf.Len())
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
				status, body, err := p.Do("POST", "/api/v1/trainings", map[string]any{
					"name": fmt.Sprintf("%s-%d", strings.ReplaceAll(phase, " ", "-"), i), "dataset_id": p.Dataset,
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
		if err := p.DB.QueryRowContext(ctx, `SELECT count(*) FILTER (WHERE status = 'submitting'),
			count(*) FILTER (WHERE status IN ('submitting', 'queued', 'running')) FROM jobs`).Scan(&stuck, &active); err != nil {
			t.Fatal(err)
		}
		if active == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	if active > stuck {
		t.Logf("%s: %d jobs still queued or running after %s", p.Name, active-stuck, submitGrace+90*time.Second)
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
		if err := p.DB.QueryRowContext(ctx, `SELECT count(*) FROM jobs WHERE id = $1`, id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			c.lost++
			t.Errorf("%s: job %d answered 201 but has no row", p.Name, id)
		}
	}

	// Every Slurm job carrying this portal's comment belongs to exactly
	// one row, and no row has two.
	var instance string
	if err := p.DB.QueryRowContext(ctx, `SELECT id FROM instance`).Scan(&instance); err != nil {
		t.Fatalf("instance id: %v", err)
	}
	rows := map[string]string{} // comment → the row's slurm job id
	rs, err := p.DB.QueryContext(ctx, `SELECT id, kind, slurm_job_id, status, reason, job_dir FROM jobs`)
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
			t.Errorf("%s: %d Slurm jobs carry %s: %v", p.Name, len(jobs), comment, jobs)
		}
		if rows[comment] != jobs[0] {
			c.orphans++
			t.Errorf("%s: Slurm job %v (%s) is not its row's (row has %q)", p.Name, jobs, comment, rows[comment])
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
			t.Errorf("%s: job %d ended cancelled outside KQI: its own portal cancelled it", p.Name, r.id)
		}
		if r.dir == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(p.Root, r.dir, "secrets")); err == nil {
			c.secrets++
			t.Errorf("%s: ended job %d still has its secrets file", p.Name, r.id)
		}
	}
	if err := p.DB.QueryRowContext(ctx, `SELECT count(*) FROM api_tokens a JOIN jobs j ON a.job_id = j.id
		WHERE j.status IN ('completed', 'failed', 'killed', 'error')`).Scan(&c.tokens); err != nil {
		t.Fatal(err)
	}
	if c.tokens > 0 {
		t.Errorf("%s: %d live tokens of ended jobs", p.Name, c.tokens)
	}
	if stuck > 0 {
		t.Errorf("%s: %d rows still submitting past the grace", p.Name, stuck)
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
	rs, err := p.DB.Query(`SELECT slurm_job_id FROM jobs WHERE slurm_job_id <> ''`)
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
