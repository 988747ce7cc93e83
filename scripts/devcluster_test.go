// Package scripts holds checks of the development cluster that
// scripts/dev-cluster.sh starts: real Slurm scheduling of the fake GPUs, the
// SSH login the portal uses, the Git server with the sample model and the
// dev image a training runs in. They run against the live cluster and fail,
// never skip, when it is missing (under -short they skip: see
// slurmtest.Integration).
package scripts

import (
	"kqi/slurm/slurmtest"

	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"kqi/slurm"
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
	env := slurmtest.Integration(t, "KQI_DEV_DIR", "SLURM_CONF", "KQI_SHARED_ROOT", "KQI_SLURM_USER",
		"KQI_DEV_CPU_PARTITION", "KQI_DEV_GPU_PARTITION", "KQI_SSH_ADDR", "KQI_SSH_KEY_FILE", "KQI_SSH_KNOWN_HOSTS")
	c := devCluster{
		shared:       env["KQI_SHARED_ROOT"],
		user:         env["KQI_SLURM_USER"],
		cpuPartition: env["KQI_DEV_CPU_PARTITION"],
		gpuPartition: env["KQI_DEV_GPU_PARTITION"],
		gpuType:      os.Getenv("KQI_DEV_GPU_TYPE"),
		sshAddr:      env["KQI_SSH_ADDR"],
		sshKey:       env["KQI_SSH_KEY_FILE"],
		knownHosts:   env["KQI_SSH_KNOWN_HOSTS"],
	}
	if c.gpuType == "" {
		c.gpuType = "a100"
	}
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

func TestGPUJobGetsDevices(t *testing.T) {
	c := requireDevCluster(t)
	slurmtest.LockGPUs(t)
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
	// The GPU lock keeps the other tests' GPU jobs away, so the node is
	// idle and the job gets the first two devices.
	if got != "CVD=0,1" {
		t.Fatalf("job %s with --gres=%s printed %q, want CVD=0,1", id, gres, got)
	}
	t.Logf("job %s: %s", id, got)
}

func TestThirdGPUJobWaitsForResources(t *testing.T) {
	c := requireDevCluster(t)
	slurmtest.LockGPUs(t)
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

// devGit is what the Git server and dev image tests need from $KQI_DEV_DIR/env.
type devGit struct {
	devCluster
	url, publicRepo, privateRepo string
	token                        string
	imageRoot, image             string
}

func requireDevGit(t *testing.T) devGit {
	t.Helper()
	c := requireDevCluster(t)
	env := slurmtest.Integration(t, "KQI_DEV_GIT_URL", "KQI_DEV_GIT_PUBLIC_REPO", "KQI_DEV_GIT_PRIVATE_REPO",
		"KQI_DEV_IMAGE_ROOT", "KQI_DEV_IMAGE", "KQI_DEV_GIT_TOKEN_FILE")
	g := devGit{
		devCluster:  c,
		url:         env["KQI_DEV_GIT_URL"],
		publicRepo:  env["KQI_DEV_GIT_PUBLIC_REPO"],
		privateRepo: env["KQI_DEV_GIT_PRIVATE_REPO"],
		imageRoot:   env["KQI_DEV_IMAGE_ROOT"],
		image:       env["KQI_DEV_IMAGE"],
	}
	tokenFile := env["KQI_DEV_GIT_TOKEN_FILE"]
	fi, err := os.Stat(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("%s has mode %04o, want 0600", tokenFile, perm)
	}
	b, err := os.ReadFile(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	if g.token = strings.TrimSpace(string(b)); len(g.token) < 32 {
		t.Fatalf("%s holds a %d-character token, want at least 32", tokenFile, len(g.token))
	}
	return g
}

// gitNoConfig runs git as the tests' user with no configuration and no
// prompts, so a missing credential fails at once.
func gitNoConfig(args ...string) ([]byte, error) {
	cmd := exec.Command("git", args...)
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
	return cmd.CombinedOutput()
}

// infoRefs asks the Git server for a repository's refs with the given
// password ("" = no credentials) and returns the HTTP status.
func infoRefs(t *testing.T, repo, password string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, repo+"/info/refs?service=git-upload-pack", nil)
	if err != nil {
		t.Fatal(err)
	}
	if password != "" {
		req.SetBasicAuth("oauth2", password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestDevGitServesTheSampleModel(t *testing.T) {
	g := requireDevGit(t)
	dst := filepath.Join(t.TempDir(), "mnist")
	if out, err := gitNoConfig("clone", "-q", g.publicRepo, dst); err != nil {
		t.Fatalf("clone %s without credentials: %v\n%s", g.publicRepo, err, out)
	}
	for _, name := range []string{"train.py", "README.md"} {
		if _, err := os.Stat(filepath.Join(dst, name)); err != nil {
			t.Errorf("the public sample repository lacks %s: %v", name, err)
		}
	}
	out, err := gitNoConfig("-C", dst, "rev-parse", "--abbrev-ref", "HEAD")
	if branch := strings.TrimSpace(string(out)); err != nil || branch != "main" {
		t.Errorf("default branch = %q, %v; want main", branch, err)
	}
	public, _ := gitNoConfig("-C", dst, "rev-parse", "HEAD")

	if resp := infoRefs(t, g.privateRepo, ""); resp.StatusCode != http.StatusUnauthorized ||
		!strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
		t.Errorf("private repository without credentials: %s, WWW-Authenticate %q; want 401 with a Basic challenge",
			resp.Status, resp.Header.Get("WWW-Authenticate"))
	}
	if resp := infoRefs(t, g.privateRepo, g.token+"x"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("private repository with a wrong token: %s, want 401", resp.Status)
	}
	if resp := infoRefs(t, g.privateRepo, g.token); resp.StatusCode != http.StatusOK {
		t.Errorf("private repository with the token: %s, want 200", resp.Status)
	}
	if resp := infoRefs(t, g.publicRepo[:strings.LastIndex(g.publicRepo, "/")]+"/../private/mnist.git", ""); resp.StatusCode == http.StatusOK {
		t.Errorf("the private repository was reachable through public/..: %s", resp.Status)
	}
	// Both repositories hold the same commit: the same files, author and date.
	if got := strings.Fields(lsRemoteWithToken(t, g))[0]; got != strings.TrimSpace(string(public)) {
		t.Errorf("private main is %s, public main is %s; want the same commit", got, public)
	}
}

// lsRemoteWithToken lists the private repository's main with the token
// handed over by a credential helper from the environment, as the job
// script does, so it is on no command line.
func lsRemoteWithToken(t *testing.T, g devGit) string {
	t.Helper()
	cmd := exec.Command("git", "-c", "credential.helper=",
		"-c", `credential.helper=!f() { test "$1" = get && printf "username=oauth2\npassword=%s\n" "$KQI_TEST_TOKEN"; }; f`,
		"ls-remote", g.privateRepo, "refs/heads/main")
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "KQI_TEST_TOKEN="+g.token)
	out, err := cmd.CombinedOutput()
	if err != nil || len(strings.Fields(string(out))) == 0 {
		t.Fatalf("git ls-remote %s with the token: %v\n%s", g.privateRepo, err, out)
	}
	return string(out)
}

// sampleInput is the dataset the sample training reads, by path under /kqi/input.
var sampleInput = map[string]string{
	"training/7/images.bin":  "\x00\x01\x02\xfe\xff training bytes",
	"training/7/labels.csv":  "id,label\n1,7\n2,3\n",
	"validation/7/check.csv": "id,label\n3,1\n",
	"testing/7/test.csv":     "id\n4\n",
}

// sampleTraining lays out a job directory on the shared filesystem as the
// portal does for a training of the sample model from the private
// repository (input, a parent's output, the secrets file with the Git
// token), all owned by the service account, and renders its script for the
// dev image.
func (g devGit) sampleTraining(t *testing.T, name string, env []slurm.EnvVar) (slurm.JobSpec, string) {
	t.Helper()
	dir := g.jobDir(t)
	job := filepath.Join(dir, "job")
	parent := filepath.Join(dir, "parent-output")
	write := func(path, content string, mode os.FileMode) {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	for rel, content := range sampleInput {
		write(filepath.Join(job, slurm.InputDir, rel), content, 0o644)
	}
	write(filepath.Join(parent, "model.json"), `{"input_bytes": 12345}`+"\n", 0o644)
	secrets, err := slurm.Secrets{GitToken: g.token, KQIToken: "kqi-devcluster-test-" + name}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	write(filepath.Join(job, slurm.SecretsFile), string(secrets), 0o600)

	spec := slurm.JobSpec{
		Name:      "kqi-devcluster-" + name,
		Comment:   "kqi:devcluster-test:" + name,
		Partition: g.cpuPartition,
		CPUs:      1,
		MemoryGiB: 1,
		TimeLimit: 5 * time.Minute,
		SiteEnv:   []slurm.EnvVar{{Name: "LC_ALL", Value: "C.UTF-8"}, {Name: "LANG", Value: "C.UTF-8"}},
		System:    []slurm.EnvVar{{Name: "TRAINING_ID", Value: "1"}, {Name: "DATASET_ID", Value: "7"}},
		Env:       env,
		Git:       slurm.GitSource{URL: g.privateRepo, Branch: "main"},
		Image:     g.image,
		Command:   "python3 train.py",
		JobDir:    job,
		// The parent's output is bound read-only at /kqi/parent.
		Inputs: []slurm.Bind{{Source: parent, Target: "/kqi/parent"}},
	}
	script, err := slurm.Render(spec, slurm.Bubblewrap{ImageRoot: g.imageRoot})
	if err != nil {
		t.Fatal(err)
	}
	write(spec.Path(slurm.ScriptFile), script, 0o644)

	u, err := user.Lookup(g.user)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	}); err != nil {
		t.Fatal(err)
	}
	return spec, script
}

// sbatchWait submits the script as the service account and waits for the
// job to end, returning its id and sbatch's exit status (the job's).
func (g devGit) sbatchWait(t *testing.T, spec slurm.JobSpec) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "runuser", "-u", g.user, "--", "sbatch", "--parsable", "--wait", spec.Path(slurm.ScriptFile))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	id, _, _ := strings.Cut(strings.TrimSpace(string(out)), ";")
	if id != "" {
		cancelAtEnd(t, id)
	}
	var exit *exec.ExitError
	switch {
	case err == nil:
		return id, 0
	case errors.As(err, &exit) && id != "":
		return id, exit.ExitCode()
	default:
		t.Fatalf("sbatch %s: %v\nstdout: %s\nstderr: %s", spec.Path(slurm.ScriptFile), err, out, stderr.String())
		return "", 0
	}
}

