package slurm

import (
	"kqi/slurm/slurmtest"
	"slices"

	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// devCluster is the dev cluster (scripts/dev-cluster.sh) as the
// integration tests see it: both backends, a directory of this run on the
// shared filesystem owned by the cluster user, and a model repository in it.
type devCluster struct {
	env      map[string]string
	run      string // identifies this test run in job comments
	root     string // this run's directory under KQI_SHARED_ROOT
	repo     string // file:// URL of the model repository
	uid, gid int    // the cluster user, when the tests run as root
	backends []backend
}

type backend struct {
	name string
	c    Cluster
}

// newDevCluster skips under -short and otherwise fails, never skips, when
// the dev cluster's settings are missing: integration tests are part of
// `make test`.
func newDevCluster(t *testing.T) *devCluster {
	t.Helper()
	d := &devCluster{uid: -1, gid: -1}
	d.env = slurmtest.Integration(t,
		"KQI_SLURM_REST_URL", "KQI_SLURM_JWT_KEY_FILE", "KQI_SLURM_USER",
		"KQI_SSH_ADDR", "KQI_SSH_USER", "KQI_SSH_KEY_FILE", "KQI_SSH_KNOWN_HOSTS",
		"KQI_SHARED_ROOT", "KQI_DEV_GPU_PARTITION", "KQI_DEV_GPU_TYPE", "KQI_DEV_GPUS")
	if os.Geteuid() == 0 {
		u, err := user.Lookup(d.env["KQI_SLURM_USER"])
		if err != nil {
			t.Fatal(err)
		}
		d.uid, _ = strconv.Atoi(u.Uid)
		d.gid, _ = strconv.Atoi(u.Gid)
	}
	d.run = fmt.Sprintf("%d-%d", os.Getpid(), time.Now().UnixNano())
	d.root = filepath.Join(d.env["KQI_SHARED_ROOT"], "slurm-test-"+d.run)
	d.mkdir(t, d.root)
	t.Cleanup(func() { os.RemoveAll(d.root) })
	d.repo = d.modelRepo(t)

	signer, err := NewTokenSigner(d.env["KQI_SLURM_JWT_KEY_FILE"], 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	rest, err := NewREST(RESTConfig{URL: d.env["KQI_SLURM_REST_URL"], User: d.env["KQI_SLURM_USER"], Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	ssh, err := NewSSH(SSHConfig{
		Addr: d.env["KQI_SSH_ADDR"], User: d.env["KQI_SSH_USER"],
		KeyFile: d.env["KQI_SSH_KEY_FILE"], KnownHostsFile: d.env["KQI_SSH_KNOWN_HOSTS"],
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ssh.Close() })
	d.backends = []backend{{"rest", rest}, {"ssh", ssh}}
	return d
}

// mkdir makes a directory the cluster user owns: jobs run as that user.
func (d *devCluster) mkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	d.chown(t, dir)
}

func (d *devCluster) chown(t *testing.T, path string) {
	t.Helper()
	if d.uid < 0 {
		return
	}
	err := filepath.Walk(path, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, d.uid, d.gid)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// modelRepo makes a one-commit repository on the shared filesystem.
func (d *devCluster) modelRepo(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(d.root, "model")
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	// Owned by the test until committed: git refuses to work in another
	// user's repository.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	git("init", "-q", "-b", "main")
	if err := os.WriteFile(filepath.Join(dir, "train.py"), []byte("print('trained')\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git("add", "train.py")
	git("-c", "user.name=KQI Test", "-c", "user.email=test@example.org", "commit", "-q", "-m", "model")
	d.chown(t, dir)
	return "file://" + dir
}

// spec is a small job of this run, in its own job directory.
func (d *devCluster) spec(t *testing.T, name, command string) JobSpec {
	t.Helper()
	dir := filepath.Join(d.root, name)
	d.mkdir(t, dir)
	return JobSpec{
		Name:      "kqi-test-" + name,
		Comment:   "kqi:test:" + d.run + ":" + name,
		CPUs:      1,
		TimeLimit: 5 * time.Minute,
		System:    []EnvVar{{"TRAINING_ID", "42"}},
		Env:       []EnvVar{{"GREETING", "hello world"}},
		Git:       GitSource{URL: d.repo},
		Image:     HostImage,
		Command:   command,
		JobDir:    dir,
	}
}

// submit renders and submits spec, and cancels the job when the test ends.
func submit(t *testing.T, c Cluster, spec JobSpec) string {
	t.Helper()
	script, err := Render(spec, Bubblewrap{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	id, err := c.Submit(ctx, script, spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancelJob(c, id) })
	return id
}

func cancelJob(c Cluster, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = c.Cancel(ctx, id) // cleanup: the job may be long gone
}

// waitFor polls Jobs until ok accepts the job, and returns it.
func waitFor(t *testing.T, c Cluster, id string, timeout time.Duration, what string, ok func(JobInfo) bool) JobInfo {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last JobInfo
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		jobs, err := c.Jobs(ctx, []string{id})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if j, found := jobs[id]; found {
			last = j
			if ok(j) {
				return j
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s: not %s after %s; last seen %+v", id, what, timeout, last)
		}
		time.Sleep(time.Second)
	}
}

func ended(j JobInfo) bool { return j.Ended() }

// outcome is the KQI status of a job the cluster knows.
func outcome(t *testing.T, j JobInfo, dir string) Outcome {
	t.Helper()
	o, err := StatusOf(j, true, dir)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// sameOnBoth checks that both backends report the jobs identically.
func (d *devCluster) sameOnBoth(t *testing.T, ids ...string) map[string]JobInfo {
	t.Helper()
	var first map[string]JobInfo
	for i, b := range d.backends {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		jobs, err := b.c.Jobs(ctx, ids)
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", b.name, err)
		}
		if len(jobs) != len(ids) {
			t.Fatalf("%s: Jobs found %d of %d jobs", b.name, len(jobs), len(ids))
		}
		if i == 0 {
			first = jobs
			continue
		}
		for _, id := range ids {
			if !reflect.DeepEqual(first[id], jobs[id]) {
				t.Fatalf("job %s differs:\n%s: %+v\n%s: %+v", id, d.backends[0].name, first[id], b.name, jobs[id])
			}
		}
	}
	return first
}

// TestCluster runs the same jobs through both backends, side by side; the
// slowest case (the time limit) sets the duration.
func TestCluster(t *testing.T) {
	d := newDevCluster(t)
	for _, b := range d.backends {
		c := b.c
		name := func(s string) string { return b.name + "-" + s }
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()

			t.Run("completed", func(t *testing.T) {
				t.Parallel()
				spec := d.spec(t, name("completed"), strings.Join([]string{
					`set -e`,
					`test "$PWD" = /kqi/git`,
					`test -f /kqi/git/train.py && test -d /kqi/input && test -d /kqi/attach`,
					`if touch /kqi/input/probe 2>/dev/null; then echo "/kqi/input is writable"; exit 10; fi`,
					`test "$TRAINING_ID" = 42 && test "$GREETING" = "hello world" && test -n "$SLURM_JOB_ID"`,
					`python3 /kqi/git/train.py >/kqi/output/result.txt`,
				}, "\n"))
				id := submit(t, c, spec)
				j := waitFor(t, c, id, 2*time.Minute, "ended", ended)
				if j.State != "COMPLETED" || j.ExitCode != 0 || j.Name != spec.Name || j.Comment != spec.Comment || j.Node == "" ||
					j.SubmitTime.IsZero() || j.StartTime.IsZero() || j.EndTime.IsZero() {
					t.Fatalf("job %+v", j)
				}
				if o := outcome(t, j, spec.JobDir); o.Status != StatusCompleted {
					log, _ := os.ReadFile(spec.Path(LogFile))
					t.Fatalf("outcome %+v, log:\n%s", o, log)
				}
				out, err := os.ReadFile(filepath.Join(spec.JobDir, OutputDir, "result.txt"))
				if err != nil || string(out) != "trained\n" {
					t.Fatalf("output/result.txt = %q, %v", out, err)
				}
				d.sameOnBoth(t, id)
				for _, other := range d.backends {
					byID, found, err := other.c.FindJobs(context.Background(), []string{id}, []string{spec.Comment, "kqi:none"})
					if err != nil || len(found) != 1 || len(found[spec.Comment]) != 1 || found[spec.Comment][0].ID != id || byID[id].ID != id {
						t.Fatalf("%s: FindJobs(%s, %q) = %+v, %+v, %v", other.name, id, spec.Comment, byID, found, err)
					}
				}
			})

			t.Run("failed", func(t *testing.T) {
				t.Parallel()
				spec := d.spec(t, name("failed"), "exit 3")
				id := submit(t, c, spec)
				j := waitFor(t, c, id, 2*time.Minute, "ended", ended)
				if j.State != "FAILED" || j.ExitCode != 3 || j.Signal != 0 {
					t.Fatalf("job %+v", j)
				}
				if o := outcome(t, j, spec.JobDir); o.Status != StatusFailed || o.ExitCode != 3 {
					t.Fatalf("outcome %+v", o)
				}
				d.sameOnBoth(t, id)
			})

			t.Run("killed", func(t *testing.T) {
				t.Parallel()
				spec := d.spec(t, name("killed"), "sleep 600")
				id := submit(t, c, spec)
				waitFor(t, c, id, time.Minute, "running", func(j JobInfo) bool { return j.State == "RUNNING" })
				if err := c.Cancel(context.Background(), id); err != nil {
					t.Fatal(err)
				}
				j := waitFor(t, c, id, time.Minute, "ended", ended)
				// Cancelled as KQI cancels a job its user stopped.
				obs := Observe(j, true, mustRecord(t, spec.JobDir))
				obs.StopRequested = true
				if o, err := Decide(obs); err != nil || j.State != "CANCELLED" || o.Status != StatusKilled {
					t.Fatalf("job %+v, outcome %+v", j, o)
				}
				if err := c.Cancel(context.Background(), id); err != nil {
					t.Fatalf("cancelling an ended job: %v", err)
				}
				d.sameOnBoth(t, id)
			})

			t.Run("cancel-unknown", func(t *testing.T) {
				t.Parallel()
				// Above Slurm's largest job id, so never a real job.
				if err := c.Cancel(context.Background(), "999999999"); !errors.Is(err, ErrJobNotFound) {
					t.Fatalf("Cancel of an unknown job: %v, want ErrJobNotFound", err)
				}
				jobs, err := c.Jobs(context.Background(), []string{"999999999"})
				if err != nil || len(jobs) != 0 {
					t.Fatalf("Jobs of an unknown job = %+v, %v; want an empty map", jobs, err)
				}
			})

			t.Run("time-limit", func(t *testing.T) {
				t.Parallel()
				spec := d.spec(t, name("time-limit"), "sleep 600")
				spec.TimeLimit = time.Minute
				id := submit(t, c, spec)
				j := waitFor(t, c, id, 170*time.Second, "ended", ended)
				o := outcome(t, j, spec.JobDir)
				if j.State != "TIMEOUT" || o.Status != StatusError || o.Cause.Code != CauseTimeLimit {
					t.Fatalf("job %+v, outcome %+v", j, o)
				}
				d.sameOnBoth(t, id)
			})

			t.Run("gpu-wait", func(t *testing.T) {
				t.Parallel()
				slurmtest.LockGPUs(t)
				total, err := strconv.Atoi(d.env["KQI_DEV_GPUS"])
				if err != nil {
					t.Fatal(err)
				}
				holder := d.spec(t, name("gpu-holder"), `test -n "$CUDA_VISIBLE_DEVICES" && sleep 600`)
				holder.Partition, holder.GPUType, holder.GPUs = d.env["KQI_DEV_GPU_PARTITION"], d.env["KQI_DEV_GPU_TYPE"], total
				hid := submit(t, c, holder)
				// Other tests of the dev cluster may hold GPUs for a while.
				waitFor(t, c, hid, 2*time.Minute, "running", func(j JobInfo) bool { return j.State == "RUNNING" })

				waiter := d.spec(t, name("gpu-waiter"), "true")
				waiter.Partition, waiter.GPUType, waiter.GPUs = holder.Partition, holder.GPUType, 2
				wid := submit(t, c, waiter)
				j := waitFor(t, c, wid, time.Minute, "waiting for resources", func(j JobInfo) bool { return j.Reason == "Resources" })
				if o := outcome(t, j, waiter.JobDir); j.State != "PENDING" || o.Status != StatusQueued || o.Cause != (Cause{CauseSlurm, "Resources"}) {
					t.Fatalf("job %+v, outcome %+v", j, o)
				}
				d.sameOnBoth(t, wid)
				// Free the GPUs before the other backend's turn.
				for _, id := range []string{wid, hid} {
					if err := c.Cancel(context.Background(), id); err != nil {
						t.Fatal(err)
					}
					waitFor(t, c, id, time.Minute, "ended", ended)
				}
			})

			t.Run("many", func(t *testing.T) {
				t.Parallel()
				const n = 200
				spec := d.spec(t, name("many"), "true")
				spec.Extra = []string{"--hold"}
				script, err := Render(spec, Bubblewrap{})
				if err != nil {
					t.Fatal(err)
				}
				ids := make([]string, n)
				parallel(t, n, func(i int) error {
					id, err := c.Submit(context.Background(), script, spec)
					ids[i] = id
					return err
				})
				t.Cleanup(func() {
					parallel(t, n, func(i int) error {
						if ids[i] != "" {
							cancelJob(c, ids[i])
						}
						return nil
					})
				})
				start := time.Now()
				jobs, err := c.Jobs(context.Background(), ids)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("one Jobs call for %d jobs took %s", n, time.Since(start))
				if len(jobs) != n {
					t.Fatalf("Jobs returned %d of %d jobs", len(jobs), n)
				}
				for _, id := range ids {
					j := jobs[id]
					if o := outcome(t, j, spec.JobDir); j.State != "PENDING" || j.Reason != "JobHeldUser" || o.Status != StatusQueued {
						t.Fatalf("job %+v, outcome %+v", j, o)
					}
				}
				d.sameOnBoth(t, ids...)
			})

			t.Run("extras", func(t *testing.T) {
				t.Parallel()
				spec := d.spec(t, name("extras"), "true")
				spec.Extra = []string{"--hold", "--nice=10", "--mail-type=END", "--mail-user=kqi@example.org", "--kill-on-invalid-dep=yes"}
				id := submit(t, c, spec)
				out, err := exec.Command("scontrol", "show", "job", "--oneliner", id).CombinedOutput()
				if err != nil {
					t.Fatalf("scontrol: %v\n%s", err, out)
				}
				for _, want := range []string{"Reason=JobHeldUser", "Nice=10", "MailType=END", "MailUser=kqi@example.org", "Comment=" + spec.Comment, "TimeLimit=00:05:00"} {
					if !strings.Contains(string(out), want) {
						t.Errorf("job %s lacks %s:\n%s", id, want, out)
					}
				}
			})

			t.Run("partitions", func(t *testing.T) {
				t.Parallel()
				got, err := c.Partitions(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				// Free GPUs change with the shared cluster's load: within
				// bounds here, then compared without them.
				shape := slices.Clone(got)
				for i, p := range shape {
					total := 0
					for _, g := range p.GPUs {
						total += g.Count * p.Nodes
					}
					if p.FreeGPUs < 0 || p.FreeGPUs > total {
						t.Errorf("partition %s: %d free GPUs of %d", p.Name, p.FreeGPUs, total)
					}
					if p.FreeCPUs < 0 || p.FreeCPUs > p.CPUs || p.FreeMemoryMB < 0 || p.FreeMemoryMB > p.MemoryMB {
						t.Errorf("partition %s: %d CPUs and %d MB free on one node of %d and %d", p.Name, p.FreeCPUs, p.FreeMemoryMB, p.CPUs, p.MemoryMB)
					}
					shape[i].FreeGPUs, shape[i].FreeCPUs, shape[i].FreeMemoryMB = 0, 0, 0
				}
				if want := sinfoPartitions(t); !reflect.DeepEqual(shape, want) {
					t.Fatalf("Partitions() = %+v\nsinfo:        %+v", shape, want)
				}
				var gpu *Partition
				for i := range got {
					if got[i].Name == d.env["KQI_DEV_GPU_PARTITION"] {
						gpu = &got[i]
					}
				}
				n, _ := strconv.Atoi(d.env["KQI_DEV_GPUS"])
				if gpu == nil || !reflect.DeepEqual(gpu.GPUs, []GPU{{d.env["KQI_DEV_GPU_TYPE"], n}}) {
					t.Fatalf("GPU partition %s: %+v", d.env["KQI_DEV_GPU_PARTITION"], gpu)
				}
			})
		})
	}
}

// parallel runs f(0..n-1) on a few goroutines (sshd allows 10 sessions
// per connection) and fails the test on the first error.
func parallel(t *testing.T, n int, f func(i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	next := make(chan int)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(i); err != nil {
					errs <- err
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// sinfoPartitions reads the partitions with sinfo's summary format (one
// line per partition and node configuration), independently of the SSH
// backend's per-node listing.
func sinfoPartitions(t *testing.T) []Partition {
	t.Helper()
	out, err := exec.Command("sinfo", "--noheader", "--format=%P|%D|%c|%m|%G|%l").Output()
	if err != nil {
		t.Fatalf("sinfo: %v", err)
	}
	byName := map[string]*Partition{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "|")
		name, def := strings.CutSuffix(f[0], "*")
		p := byName[name]
		if p == nil {
			p = &Partition{Name: name, Default: def}
			byName[name] = p
		}
		nodes, _ := strconv.Atoi(f[1])
		cpus, _ := strconv.Atoi(strings.TrimSuffix(f[2], "+"))
		mem, _ := strconv.Atoi(strings.TrimSuffix(f[3], "+"))
		p.Nodes += nodes
		p.CPUs, p.MemoryMB = max(p.CPUs, cpus), max(p.MemoryMB, mem)
		if gres := strings.Split(f[4], ":"); len(gres) == 3 && gres[0] == "gpu" {
			count, _ := strconv.Atoi(gres[2])
			p.GPUs = []GPU{{gres[1], count}}
		}
		if f[5] != "infinite" {
			days, hms, ok := strings.Cut(f[5], "-")
			if !ok {
				days, hms = "0", f[5]
			}
			d, _ := strconv.Atoi(days)
			var h, m, s int
			fmt.Sscanf(hms, "%d:%d:%d", &h, &m, &s)
			p.MaxTime = time.Duration(d)*24*time.Hour + time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(s)*time.Second
		}
	}
	var parts []Partition
	for _, p := range byName {
		parts = append(parts, *p)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].Name < parts[j].Name })
	return parts
}

// The SSH backend checks the login node's host key, survives a broken
// connection and stops a command at its timeout.
func TestSSHConnection(t *testing.T) {
	d := newDevCluster(t)
	cfg := SSHConfig{
		Addr: d.env["KQI_SSH_ADDR"], User: d.env["KQI_SSH_USER"],
		KeyFile: d.env["KQI_SSH_KEY_FILE"], KnownHostsFile: d.env["KQI_SSH_KNOWN_HOSTS"],
	}
	ctx := context.Background()

	t.Run("host-key-mismatch", func(t *testing.T) {
		known, err := os.ReadFile(cfg.KnownHostsFile)
		if err != nil {
			t.Fatal(err)
		}
		host, _, _ := strings.Cut(strings.TrimSpace(string(known)), " ")
		other := filepath.Join(t.TempDir(), "known_hosts")
		// Another ed25519 key for the same host.
		line := host + " ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMb0JBsnLk4QvQ5RhzM9WGoKVjWMjVbS2rSc3kWnuUqw\n"
		if err := os.WriteFile(other, []byte(line), 0o600); err != nil {
			t.Fatal(err)
		}
		bad := cfg
		bad.KnownHostsFile = other
		c, err := NewSSH(bad)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Partitions(ctx); err == nil || !strings.Contains(err.Error(), "key mismatch") {
			t.Fatalf("connected despite a wrong host key: %v", err)
		}
	})

	t.Run("unknown-host", func(t *testing.T) {
		empty := filepath.Join(t.TempDir(), "known_hosts")
		if err := os.WriteFile(empty, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		bad := cfg
		bad.KnownHostsFile = empty
		if _, err := NewSSH(bad); err == nil || !strings.Contains(err.Error(), "not in the known_hosts") {
			t.Fatalf("NewSSH with no key for the host: %v", err)
		}
	})

	t.Run("reconnect", func(t *testing.T) {
		c, err := NewSSH(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Partitions(ctx); err != nil {
			t.Fatal(err)
		}
		c.mu.Lock()
		broken := c.conn
		c.mu.Unlock()
		broken.Close() // as if the network had dropped it
		if _, err := c.Partitions(ctx); err != nil {
			t.Fatalf("after the connection broke: %v", err)
		}
		c.mu.Lock()
		if c.conn == broken || c.conn == nil {
			t.Error("the broken connection was not replaced")
		}
		c.mu.Unlock()
	})

	t.Run("concurrent", func(t *testing.T) {
		c, err := NewSSH(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// More commands at once than sshd's MaxSessions allows on one
		// connection (10 by default, 64 on the dev cluster).
		var wg sync.WaitGroup
		errs := make(chan error, 80)
		for i := 0; i < 80; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := c.Partitions(ctx); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	})

	t.Run("timeout", func(t *testing.T) {
		short := cfg
		short.CommandTimeout = time.Second
		c, err := NewSSH(short)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		start := time.Now()
		if _, _, err := c.run(ctx, nil, "sleep", "30"); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("a command past its timeout: %v", err)
		}
		if time.Since(start) > 5*time.Second {
			t.Fatalf("the timeout took %s", time.Since(start))
		}
		if _, err := c.Partitions(ctx); err != nil {
			t.Fatalf("after a timeout: %v", err)
		}
	})
}
