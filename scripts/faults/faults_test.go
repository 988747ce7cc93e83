//go:build faults

// Package faults is the fault suite (`make test-faults`): portals of its
// own on the dev cluster, driven through the faults a site meets — a
// portal killed during a burst of submits, slurmrestd stopped, slow or
// restarted, PostgreSQL gone, the SSH backend's connection cut, a full
// filesystem, a cut upload, slurmctld restarted with its state kept, a
// drained and a downed node — with, after each, the invariants checked
// and printed as a table: no submission lost, no orphan or duplicate
// Slurm job, no row left submitting, no secret or live token of an ended
// job, no job of ours cancelled by ourselves.
//
// Services shared with other tests are faulted only through proxies in
// front of them, except slurmctld and the node, which the last phases
// restart and drain for real; the suite puts them back as it found them.
package faults

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"kqi/portal/portaltest"
	"kqi/slurm/slurmtest"

	_ "github.com/lib/pq"
)

type result struct {
	phase string
	res   submitResult
	c     counts
	note  string
}

func TestFaults(t *testing.T) {
	cluster := slurmtest.Integration(t, portaltest.ProcessClusterEnv...)
	ctx := context.Background()
	bin := portaltest.BuildPortal(t)
	restURL, _ := url.Parse(cluster["KQI_SLURM_REST_URL"])
	rest := newProxy(t, restURL.Host)
	dbURL, _ := url.Parse(cluster["KQI_DATABASE_URL"])
	pg := newProxy(t, dbURL.Host)

	// Portal A: the REST backend, a local store on a 256 MiB tmpfs, its
	// database and slurmrestd through proxies.
	a := newPortal(t, "rest", bin, cluster, map[string]string{
		"KQI_SLURM_BACKEND": "rest", "KQI_SLURM_REST_URL": "http://" + rest.addr,
	}, 256<<20)
	a.Env = append(a.Env, "KQI_DATABASE_URL="+throughProxy(t, a, pg.addr))
	a.Start(t)
	a.Login(t)
	t.Cleanup(a.cancelAll)

	var results []result
	phase := func(name string, p *portal, fn func(t *testing.T) (submitResult, string)) {
		t.Run(name, func(t *testing.T) {
			res, note := fn(t)
			c := p.settle(t, ctx)
			results = append(results, result{name, res, c, note})
			if c.bad() {
				t.Errorf("invariants broken: %+v", c)
			}
			if res.failed > 0 {
				t.Errorf("%d submissions got an answer that is neither 201 nor a cause to act on: %v", res.failed, res.statuses)
			}
		})
	}

	phase("baseline", a, func(t *testing.T) (submitResult, string) {
		r := a.burst(t, "baseline", 6, 3, nil)
		if r.created != 6 {
			t.Errorf("baseline: %+v", r)
		}
		return r, ""
	})

	phase("portal killed -9 during submits", a, func(t *testing.T) (submitResult, string) {
		r := a.burst(t, "kill", 30, 4, func() {
			time.Sleep(300 * time.Millisecond)
			a.Kill()
		})
		a.Start(t)
		return r, "restarted"
	})

	phase("slurmrestd stopped 10 s", a, func(t *testing.T) (submitResult, string) {
		rest.setDown(true)
		r := a.burst(t, "rest-down", 4, 2, nil)
		time.Sleep(10 * time.Second)
		rest.setDown(false)
		if r.created > 0 && r.refused == 0 {
			t.Errorf("submits while slurmrestd was down: %+v; want 503 'nothing was submitted'", r)
		}
		after := a.burst(t, "rest-back", 3, 3, nil)
		if after.created != 3 {
			t.Errorf("submits after slurmrestd came back: %+v", after)
		}
		return add(r, after), ""
	})

	phase("slow slurmrestd (3 poll ticks per answer)", a, func(t *testing.T) (submitResult, string) {
		rest.setDelay(3 * pollInterval)
		r := a.burst(t, "slow", 4, 4, nil)
		rest.setDelay(0)
		if r.created != 4 {
			t.Errorf("submits through a slow slurmrestd: %+v", r)
		}
		return r, ""
	})

	phase("PostgreSQL unreachable 8 s", a, func(t *testing.T) (submitResult, string) {
		r := a.burst(t, "pg-down", 8, 2, func() {
			pg.setDown(true)
			time.AfterFunc(8*time.Second, func() { pg.setDown(false) })
		})
		time.Sleep(9 * time.Second)
		after := a.burst(t, "pg-back", 2, 2, nil)
		if after.created != 2 {
			t.Errorf("submits after PostgreSQL came back: %+v", after)
		}
		return add(r, after), ""
	})

	phase("full filesystem", a, func(t *testing.T) (submitResult, string) {
		filler := filepath.Join(a.Root, "filler")
		exec.Command("dd", "if=/dev/zero", "of="+filler, "bs=1M").Run() // ends at ENOSPC
		defer os.Remove(filler)
		status, body := a.upload(t, "too-big", 4<<20, -1)
		if status != 507 {
			t.Errorf("upload into a full store: %d %s; want 507", status, body)
		}
		r := a.burst(t, "full", 3, 1, nil)
		os.Remove(filler)
		after := a.burst(t, "space-back", 2, 2, nil)
		if after.created != 2 {
			t.Errorf("submits after space came back: %+v", after)
		}
		return add(r, after), fmt.Sprintf("upload %d", status)
	})

	phase("upload cut halfway", a, func(t *testing.T) (submitResult, string) {
		var before int
		a.DB.QueryRow(`SELECT count(*) FROM data`).Scan(&before)
		a.upload(t, "cut", 8<<20, 4<<20)
		time.Sleep(time.Second)
		var after int
		a.DB.QueryRow(`SELECT count(*) FROM data`).Scan(&after)
		if after != before {
			t.Errorf("a cut upload registered %d data", after-before)
		}
		if stray := strayDataDirs(t, a); len(stray) > 0 {
			t.Errorf("a cut upload left files: %v", stray)
		}
		return submitResult{}, fmt.Sprintf("%d data registered", after-before)
	})

	// Portal B: the SSH backend, its login-node connection through a proxy
	// that cuts it.
	ssh := newProxy(t, cluster["KQI_SSH_ADDR"])
	b := newPortal(t, "ssh", bin, cluster, map[string]string{
		"KQI_SLURM_BACKEND": "ssh", "KQI_SSH_ADDR": ssh.addr, "KQI_SSH_USER": cluster["KQI_SSH_USER"],
		"KQI_SSH_KEY_FILE": cluster["KQI_SSH_KEY_FILE"], "KQI_SSH_KNOWN_HOSTS": knownHostsFor(t, cluster, ssh.addr),
	}, 0)
	b.Start(t)
	b.Login(t)
	t.Cleanup(b.cancelAll)
	phase("SSH backend connection cut", b, func(t *testing.T) (submitResult, string) {
		r := b.burst(t, "ssh-cut", 10, 2, func() {
			time.Sleep(200 * time.Millisecond)
			ssh.cut()
		})
		ssh.cut()
		after := b.burst(t, "ssh-back", 2, 2, nil)
		if after.created != 2 {
			t.Errorf("submits after the cut: %+v", after)
		}
		return add(r, after), ""
	})

	// The shared cluster itself: slurmctld restarted with its state, and
	// the node drained and downed. Other portals' jobs ride it out too.
	phase("slurmctld restarted, state kept", a, func(t *testing.T) (submitResult, string) {
		running := a.burst(t, "ctld-before", 2, 2, nil)
		restartSlurmctld(t)
		after := a.burst(t, "ctld-after", 2, 2, nil)
		if after.created != 2 {
			t.Errorf("submits after slurmctld came back: %+v", after)
		}
		return add(running, after), ""
	})

	node := cluster["KQI_DEV_NODE"]
	nodes := nodeNames(t)
	t.Cleanup(func() {
		for _, n := range nodes {
			exec.Command("scontrol", "update", "nodename="+n, "state=resume").Run()
		}
	})
	phase("nodes drained", a, func(t *testing.T) (submitResult, string) {
		for _, n := range nodes {
			run(t, "scontrol", "update", "nodename="+n, "state=drain", "reason=kqi fault suite")
		}
		r := a.burst(t, "drained", 2, 2, nil)
		time.Sleep(3 * pollInterval)
		var waiting int
		a.DB.QueryRow(`SELECT count(*) FROM jobs WHERE name LIKE 'drained-%' AND status = 'queued' AND reason = 'slurm' AND reason_arg <> ''`).Scan(&waiting)
		for _, n := range nodes {
			run(t, "scontrol", "update", "nodename="+n, "state=resume")
		}
		if waiting != r.created {
			t.Errorf("%d of %d jobs wait with Slurm's reason while every node is drained", waiting, r.created)
		}
		return r, fmt.Sprintf("%d waited with Slurm's reason", waiting)
	})

	phase("node downed under a running job", a, func(t *testing.T) (submitResult, string) {
		status, body, err := a.Do("POST", "/api/v1/trainings", map[string]any{
			"name": "downed", "dataset_id": a.Dataset, "git": map[string]string{"repository": cluster["KQI_DEV_GIT_PUBLIC_REPO"]},
			"command": "sleep 120", "cpu": 1, "memory_gb": 1, "sbatch_options": []string{},
		})
		if err != nil || status != 201 {
			t.Fatalf("submit: %d %s %v", status, body, err)
		}
		deadline := time.Now().Add(time.Minute)
		var st, nodeOf string
		for time.Now().Before(deadline) {
			a.DB.QueryRow(`SELECT status, node FROM jobs WHERE name = 'downed'`).Scan(&st, &nodeOf)
			if st == "running" {
				break
			}
			time.Sleep(time.Second)
		}
		if nodeOf == "" {
			nodeOf = node
		}
		run(t, "scontrol", "update", "nodename="+nodeOf, "state=down", "reason=kqi fault suite")
		var reason string
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(pollInterval) {
			a.DB.QueryRow(`SELECT status, reason FROM jobs WHERE name = 'downed'`).Scan(&st, &reason)
			if st != "running" {
				break
			}
		}
		// The dev cluster's ReturnToService=2 may have put the node back
		// already, and resuming an idle node is refused: that is fine.
		exec.Command("scontrol", "update", "nodename="+nodeOf, "state=resume").Run()
		if !(st == "queued" && strings.HasPrefix(reason, "requeued")) && !(st == "error" && reason == "node_fail") {
			t.Errorf("job on a downed node: %s %s; want queued requeued… or error node_fail", st, reason)
		}
		// Stopped as a user does, so it ends killed, not cancelled outside.
		var id int64
		a.DB.QueryRow(`SELECT id FROM jobs WHERE name = 'downed'`).Scan(&id)
		if status, body, err := a.Do("POST", fmt.Sprintf("/api/v1/trainings/%d/stop", id), nil); err != nil || status >= 300 {
			t.Errorf("stop: %d %s %v", status, body, err)
		}
		return submitResult{created: 1, statuses: map[string]int{"201": 1}}, st + " " + reason
	})

	printTable(results)
	checkClusterBack(t, cluster)
}

