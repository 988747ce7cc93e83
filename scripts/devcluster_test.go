// Package scripts holds checks of the development cluster that
// scripts/dev-cluster.sh starts: real Slurm scheduling of the fake GPUs and
// the SSH login the portal uses. They run against the live cluster and fail,
// never skip, when it is missing.
package scripts

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// devCluster is what the tests need from $KQI_DEV_DIR/env.
type devCluster struct {
	shared       string
	user         string
	cpuPartition string
	gpuPartition string
	gpuType      string
	sshAddr      string
	sshKey       string
	knownHosts   string
}

func requireDevCluster(t *testing.T) devCluster {
	t.Helper()
	if os.Getenv("KQI_DEV_DIR") == "" {
		t.Fatal("KQI_DEV_DIR is not set: start the dev cluster with `scripts/dev-cluster.sh up` (as root) " +
			"and export its environment with `set -a; . /var/lib/kqi-dev/env; set +a` (`make test` does both)")
	}
	get := func(key string) string {
		v := os.Getenv(key)
		if v == "" {
			t.Fatalf("%s is not set: source $KQI_DEV_DIR/env written by `scripts/dev-cluster.sh up`", key)
		}
		return v
	}
	c := devCluster{
		shared:       get("KQI_SHARED_ROOT"),
		user:         get("KQI_SLURM_USER"),
		cpuPartition: get("KQI_DEV_CPU_PARTITION"),
		gpuPartition: get("KQI_DEV_GPU_PARTITION"),
		gpuType:      os.Getenv("KQI_DEV_GPU_TYPE"),
		sshAddr:      get("KQI_SSH_ADDR"),
		sshKey:       get("KQI_SSH_KEY_FILE"),
		knownHosts:   get("KQI_SSH_KNOWN_HOSTS"),
	}
	if c.gpuType == "" {
		c.gpuType = "a100"
	}
	get("SLURM_CONF")
	return c
}

// run runs name with args (never through a shell) and returns its trimmed stdout.
func run(t *testing.T, timeout time.Duration, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\nstdout: %s\nstderr: %s", name, strings.Join(args, " "), err, out, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// asUser runs a command as the service account, the way the portal's jobs run.
func (c devCluster) asUser(t *testing.T, timeout time.Duration, name string, args ...string) string {
	t.Helper()
	return run(t, timeout, "runuser", append([]string{"-u", c.user, "--", name}, args...)...)
}

// jobDir makes a temporary directory on the shared filesystem owned by the service account.
func (c devCluster) jobDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp(c.shared, "devcluster-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	u, err := user.Lookup(c.user)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	return dir
}

// cancelAtEnd scancels the jobs when the test ends, whatever happened.
func cancelAtEnd(t *testing.T, ids ...string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if out, err := exec.CommandContext(ctx, "scancel", ids...).CombinedOutput(); err != nil {
			t.Errorf("scancel %v: %v: %s", ids, err, out)
		}
	})
}

func TestPartitions(t *testing.T) {
	c := requireDevCluster(t)
	parts := strings.Fields(run(t, 30*time.Second, "sinfo", "-h", "-o", "%P"))
	for _, want := range []string{c.cpuPartition + "*", c.gpuPartition} {
		if !slices.Contains(parts, want) {
			t.Errorf("sinfo partitions %q: missing %q (the default partition carries a *)", parts, want)
		}
	}
}

var cudaDevices = regexp.MustCompile(`^CVD=([0-3]),([0-3])$`)

func TestGPUJobGetsDevices(t *testing.T) {
	c := requireDevCluster(t)
	out := filepath.Join(c.jobDir(t), "out")
	gres := fmt.Sprintf("gpu:%s:2", c.gpuType)
	id := c.asUser(t, 3*time.Minute, "sbatch", "--parsable", "--wait", "-J", "kqi-devcluster-test",
		"-p", c.gpuPartition, "--gres="+gres, "-t", "2", "-o", out,
		"--wrap", "echo CVD=$CUDA_VISIBLE_DEVICES")
	cancelAtEnd(t, id)
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.TrimSpace(string(data))
	// Without cgroup device confinement Slurm reports the node's own indices:
	// 0,1 on an idle node, another pair while other tests hold GPUs.
	m := cudaDevices.FindStringSubmatch(got)
	if m == nil || m[1] == m[2] {
		t.Fatalf("job %s with --gres=%s printed %q, want two distinct GPU indices like CVD=0,1", id, gres, got)
	}
	t.Logf("job %s: %s", id, got)
}

func TestThirdGPUJobWaitsForResources(t *testing.T) {
	c := requireDevCluster(t)
	dir := c.jobDir(t)
	gres := fmt.Sprintf("gpu:%s:2", c.gpuType)
	submit := func(name string) string {
		id := c.asUser(t, 30*time.Second, "sbatch", "--parsable", "-J", name,
			"-p", c.gpuPartition, "--gres="+gres, "-t", "5", "-o", filepath.Join(dir, name+".out"),
			"--wrap", "sleep 300")
		cancelAtEnd(t, id)
		return id
	}
	stateOf := func(id string) string {
		return run(t, 30*time.Second, "squeue", "-h", "-j", id, "-o", "%T %r")
	}
	// waitFor polls squeue until ok(state) or the deadline, returning the last state.
	waitFor := func(id string, d time.Duration, ok func(string) bool) (string, bool) {
		deadline := time.Now().Add(d)
		for {
			s := stateOf(id)
			if ok(s) {
				return s, true
			}
			if time.Now().After(deadline) {
				return s, false
			}
			time.Sleep(500 * time.Millisecond)
		}
	}

	first, second := submit("kqi-devcluster-hold1"), submit("kqi-devcluster-hold2")
	running := func(s string) bool { return strings.HasPrefix(s, "RUNNING") }
	for _, id := range []string{first, second} {
		// Generous: GPU jobs of other tests running at the same time may hold the node.
		if s, ok := waitFor(id, 3*time.Minute, running); !ok {
			t.Fatalf("job %s holding 2 GPUs never ran: %q", id, s)
		}
	}
	third := submit("kqi-devcluster-third")
	s, ok := waitFor(third, time.Minute, func(s string) bool { return s == "PENDING Resources" })
	if !ok {
		t.Fatalf("third job %s wanting 2 GPUs while 4 are held: squeue says %q, want \"PENDING Resources\"", third, s)
	}
	t.Logf("jobs %s and %s hold 4 GPUs; job %s: %s", first, second, third, s)
}

func TestSSHLoginRunsSlurm(t *testing.T) {
	c := requireDevCluster(t)
	host, port, ok := strings.Cut(c.sshAddr, ":")
	if !ok {
		t.Fatalf("KQI_SSH_ADDR %q is not host:port", c.sshAddr)
	}
	out := run(t, 30*time.Second, "ssh", "-i", c.sshKey,
		"-o", "UserKnownHostsFile="+c.knownHosts, "-o", "StrictHostKeyChecking=yes",
		"-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-p", port,
		c.user+"@"+host, "sinfo", "-h", "-o", "%P")
	if !slices.Contains(strings.Fields(out), c.gpuPartition) {
		t.Fatalf("sinfo over ssh as %s printed %q, want partition %s", c.user, out, c.gpuPartition)
	}
}