func readText(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSampleModelTrainsInTheDevImage is issue 5's training path end to end
// below the portal: a real sbatch runs the rendered script, which clones the
// private sample repository with the token from the secrets file and runs
// `python3 train.py` in the dev image with bubblewrap.
func TestSampleModelTrainsInTheDevImage(t *testing.T) {
	g := requireDevGit(t)
	commit := strings.Fields(lsRemoteWithToken(t, g))[0]

	t.Run("completes", func(t *testing.T) {
		t.Parallel()
		spec, script := g.sampleTraining(t, "train-ok", []slurm.EnvVar{{Name: "EPOCHS", Value: "2"}, {Name: "SLEEP_SECONDS", Value: "0.1"}})
		id, code := g.sbatchWait(t, spec)
		log := readText(t, spec.Path(slurm.LogFile))
		if code != 0 {
			t.Fatalf("job %s exited %d, want 0; log:\n%s", id, code, log)
		}
		t.Logf("job %s log:\n%s", id, log)
		if got := readText(t, spec.Path(slurm.ExitCodeFile)); got != "0\n" {
			t.Errorf("exit_code = %q, want 0", got)
		}
		if got := strings.TrimSpace(readText(t, spec.Path(slurm.CommitFile))); got != commit {
			t.Errorf("checked out %s, want the private main %s", got, commit)
		}
		for _, want := range []string{
			"cloning " + g.privateRepo + " (branch main)",
			"sample model: python 3",
			"read 2 files, ",
			"parent: 1 files in /kqi/parent",
			"epoch 1/2 ", "epoch 2/2 ",
			"the command exited with code 0",
		} {
			if !strings.Contains(log, want) {
				t.Errorf("log lacks %q:\n%s", want, log)
			}
		}

		output := spec.Path(slurm.OutputDir)
		total := 0
		for _, content := range sampleInput {
			total += len(content)
		}
		if got := readText(t, filepath.Join(output, "value.txt")); got != strconv.Itoa(total)+"\n" {
			t.Errorf("value.txt = %q, want the %d input bytes", got, total)
		}
		if got := strings.Count(readText(t, filepath.Join(output, "metrics.csv")), "\n"); got != 3 {
			t.Errorf("metrics.csv has %d lines, want a header and 2 epochs", got)
		}
		var model struct {
			Input map[string]struct {
				Files, Bytes int
			}
			InputBytes int `json:"input_bytes"`
			Parent     struct {
				Model struct {
					InputBytes int `json:"input_bytes"`
				}
			}
			TrainingID string `json:"training_id"`
		}
		if err := json.Unmarshal([]byte(readText(t, filepath.Join(output, "model.json"))), &model); err != nil {
			t.Fatalf("model.json: %v", err)
		}
		if model.InputBytes != total || model.Input["training"].Files != 2 || model.Input["validation"].Files != 1 ||
			model.Input["testing"].Files != 1 || model.Parent.Model.InputBytes != 12345 || model.TrainingID != "1" {
			t.Errorf("model.json = %+v; want 2/1/1 files per area, %d bytes, the parent's 12345, training 1", model, total)
		}

		gitConfig := readText(t, filepath.Join(spec.Path(slurm.GitDir), ".git", "config"))
		for what, text := range map[string]string{"script": script, "log": log, ".git/config": gitConfig} {
			if strings.Contains(text, g.token) {
				t.Errorf("the Git token appears in the %s", what)
			}
		}
		if !strings.Contains(script, g.imageRoot+"/local/python/3") {
			t.Errorf("the script does not run the dev image's root filesystem %s/local/python/3", g.imageRoot)
		}
	})

	t.Run("exit code", func(t *testing.T) {
		t.Parallel()
		spec, _ := g.sampleTraining(t, "train-fail", []slurm.EnvVar{{Name: "EPOCHS", Value: "1"}, {Name: "EXIT_CODE", Value: "2"}})
		id, code := g.sbatchWait(t, spec)
		log := readText(t, spec.Path(slurm.LogFile))
		if code != 2 {
			t.Errorf("job %s: sbatch --wait exited %d, want the command's 2; log:\n%s", id, code, log)
		}
		if got := readText(t, spec.Path(slurm.ExitCodeFile)); got != "2\n" {
			t.Errorf("exit_code = %q, want 2", got)
		}
		if state := run(t, 30*time.Second, "scontrol", "show", "job", "-o", id); !strings.Contains(state, "JobState=FAILED") || !strings.Contains(state, "ExitCode=2:0") {
			t.Errorf("scontrol show job %s: %s; want FAILED with exit code 2", id, state)
		}
		if _, err := os.Stat(filepath.Join(spec.Path(slurm.OutputDir), "model.json")); err != nil {
			t.Errorf("the failing run still writes its outputs first: %v", err)
		}
		if strings.Contains(log, g.token) {
			t.Error("the Git token appears in the log")
		}
	})
}

// The dev image has PIL: preprocessing scripts written for KAMONOHASHI
// resize images with it (portal/preprocess runs one in the image).
func TestDevImageHasPIL(t *testing.T) {
	g := requireDevGit(t)
	name, tag, _ := strings.Cut(g.image, ":")
	pil := filepath.Join(g.imageRoot, name, tag, "usr/lib/python3/dist-packages/PIL/Image.py")
	if _, err := os.Stat(pil); err != nil {
		t.Fatalf("the dev image %s has no PIL (%v): scripts/dev-cluster.sh up rebuilds it", g.image, err)
	}
}

// The second compute node is a node of its own: `dev-cluster.sh status`
// lists both, it is in both partitions at its own address, and a job on it
// sees its host name (not the portal host's) and writes to the shared
// filesystem.
func TestSecondNode(t *testing.T) {
	c := requireDevCluster(t)
	env := slurmtest.Integration(t, "KQI_DEV_NODE", "KQI_DEV_NODE2", "KQI_DEV_NODE2_ADDR")
	node1, node2 := env["KQI_DEV_NODE"], env["KQI_DEV_NODE2"]
	status := run(t, time.Minute, "./dev-cluster.sh", "status")
	for _, want := range []string{"node " + node1 + " at 127.0.0.1", "node " + node2 + " at " + env["KQI_DEV_NODE2_ADDR"]} {
		if !strings.Contains(status, want) {
			t.Errorf("dev-cluster.sh status lacks %q:\n%s", want, status)
		}
	}
	parts := strings.Fields(run(t, 30*time.Second, "sinfo", "-h", "-N", "-n", node2, "-o", "%P"))
	for _, want := range []string{c.cpuPartition + "*", c.gpuPartition} {
		if !slices.Contains(parts, want) {
			t.Errorf("node %s is in partitions %q, want %s too", node2, parts, want)
		}
	}
	if addr := run(t, 30*time.Second, "sinfo", "-h", "-N", "-n", node2, "-o", "%o"); !strings.Contains(addr, env["KQI_DEV_NODE2_ADDR"]) {
		t.Errorf("node %s address %q, want %s", node2, addr, env["KQI_DEV_NODE2_ADDR"])
	}
	hostname, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(c.jobDir(t), "out")
	id := c.asUser(t, 2*time.Minute, "sbatch", "--parsable", "--wait", "-J", "kqi-devcluster-test", "-p", c.cpuPartition,
		"--nodelist="+node2, "-t", "2", "-o", out, "--wrap", `echo "$(hostname) $SLURMD_NODENAME"`)
	cancelAtEnd(t, id)
	if got, want := readText(t, out), node2+" "+node2+"\n"; got != want || strings.HasPrefix(got, hostname+" ") {
		t.Errorf("job %s on %s printed %q, want %q (the portal host is %s)", id, node2, got, want, hostname)
	}
}