func add(a, b submitResult) submitResult {
	out := submitResult{a.created + b.created, a.refused + b.refused, a.unanswered + b.unanswered, a.failed + b.failed, map[string]int{}}
	for _, m := range []map[string]int{a.statuses, b.statuses} {
		for k, v := range m {
			out.statuses[k] += v
		}
	}
	return out
}

// throughProxy is the portal's database URL with the proxy as its host.
func throughProxy(t *testing.T, p *portal, addr string) string {
	t.Helper()
	for _, kv := range p.Env {
		if v, ok := strings.CutPrefix(kv, "KQI_DATABASE_URL="); ok {
			u, err := url.Parse(v)
			if err != nil {
				t.Fatal(err)
			}
			u.Host = addr
			return u.String()
		}
	}
	t.Fatal("no database URL")
	return ""
}

// knownHostsFor writes a known_hosts file that names the login node's key
// at the proxy's address.
func knownHostsFor(t *testing.T, cluster map[string]string, addr string) string {
	t.Helper()
	b, err := os.ReadFile(cluster["KQI_SSH_KNOWN_HOSTS"])
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := strings.Cut(addr, ":")
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		_, key, ok := strings.Cut(line, " ")
		if ok {
			out = append(out, fmt.Sprintf("[%s]:%s %s", host, port, key))
		}
	}
	path := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(path, []byte(strings.Join(out, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// strayDataDirs lists data directories with no row.
func strayDataDirs(t *testing.T, p *portal) []string {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join(p.Root, "tenants", "*", "data", "*"))
	var stray []string
	for _, d := range dirs {
		var n int
		p.DB.QueryRow(`SELECT count(*) FROM data WHERE id::text = $1`, filepath.Base(d)).Scan(&n)
		if n == 0 {
			entries, _ := os.ReadDir(d)
			if len(entries) > 0 {
				stray = append(stray, d)
			}
		}
	}
	return stray
}

// restartSlurmctld stops slurmctld and starts it again on its saved
// state (unlike dev-cluster.sh, which starts it clean), as a site's
// controller restart does.
func restartSlurmctld(t *testing.T) {
	t.Helper()
	out, err := exec.Command("scontrol", "show", "config").Output()
	if err != nil {
		t.Fatal(err)
	}
	var pidFile string
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && strings.TrimSpace(k) == "SlurmctldPidFile" {
			pidFile = strings.TrimSpace(v)
		}
	}
	pid, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("slurmctld pid file %q: %v", pidFile, err)
	}
	run(t, "kill", "-TERM", strings.TrimSpace(string(pid)))
	deadline := time.Now().Add(30 * time.Second)
	for exec.Command("kill", "-0", strings.TrimSpace(string(pid))).Run() == nil {
		if time.Now().After(deadline) {
			t.Fatal("slurmctld does not stop")
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(5 * time.Second) // the portals poll a stopped controller
	run(t, "/usr/sbin/slurmctld", "-f", os.Getenv("SLURM_CONF"))
	deadline = time.Now().Add(30 * time.Second)
	for {
		if out, _ := exec.Command("scontrol", "ping").Output(); strings.Contains(string(out), "is UP") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("slurmctld does not come back")
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// nodeNames lists the cluster's nodes.
func nodeNames(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("sinfo", "-h", "-N", "-o", "%N").Output()
	if err != nil {
		t.Fatalf("sinfo: %v", err)
	}
	seen := map[string]bool{}
	var names []string
	for _, n := range strings.Fields(string(out)) {
		if !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	return names
}

// checkClusterBack fails the suite unless every node is back in service.
func checkClusterBack(t *testing.T, cluster map[string]string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		out, _ := exec.Command("sinfo", "-h", "-N", "-o", "%N %t").Output()
		bad := ""
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			f := strings.Fields(line)
			if len(f) == 2 && !strings.HasPrefix(f[1], "idle") && !strings.HasPrefix(f[1], "mix") && !strings.HasPrefix(f[1], "alloc") {
				bad += line + "; "
			}
		}
		if bad == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("nodes not back in service: %s", bad)
			return
		}
		time.Sleep(time.Second)
	}
}

func printTable(results []result) {
	w := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "fault\t201\t503/507\tno answer\tother\tlost\torphans\tduplicates\tstuck\tsecrets\ttokens\tcancelled by us\tnote")
	for _, r := range results {
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n", r.phase, r.res.created, r.res.refused, r.res.unanswered, r.res.failed,
			r.c.lost, r.c.orphans, r.c.duplicates, r.c.stuck, r.c.secrets, r.c.tokens, r.c.cancelledOutside, r.note)
	}
	w.Flush()
}
