package slurm

import (
	"errors"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Secret values the execution tests hand to the script; none may appear in
// the script text or the log.
const (
	testGitToken = "git-secret-6f1e2d"
	testKQIToken = "kqi-secret-9a8b7c"
	testRepoTok  = "repo-secret-3c4d5e"
)

// requireTools fails, not skips, when the tools the bubblewrap runtime
// needs are missing: the dev cluster and CI are meant to have them.
func requireTools(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"bwrap", "git", "bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is required for the bubblewrap runtime tests and was not found: %v (install bubblewrap and git)", tool, err)
		}
	}
}

// gitServer serves a one-commit repository over smart HTTP with git
// http-backend, refusing any request without the basic-auth password token,
// so the tests prove the clone really authenticates. It returns the
// repository URL and the commit id.
func gitServer(t *testing.T, token string) (string, string) {
	t.Helper()
	root := t.TempDir()
	work := filepath.Join(root, "work")
	runCmd(t, "", "git", "init", "-q", "-b", "main", work)
	writeFile(t, filepath.Join(work, "train.py"), "print('training')\n")
	runCmd(t, work, "git", "add", "train.py")
	runCmd(t, work, "git", "-c", "user.name=KQI Test", "-c", "user.email=test@example.org", "commit", "-q", "-m", "model")
	commit := strings.TrimSpace(runCmd(t, work, "git", "rev-parse", "HEAD"))
	runCmd(t, "", "git", "clone", "-q", "--bare", work, filepath.Join(root, "model.git"))

	gitPath, err := exec.LookPath("git")
	if err != nil {
		t.Fatal(err)
	}
	backend := &cgi.Handler{
		Path: gitPath,
		Args: []string{"http-backend"},
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pass, ok := r.BasicAuth(); !ok || pass != token {
			w.Header().Set("WWW-Authenticate", `Basic realm="kqi-test"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		backend.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/model.git", commit
}

func runCmd(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// jobFixture lays out a job directory the way the portal does (input,
// attachments, a parent's output, the secrets file) and returns a spec for
// it.
func jobFixture(t *testing.T, gitURL string) JobSpec {
	t.Helper()
	root := t.TempDir()
	job := filepath.Join(root, "job")
	parent := filepath.Join(root, "parent", "output")
	writeFile(t, filepath.Join(job, InputDir, "training", "7", "data.csv"), "x,y\n1,2\n")
	writeFile(t, filepath.Join(job, AttachDir, "notes.txt"), "attached\n")
	writeFile(t, filepath.Join(parent, "model.pt"), "weights\n")
	secrets, err := Secrets{GitToken: testGitToken, KQIToken: testKQIToken, ModelRepositoryToken: testRepoTok}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(job, SecretsFile), secrets, 0o600); err != nil {
		t.Fatal(err)
	}
	spec := baseSpec()
	spec.JobDir = job
	spec.Inputs = []Bind{{Source: parent, Target: "/kqi/parent"}}
	spec.Git = GitSource{URL: gitURL, Branch: "main"}
	spec.System = []EnvVar{{"TRAINING_ID", "42"}, {"DATASET_ID", "7"}, {"PARENT_ID", "41"}}
	spec.Env = []EnvVar{{"AWKWARD", "it's \"q\" $HOME `id` \\ ;\nline2"}}
	return spec
}

// runScript renders spec for the host image, runs it with bash as Slurm
// would, and returns the script text and bash's exit code.
func runScript(t *testing.T, spec JobSpec) (string, int) {
	t.Helper()
	script, err := Render(spec, Bubblewrap{})
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	path := filepath.Join(spec.JobDir, ScriptFile)
	writeFile(t, path, script)
	cmd := exec.Command("bash", path)
	cmd.Dir = spec.JobDir
	out, err := cmd.CombinedOutput()
	if len(out) > 0 {
		t.Errorf("the script wrote outside its log: %q", out)
	}
	var exit *exec.ExitError
	switch {
	case err == nil:
		return script, 0
	case errors.As(err, &exit):
		return script, exit.ExitCode()
	default:
		t.Fatalf("running the script: %v", err)
		return "", 0
	}
}

func TestBubblewrapRunsTheCommand(t *testing.T) {
	requireTools(t)
	url, commit := gitServer(t, testGitToken)
	spec := jobFixture(t, url)
	spec.Git.Commit = commit[:10]
	pwned := filepath.Join(t.TempDir(), "pwned")
	typed := `$HOME; rm -rf / 'x' "y" ` + "`z`" + ` $(touch ` + pwned + `) ` + "`touch " + pwned + "`"
	spec.Command = `set -e
cat >/kqi/output/out.txt <<'KQI_END'
` + typed + `
KQI_END
id -u >/kqi/output/uid
pwd >/kqi/output/pwd
ls /kqi >/kqi/output/layout
env -0 >/kqi/output/env
cat train.py >/kqi/output/train.py
cat /kqi/input/training/7/data.csv /kqi/parent/model.pt /kqi/attach/notes.txt >/kqi/output/read
for d in input parent attach git output; do
	if touch /kqi/$d/probe 2>/dev/null; then echo "$d rw"; else echo "$d ro"; fi
done >/kqi/output/modes
echo to-stdout; echo to-stderr >&2
exit 7`

	script, code := runScript(t, spec)
	if code != 7 {
		t.Errorf("script exit code = %d, want the command's 7\nlog:\n%s", code, readFile(t, spec.Path(LogFile)))
	}
	if got := readFile(t, spec.Path(ExitCodeFile)); got != "7\n" {
		t.Errorf("exit_code file = %q, want %q", got, "7\n")
	}
	if _, err := os.Stat(spec.Path(ErrorFile)); !os.IsNotExist(err) {
		t.Errorf("error file exists after a command that ran: %v", err)
	}
	if got := strings.TrimSpace(readFile(t, spec.Path(CommitFile))); got != commit {
		t.Errorf("commit file = %q, want %q", got, commit)
	}

	out := func(name string) string { return readFile(t, filepath.Join(spec.Path(OutputDir), name)) }
	if got := out("out.txt"); got != typed+"\n" {
		t.Errorf("the command did not run as typed:\n got %q\nwant %q", got, typed+"\n")
	}
	if _, err := os.Stat(pwned); !os.IsNotExist(err) {
		t.Errorf("text inside the quoted command ran: %s exists", pwned)
	}
	if got := out("uid"); got != "0\n" {
		t.Errorf("uid in the container = %q, want 0", got)
	}
	if got := out("pwd"); got != "/kqi/git\n" {
		t.Errorf("working directory = %q, want /kqi/git", got)
	}
	if got := out("layout"); got != "attach\ngit\ninput\noutput\nparent\n" {
		t.Errorf("/kqi holds %q", got)
	}
	if got := out("train.py"); got != "print('training')\n" {
		t.Errorf("/kqi/git/train.py = %q", got)
	}
	if got := out("read"); got != "x,y\n1,2\nweights\nattached\n" {
		t.Errorf("input, parent and attachments read as %q", got)
	}
	if got := out("modes"); got != "input ro\nparent ro\nattach ro\ngit rw\noutput rw\n" {
		t.Errorf("bind modes:\n%s", got)
	}

	env := map[string]string{}
	for _, kv := range strings.Split(strings.TrimSuffix(out("env"), "\x00"), "\x00") {
		name, value, _ := strings.Cut(kv, "=")
		env[name] = value
	}
	for name, want := range map[string]string{
		"TRAINING_ID": "42", "PARENT_ID": "41", "LC_ALL": "C.UTF-8", "COLUMNS": "200",
		"AWKWARD": spec.Env[0].Value, "PYTHONUNBUFFERED": "1",
		"KQI_TOKEN": testKQIToken, "MODEL_REPOSITORY_TOKEN": testRepoTok, "HOME": "/root",
	} {
		if env[name] != want {
			t.Errorf("container env %s = %q, want %q", name, env[name], want)
		}
	}
	for name := range env {
		if strings.HasPrefix(name, "GIT_") || strings.HasPrefix(name, "KQI_GIT") {
			t.Errorf("clone-only variable %s leaked into the container", name)
		}
	}

	log := readFile(t, spec.Path(LogFile))
	for _, want := range []string{"[kqi] ", "cloning " + url, "model repository at commit " + commit, "to-stdout", "to-stderr", "the command exited with code 7"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	gitConfig := readFile(t, filepath.Join(spec.Path(GitDir), ".git", "config"))
	for _, secret := range []string{testGitToken, testKQIToken, testRepoTok} {
		for what, text := range map[string]string{"script": script, "log": log, ".git/config": gitConfig} {
			if strings.Contains(text, secret) {
				t.Errorf("secret %q appears in the %s", secret, what)
			}
		}
	}
}

// A dataset staged once for all its jobs, elsewhere on the shared
// filesystem, is what the command sees at /kqi/input, read-only; the job's
// own input/ is not bound.
func TestBubblewrapBindsASharedInput(t *testing.T) {
	requireTools(t)
	spec := jobFixture(t, "")
	spec.Git = GitSource{}
	shared := filepath.Join(t.TempDir(), "datasets", "3", "input")
	writeFile(t, filepath.Join(shared, "training", "7", "data.csv"), "shared\n")
	spec.InputSource = shared
	spec.Command = `cat /kqi/input/training/7/data.csv >/kqi/output/read
if touch /kqi/input/probe 2>/dev/null; then echo rw; else echo ro; fi >>/kqi/output/read`
	if _, code := runScript(t, spec); code != 0 {
		t.Fatalf("script exit %d\nlog:\n%s", code, readFile(t, spec.Path(LogFile)))
	}
	if got := readFile(t, filepath.Join(spec.Path(OutputDir), "read")); got != "shared\nro\n" {
		t.Errorf("the command read %q from /kqi/input, want the shared tree's file, read-only", got)
	}
	if _, err := os.Stat(filepath.Join(shared, "probe")); !os.IsNotExist(err) {
		t.Errorf("the command wrote into the shared tree: %v", err)
	}
}

func TestBubblewrapCloneFailureIsAnError(t *testing.T) {
	requireTools(t)
	url, _ := gitServer(t, testGitToken)
	for name, tc := range map[string]struct {
		git   GitSource
		token string
		cause string
	}{
		"wrong token":    {GitSource{URL: url}, "not-the-token", "clone failed: git clone " + url},
		"missing commit": {GitSource{URL: url, Commit: "deadbeef"}, testGitToken, "clone failed: commit deadbeef not found"},
		"missing branch": {GitSource{URL: url, Branch: "nope"}, testGitToken, "clone failed: git clone " + url},
	} {
		t.Run(name, func(t *testing.T) {
			spec := jobFixture(t, url)
			spec.Git = tc.git
			spec.Command = "touch /kqi/output/ran"
			secrets, err := Secrets{GitToken: tc.token}.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, spec.Path(SecretsFile), string(secrets))

			_, code := runScript(t, spec)
			if code != 1 {
				t.Errorf("script exit code = %d, want 1", code)
			}
			cause := readFile(t, spec.Path(ErrorFile))
			if !strings.HasPrefix(cause, tc.cause) {
				t.Errorf("error file = %q, want it to start with %q", cause, tc.cause)
			}
			if _, err := os.Stat(spec.Path(ExitCodeFile)); !os.IsNotExist(err) {
				t.Errorf("exit_code written although the command never ran (%v)", err)
			}
			if _, err := os.Stat(filepath.Join(spec.Path(OutputDir), "ran")); !os.IsNotExist(err) {
				t.Errorf("the command ran after a failed clone")
			}
			if log := readFile(t, spec.Path(LogFile)); strings.Contains(log, tc.token) {
				t.Errorf("the token appears in the log:\n%s", log)
			}
			got, err := Decide(Observation{States: []string{"FAILED"}, ExitCode: 1, Record: mustRecord(t, spec.JobDir)})
			if err != nil || got.Status != StatusError || got.Cause != (Cause{CauseCloneFailed, strings.TrimPrefix(strings.TrimSpace(cause), "clone failed: ")}) {
				t.Errorf("Decide = %+v, %v; want error with the cause %q", got, err, cause)
			}
		})
	}
}

func TestBubblewrapMissingImageIsAnError(t *testing.T) {
	requireTools(t)
	spec := jobFixture(t, "")
	spec.Git = GitSource{}
	spec.Image = "nothing-here:1"
	script, err := Render(spec, Bubblewrap{ImageRoot: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(spec.JobDir, ScriptFile)
	writeFile(t, path, script)
	err = exec.Command("bash", path).Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Errorf("script ended with %v, want exit status 1", err)
	}
	if cause := readFile(t, spec.Path(ErrorFile)); !strings.HasPrefix(cause, "image failed: ") {
		t.Errorf("error file = %q, want an image failure", cause)
	}
}

// TestBubblewrapAsUnprivilegedUser runs a job as nobody, as Slurm runs jobs
// as the submitting user: the user namespace still gives uid 0 inside, and
// the files the command writes belong to the user outside.
func TestBubblewrapAsUnprivilegedUser(t *testing.T) {
	requireTools(t)
	if os.Geteuid() != 0 {
		t.Log("already unprivileged; the other tests cover this case")
		return
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Fatalf("setpriv (util-linux) is needed to drop privileges: %v", err)
	}
	spec := jobFixture(t, "")
	spec.Git = GitSource{}
	spec.Command = "id -u >/kqi/output/uid; test ! -w /kqi/input; echo ok >/kqi/output/ok"
	script, err := Render(spec, Bubblewrap{})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(spec.JobDir, ScriptFile)
	writeFile(t, path, script)
	// Hand the job directory to nobody and open the temporary parents.
	for dir := spec.JobDir; dir != "/" && dir != os.TempDir(); dir = filepath.Dir(dir) {
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := filepath.Walk(spec.JobDir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, 65534, 65534)
	}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "bash", path)
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "TMPDIR=" + spec.JobDir}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("script as nobody: %v %s\nlog:\n%s", err, out, readFile(t, spec.Path(LogFile)))
	}
	if got := readFile(t, filepath.Join(spec.Path(OutputDir), "uid")); got != "0\n" {
		t.Errorf("uid inside = %q, want 0", got)
	}
	var st os.FileInfo
	if st, err = os.Stat(filepath.Join(spec.Path(OutputDir), "ok")); err != nil {
		t.Fatal(err)
	}
	if uid := fileUID(st); uid != 65534 {
		t.Errorf("output file owned by uid %d outside, want 65534", uid)
	}
	if got := readFile(t, spec.Path(ExitCodeFile)); got != "0\n" {
		t.Errorf("exit_code = %q", got)
	}
}

func mustRecord(t *testing.T, dir string) Record {
	t.Helper()
	r, err := ReadRecord(dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// fileUID is the owner of a file as the host sees it.
func fileUID(fi os.FileInfo) int {
	return int(fi.Sys().(*syscall.Stat_t).Uid)
}

func TestBubblewrapRootFS(t *testing.T) {
	b := Bubblewrap{ImageRoot: "/srv/images"}
	for ref, want := range map[string]string{
		HostImage:                             "",
		"python:3.12":                         "/srv/images/python/3.12",
		"python":                              "/srv/images/python/latest",
		"docker://python:3.12":                "/srv/images/python/3.12",
		"registry.example.org/team/name":      "/srv/images/registry.example.org/team/name/latest",
		"localhost:5000/name:v1":              "/srv/images/localhost:5000/name/v1",
		"name@sha256:0123abcd":                "/srv/images/name/sha256:0123abcd",
		"registry.example.org/ml/torch:2.4-1": "/srv/images/registry.example.org/ml/torch/2.4-1",
	} {
		got, err := b.RootFS(ref)
		if err != nil || got != want {
			t.Errorf("RootFS(%q) = %q, %v; want %q", ref, got, err, want)
		}
	}
	for _, ref := range []string{"", "../etc", "a/../../etc", "./x", "a//b", "name:", "name:../x", "a b", "a/b:1/c", "x;id", "/abs"} {
		if got, err := b.RootFS(ref); err == nil {
			t.Errorf("RootFS(%q) = %q, want an error", ref, got)
		}
	}
	if _, err := (Bubblewrap{}).RootFS("python:3.12"); err == nil {
		t.Error("an image without an image root was accepted")
	}
	if _, err := (Bubblewrap{ImageRoot: "relative"}).RootFS("python:3.12"); err == nil {
		t.Error("a relative image root was accepted")
	}
}

// TestBubblewrapStopsOnSIGTERM stops a running job the way scancel and the
// time limit do, with SIGTERM to its processes: the script must end promptly
// with 143, say so in the log, leave no exit code (the status comes from
// Slurm's CANCELLED or TIMEOUT) and remove its temporary files.
func TestBubblewrapStopsOnSIGTERM(t *testing.T) {
	requireTools(t)
	spec := jobFixture(t, "")
	spec.Git = GitSource{}
	spec.Command = "touch /kqi/output/started; sleep 60; touch /kqi/output/finished"
	script, err := Render(spec, Bubblewrap{})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, spec.Path(ScriptFile), script)
	tmp := t.TempDir()
	cmd := exec.Command("bash", spec.Path(ScriptFile))
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	started := filepath.Join(spec.Path(OutputDir), "started")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(started); err == nil {
			break
		}
		if time.Now().After(deadline) {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			t.Fatalf("the command never started; log:\n%s", readFile(t, spec.Path(LogFile)))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		t.Fatal("the script did not stop within 10s of SIGTERM")
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 143 {
		t.Errorf("script ended with %v, want exit status 143", err)
	}
	if log := readFile(t, spec.Path(LogFile)); !strings.Contains(log, "stopped by SIGTERM") {
		t.Errorf("log does not say the job was stopped:\n%s", log)
	}
	if _, err := os.Stat(spec.Path(ExitCodeFile)); !os.IsNotExist(err) {
		t.Errorf("exit_code written for a stopped job (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(spec.Path(OutputDir), "finished")); !os.IsNotExist(err) {
		t.Error("the command went on after SIGTERM")
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}
