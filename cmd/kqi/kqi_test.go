package main_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"kqi/portal/api/apitypes"
	"kqi/portal/portaltest"
)

const pw = "correct-horse-9"

// kqiBin is the kqi binary, built once for the package's tests.
var kqiBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kqi-bin-")
	if err != nil {
		panic(err)
	}
	kqiBin = filepath.Join(dir, "kqi")
	if out, err := exec.Command("go", "build", "-o", kqiBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building kqi: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// cli runs the built kqi with a private config directory.
type cli struct {
	t   testing.TB
	env []string
}

func newCLI(t testing.TB, extra ...string) *cli {
	home := t.TempDir()
	return &cli{t: t, env: append([]string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"), "PATH=" + os.Getenv("PATH")}, extra...)}
}

type result struct {
	stdout, stderr string
	code           int
}

func (c *cli) cmd(ctx context.Context, stdin string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, kqiBin, args...)
	cmd.Env = c.env
	cmd.Stdin = strings.NewReader(stdin)
	return cmd
}

// run runs kqi to its end (3 minutes at most) and returns what it said.
func (c *cli) run(stdin string, args ...string) result {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := c.cmd(ctx, stdin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatalf("kqi %v: %v", args, err)
	}
	return result{out.String(), errb.String(), code}
}

// ok runs kqi and fails the test unless it exits 0.
func (c *cli) ok(args ...string) string {
	c.t.Helper()
	r := c.run("", args...)
	if r.code != 0 {
		c.t.Fatalf("kqi %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

func (c *cli) json(out any, args ...string) {
	c.t.Helper()
	raw := c.ok(append(args, "--json")...)
	if err := json.Unmarshal([]byte(raw), out); err != nil {
		c.t.Fatalf("kqi %v --json: %v\n%s", args, err, raw)
	}
}

func (c *cli) id(args ...string) string {
	c.t.Helper()
	var v struct{ ID int64 }
	c.json(&v, args...)
	return strconv.FormatInt(v.ID, 10)
}

func randomFile(t *testing.T, dir, name string, size int) []byte {
	b := make([]byte, size)
	rand.Read(b)
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return b
}

func sameFile(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%s: %d bytes, want %d identical (%v)", path, len(got), len(want), err)
	}
}

// Usage errors need no portal: exit 2 with the usage, never 1.
func TestUsage(t *testing.T) {
	c := newCLI(t)
	for _, args := range [][]string{{}, {"nonsense"}, {"training"}, {"training", "fly"}, {"training", "create"},
		{"training", "create", "--cpu", "x"}, {"data", "upload", "only-a-name"}, {"data", "show", "abc"}, {"dataset", "create"},
		{"inference", "create", "--name", "i", "--dataset", "1", "--command", "true"}, {"preprocess", "upload", "1", "f"}, {"data", "list", "--bogus"}} {
		r := c.run("", args...)
		if r.code != 2 || r.stderr == "" || strings.Contains(r.stderr, "goroutine") {
			t.Errorf("kqi %v: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}
	if r := c.run("", "training", "create", "--help"); r.code != 0 || !strings.Contains(r.stderr, "--from") {
		t.Errorf("--help: %d %q", r.code, r.stderr)
	}
	if r := c.run("", "--version"); r.code != 0 || !strings.HasPrefix(r.stdout, "kqi ") {
		t.Errorf("--version: %d %q", r.code, r.stdout)
	}
	if r := c.run("", "data", "list"); r.code != 1 || !strings.Contains(r.stderr, "not logged in") {
		t.Errorf("not logged in: %d %q", r.code, r.stderr)
	}
}

// A server that is down is a clear one-line error at once, not a hang.
func TestServerDown(t *testing.T) {
	c := newCLI(t, "KQI_SERVER=http://127.0.0.1:1", "KQI_TOKEN=x")
	start := time.Now()
	r := c.run("", "data", "list")
	if r.code != 1 || !strings.Contains(r.stderr, "cannot reach http://127.0.0.1:1") || strings.Count(r.stderr, "\n") != 1 || time.Since(start) > 20*time.Second {
		t.Fatalf("server down: %d %q after %v", r.code, r.stderr, time.Since(start))
	}
}

func TestCLIOnTheCluster(t *testing.T) {
	env := portaltest.New(t, portaltest.WithCluster, portaltest.WithShell)
	sshAddr, _ := env.StartSSH(t)
	repo := os.Getenv("KQI_DEV_GIT_PUBLIC_REPO")
	if repo == "" {
		t.Fatal("KQI_DEV_GIT_PUBLIC_REPO is not set: run scripts/dev-cluster.sh up")
	}
	env.Tenant(t, "lab")
	env.Tenant(t, "other")
	env.User(t, "alice", pw, false, "lab", "other")
	// The portal's poller, as in production (tests drive it).
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(300 * time.Millisecond):
				env.Jobs.Poll(context.Background())
			}
		}
	}()
	t.Cleanup(func() { close(stop); wg.Wait() })

	c := newCLI(t, "KQI_SSH="+sshAddr)
	home := strings.TrimPrefix(c.env[0], "HOME=")
	if r := c.run(pw+"\n", "login", "--server", env.URL, "--user", "alice", "--tenant", "lab", "--password-stdin"); r.code != 0 {
		t.Fatalf("login: %d %s", r.code, r.stderr)
	}
	sessionFile := filepath.Join(home, ".config", "kqi", "session.json")
	if info, err := os.Stat(sessionFile); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("session file: %v %v", info, err)
	}
	if out := c.ok("whoami"); !strings.HasPrefix(out, "alice in tenant lab") {
		t.Errorf("whoami: %q", out)
	}
	if out := c.ok("tenant", "list"); !strings.Contains(out, "* ") || !strings.Contains(out, "other") {
		t.Errorf("tenant list: %q", out)
	}
	oldLab := token(t, sessionFile)
	for _, tenant := range []string{"other", "lab"} {
		if r := c.run(pw+"\n", "tenant", "switch", tenant, "--password-stdin"); r.code != 0 {
			t.Fatalf("tenant switch %s: %d %s", tenant, r.code, r.stderr)
		}
		if out := c.ok("whoami"); !strings.HasPrefix(out, "alice in tenant "+tenant) {
			t.Errorf("after switching to %s: %q", tenant, out)
		}
	}
	if r := newCLI(t, "KQI_SERVER="+env.URL, "KQI_TOKEN="+oldLab).run("", "whoami"); r.code != 1 {
		t.Errorf("the token before the switch still works: %d", r.code)
	}

	dir := t.TempDir()
	files := map[string][]byte{"f1.bin": randomFile(t, dir, "f1.bin", 3<<20), "f2.bin": randomFile(t, dir, "f2.bin", 1<<20), "f 3.txt": randomFile(t, dir, "f 3.txt", 1000)}
	paths := []string{filepath.Join(dir, "f1.bin"), filepath.Join(dir, "f2.bin"), filepath.Join(dir, "f 3.txt")}

	var dataID string
	t.Run("upload draws a progress bar on a terminal only", func(t *testing.T) {
		out, drawn := onTerminal(t, c, append([]string{"data", "upload", "three", "--tag", "cli", "--memo", "from kqi"}, paths...)...)
		dataID = strings.TrimSpace(out)
		// A frame with the rate and elapsed:ETA while it runs, and 100% at the end.
		if !regexp.MustCompile(`upload\S*\s+\d+% \|[^|]*\| \([0-9.]+ [kMG]?B/s\) \[\d+s:\d+s\]`).MatchString(drawn) ||
			!regexp.MustCompile(`upload\S*\s+100% \|█+\|`).MatchString(drawn) {
			t.Errorf("no progress bar with rate and ETA on the terminal: %q", drawn)
		}
		if !strings.Contains(drawn, "\x1b[36m") {
			t.Errorf("no colour on the terminal: %q", drawn)
		}
		plain := *c
		plain.env = append(append([]string{}, c.env...), "NO_COLOR=1")
		if _, drawn := onTerminal(t, &plain, "data", "upload", "plain", paths[2]); strings.Contains(drawn, "\x1b[") || !strings.Contains(drawn, "100%") {
			t.Errorf("NO_COLOR: %q", drawn)
		}
		piped := c.run("", "data", "upload", "piped", paths[2])
		if piped.code != 0 || strings.Contains(piped.stderr, "%") || strings.Contains(piped.stderr, "\r") {
			t.Errorf("piped upload drew a bar: %d %q", piped.code, piped.stderr)
		}
	})
	var d apitypes.Data
	c.json(&d, "data", "show", dataID)
	if d.FileCount != 3 || d.Memo != "from kqi" || len(d.Tags) != 1 {
		t.Fatalf("datum: %+v", d)
	}
	down := t.TempDir()
	c.ok("data", "download", dataID, "-o", down)
	for name, want := range files {
		sameFile(t, filepath.Join(down, name), want)
	}
	ds := c.id("dataset", "create", "ds", "--training", dataID)

	first := c.id("training", "create", "--name", "first", "--dataset", ds, "--partition", "cpu", "--env", "GREETING=hi",
		"--memo", "copied memo", "--command", "echo $GREETING > /kqi/output/greeting.txt")
	if r := c.run("", "training", "wait", first); r.code != 0 || r.stdout != "completed\n" {
		t.Fatalf("wait completed: %d %q %q", r.code, r.stdout, r.stderr)
	}

	// --from copies every setting; the flags given override them.
	follow := `for i in $(seq 1 40); do echo line-$i; sleep 0.1; done; mkdir -p /kqi/output/sub; cp /kqi/input/training/*/f2.bin /kqi/output/sub/`
	second := c.id("training", "create", "--from", first, "--name", "second", "--command", follow, "--parent", first)
	var tr apitypes.Job
	c.json(&tr, "training", "show", second)
	if tr.Memo != "copied memo" || len(tr.Env) != 1 || tr.Env[0].Value != "hi" || tr.Partition != "cpu" || strconv.FormatInt(tr.DatasetID, 10) != ds || tr.Command != follow || tr.Name != "second" || tr.ParentID == nil || strconv.FormatInt(*tr.ParentID, 10) != first {
		t.Errorf("--from: %+v", tr)
	}
	start := time.Now()
	logs := c.ok("training", "logs", second, "-f")
	var want strings.Builder
	for i := 1; i <= 40; i++ {
		fmt.Fprintf(&want, "line-%d\n", i)
	}
	if !strings.Contains(logs, want.String()) {
		t.Errorf("logs -f did not see every line exactly once, in order:\n%s", logs)
	}
	c.json(&tr, "training", "show", second)
	if !tr.Ended() {
		t.Errorf("logs -f ended after %v with the job %s", time.Since(start), tr.Status)
	}
	if r := c.run("", "training", "wait", second); r.code != 0 {
		t.Fatalf("wait: %d %s", r.code, r.stderr)
	}
	out := t.TempDir()
	c.ok("training", "download", second, "-o", out)
	sameFile(t, filepath.Join(out, "sub", "f2.bin"), files["f2.bin"])
	one := t.TempDir()
	c.ok("training", "download", second, "sub/f2.bin", "-o", one)
	sameFile(t, filepath.Join(one, "f2.bin"), files["f2.bin"])
	if script := c.ok("training", "script", second); !strings.Contains(script, "#SBATCH") {
		t.Errorf("script: %q", script)
	}

	failed := c.id("training", "create", "--name", "fails", "--dataset", ds, "--partition", "cpu", "--command", "exit 3")
	if r := c.run("", "training", "wait", failed); r.code != 1 || !strings.HasPrefix(r.stdout, "failed") {
		t.Errorf("wait failed: %d %q", r.code, r.stdout)
	}

	inf := c.id("inference", "create", "--name", "eval", "--dataset", ds, "--partition", "cpu", "--parent", first+","+second,
		"--command", "ls /kqi/parent > /kqi/output/parents.txt && echo 0.5 > /kqi/output/value.txt")
	if r := c.run("", "inference", "wait", inf); r.code != 0 {
		t.Fatalf("inference wait: %d %s", r.code, r.stderr)
	}
	var in apitypes.Inference
	c.json(&in, "inference", "show", inf)
	if fmt.Sprint(in.ParentIDs) != "["+first+" "+second+"]" || in.Value == nil || *in.Value != 0.5 {
		t.Errorf("inference: parents %v value %v", in.ParentIDs, in.Value)
	}

	t.Run("preprocess run and external upload", func(t *testing.T) {
		pre := c.id("preprocess", "create", "--name", "copy", "--image", "host", "--repository", repo,
			"--command", `mkdir -p /kqi/output/r && cp /kqi/input/$DATA_ID/f2.bin /kqi/output/r/`)
		c.ok("preprocess", "run", pre, "--data", dataID, "--partition", "cpu")
		deadline := time.Now().Add(3 * time.Minute)
		var h apitypes.History
		for {
			c.json(&h, "preprocess", "history", pre, dataID)
			if h.Status != "queued" && h.Status != "running" && h.Status != "submitting" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("preprocess still %s", h.Status)
			}
			time.Sleep(time.Second)
		}
		if h.Status != "completed" || len(h.OutputDataIDs) != 1 {
			t.Fatalf("preprocess run: %+v", h)
		}
		ext := c.id("preprocess", "create", "--name", "external", "--command", "true")
		var done apitypes.History
		c.json(&done, "preprocess", "upload", ext, "--data", dataID, "--name", "outside", paths[0])
		if done.Status != "completed" || len(done.OutputDataIDs) != 1 || !done.External {
			t.Fatalf("external upload: %+v", done)
		}
		got := t.TempDir()
		c.ok("data", "download", strconv.FormatInt(done.OutputDataIDs[0], 10), "-o", got)
		sameFile(t, filepath.Join(got, "f1.bin"), files["f1.bin"])
	})

	t.Run("shell", func(t *testing.T) {
		long := c.id("training", "create", "--name", "sleeper", "--dataset", ds, "--partition", "cpu", "--command", "sleep 120")
		defer c.run("", "training", "stop", long)
		deadline := time.Now().Add(2 * time.Minute)
		for {
			var j apitypes.Job
			c.json(&j, "training", "show", long)
			if j.Status == "running" {
				break
			}
			if j.Ended() || time.Now().After(deadline) {
				t.Fatalf("sleeper: %s", j.Status)
			}
			time.Sleep(time.Second)
		}
		if r := c.run("", "shell", long, "--", "echo", "ok"); r.code != 0 || r.stdout != "ok\n" {
			t.Fatalf("shell: %d %q %q", r.code, r.stdout, r.stderr)
		}
		if r := c.run("", "training", "shell", long, "--", "exit 7"); r.code != 7 {
			t.Errorf("shell exit code: %d %q", r.code, r.stderr)
		}
		var keys apitypes.List[apitypes.SSHKey]
		if err := json.Unmarshal([]byte(httpGet(t, env.URL+"/api/v1/me/ssh-keys", token(t, sessionFile))), &keys); err != nil || len(keys.Items) != 0 {
			t.Errorf("the shell's keys were left registered: %v %v", keys.Items, err)
		}
	})

	t.Run("bad input", func(t *testing.T) {
		for _, args := range [][]string{{"data", "show", "999999"}, {"training", "show", "999999"}, {"training", "logs", "999999"},
			{"inference", "wait", first}, {"dataset", "delete", "999999"}, {"preprocess", "history", "999999"}} {
			r := c.run("", args...)
			if r.code != 1 || strings.Count(r.stderr, "\n") != 1 || !strings.HasPrefix(r.stderr, "kqi: ") {
				t.Errorf("kqi %v: exit %d, stderr %q", args, r.code, r.stderr)
			}
		}
		if r := c.run("", "training", "create", "--name", "BAD NAME", "--dataset", ds, "--command", "true"); r.code != 1 || !strings.Contains(r.stderr, "name") {
			t.Errorf("a refused create: %d %q", r.code, r.stderr)
		}
	})

	t.Run("a cut upload registers nothing", func(t *testing.T) {
		var before apitypes.List[apitypes.Data]
		c.json(&before, "data", "list")
		big := filepath.Join(t.TempDir(), "big.bin")
		f, _ := os.Create(big)
		f.Truncate(2 << 30)
		f.Close()
		cmd := c.cmd(context.Background(), "", "data", "upload", "big", big)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1500 * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if cmd.ProcessState.ExitCode() != -1 {
			t.Fatalf("the upload ended (exit %d) before it was cut", cmd.ProcessState.ExitCode())
		}
		time.Sleep(time.Second)
		var after apitypes.List[apitypes.Data]
		c.json(&after, "data", "list")
		if after.Total != before.Total {
			t.Fatalf("a cut upload registered data: %d → %d", before.Total, after.Total)
		}
	})

	oldToken := token(t, sessionFile)
	c.ok("logout")
	if _, err := os.Stat(sessionFile); !os.IsNotExist(err) {
		t.Errorf("the session file is still there: %v", err)
	}
	again := newCLI(t, "KQI_SERVER="+env.URL, "KQI_TOKEN="+oldToken)
	if r := again.run("", "whoami"); r.code != 1 || !strings.Contains(r.stderr, "kqi: ") {
		t.Errorf("the token works after logout: %d %q", r.code, r.stderr)
	}
}

func token(t *testing.T, sessionFile string) string {
	raw, err := os.ReadFile(sessionFile)
	if err != nil {
		t.Fatal(err)
	}
	var s struct{ Token string }
	json.Unmarshal(raw, &s)
	return s.Token
}

func httpGet(t *testing.T, url, tok string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// onTerminal runs kqi with its standard error on a pseudo-terminal and
// returns its standard output and what it drew on the terminal.
func onTerminal(t *testing.T, c *cli, args ...string) (string, string) {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	cmd := c.cmd(context.Background(), "", args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, tty
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	var drawn bytes.Buffer
	copied := make(chan struct{})
	go func() { io.Copy(&drawn, ptmx); close(copied) }()
	err = cmd.Wait()
	<-copied // the child's end of the terminal is closed: everything drawn has been read
	if err != nil {
		t.Fatalf("kqi %v: %v %s", args, err, drawn.String())
	}
	return out.String(), drawn.String()
}
