package slurm

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// startJob runs the script Render makes of spec with rt in the background,
// the job's command waiting for stop (a path as the command sees it) and
// at most 60 s, and returns once the container record is written. hostStop
// is the same file as the test sees it; the job is ended at cleanup.
func startJob(t *testing.T, spec JobSpec, rt Runtime, stop, hostStop string) {
	t.Helper()
	spec.Command = "for i in $(seq 1200); do [ -e " + stop + " ] && break; sleep 0.05; done"
	script, err := Render(spec, rt)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, spec.Path(ScriptFile), script)
	cmd := exec.Command("bash", spec.Path(ScriptFile))
	cmd.Dir = spec.JobDir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		os.WriteFile(hostStop, nil, 0o644)
		<-done
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(spec.Path(ContainerFile)); err == nil {
			return
		}
		select {
		case err := <-done:
			t.Fatalf("the job ended before its container was recorded: %v\nlog:\n%s", err, readFile(t, spec.Path(LogFile)))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no container record after 20 s\nlog:\n%s", readFile(t, spec.Path(LogFile)))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// attach runs the program srun would run on the node for req, with the
// job directory, terminal type and command of req, and returns its output
// and exit status.
func attach(t *testing.T, req ShellRequest) (string, int) {
	t.Helper()
	return attachTyping(t, req, "")
}

// attachTyping is attach with what the user types as the shell's input.
func attachTyping(t *testing.T, req ShellRequest, typed string) (string, int) {
	t.Helper()
	argv, err := ShellArgs(req)
	if err != nil {
		t.Fatal(err)
	}
	// Past srun and its options: bash -c attachProgram kqi-shell dir term cmd.
	i := len(argv) - 7
	if argv[i] != "bash" || argv[i+2] != attachProgram {
		t.Fatalf("ShellArgs does not end with the attach program: %q", argv)
	}
	cmd := exec.Command(argv[i], argv[i+1:]...)
	cmd.Stdin = strings.NewReader(typed)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &exit):
		return string(out), exit.ExitCode()
	}
	t.Fatal(err)
	return "", 0
}

func TestShellArgs(t *testing.T) {
	argv, err := ShellArgs(ShellRequest{JobID: "17", JobDir: "/shared/jobs/3", Command: "nvidia-smi", Term: "xterm-256color"})
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(argv, " ")
	for _, want := range []string{" kqi-shell 17 srun --overlap --quiet --job-name=kqi-shell --pty bash -c ", " kqi-shell /shared/jobs/3 xterm-256color nvidia-smi"} {
		if !strings.Contains(joined, want) {
			t.Errorf("shell command lacks %q:\n%q", want, argv)
		}
	}
	if argv, _ := ShellArgs(ShellRequest{JobID: "17", JobDir: "/j"}); strings.Contains(strings.Join(argv, " "), "--pty") {
		t.Errorf("a shell without a terminal asks for one: %q", argv)
	}
	for name, req := range map[string]ShellRequest{
		"job id":   {JobID: "17; id", JobDir: "/j"},
		"job dir":  {JobID: "17", JobDir: "relative"},
		"terminal": {JobID: "17", JobDir: "/j", Term: "xterm'$(id)"},
	} {
		if _, err := ShellArgs(req); err == nil {
			t.Errorf("%s: accepted %+v", name, req)
		}
	}
}

func TestShellIntoBubblewrapJob(t *testing.T) {
	requireTools(t)
	spec := jobFixture(t, "")
	spec.Git = GitSource{}
	writeFile(t, filepath.Join(spec.Path(OutputDir), "x"), "from the job\n")
	stop := filepath.Join(spec.Path(OutputDir), "stop")
	startJob(t, spec, Bubblewrap{}, "/kqi/output/stop", stop)

	record := strings.TrimSpace(readFile(t, spec.Path(ContainerFile)))
	if fi, err := os.Stat(record); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("container record %s: %v, mode %v; want 0600", record, err, fi.Mode().Perm())
	}
	if strings.HasPrefix(record, spec.JobDir) {
		t.Errorf("the record with the secrets is on the shared filesystem: %s", record)
	}

	out, code := attach(t, ShellRequest{JobID: "1", JobDir: spec.JobDir,
		Command: `cat /kqi/output/x; id -u; echo "$TRAINING_ID $KQI_TOKEN $COLUMNS"; pwd; touch /kqi/input/no 2>/dev/null || echo ro; exit 3`})
	if code != 3 {
		t.Errorf("exit status %d, want the command's 3; output:\n%s", code, out)
	}
	if want := "from the job\n0\n42 " + testKQIToken + " 200\n/kqi/git\nro\n"; out != want {
		t.Errorf("shell output:\n%q\nwant\n%q", out, want)
	}

	// With a terminal, TERM is the client's and COLUMNS is not fixed.
	out, _ = attach(t, ShellRequest{JobID: "1", JobDir: spec.JobDir, Term: "xterm-256color", Command: `echo "$TERM ${COLUMNS-unset}"`})
	if out != "xterm-256color unset\n" {
		t.Errorf("with a terminal: %q", out)
	}

	os.WriteFile(stop, nil, 0o644)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(spec.Path(ContainerFile)); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the container record outlived the command")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // the EXIT trap removes the private directory
	if _, err := os.Stat(record); !os.IsNotExist(err) {
		t.Errorf("the private record outlived the job: %v", err)
	}
	out, code = attach(t, ShellRequest{JobID: "1", JobDir: spec.JobDir, Command: "true"})
	if code != 125 || !strings.Contains(out, "container is not running") {
		t.Errorf("after the job: status %d, %q; want 125 and a message", code, out)
	}
}

// TestShellIntoApptainerJob proves the shell starts the container the way
// the job did: apptainer exec with the job's binds, image and environment
// file (a stand-in apptainer records what it was given and runs the
// command on the host, without isolation).
func TestShellIntoApptainerJob(t *testing.T) {
	bin := fakeApptainer(t)
	rec := t.TempDir()
	t.Setenv("KQI_FAKE_APPTAINER_DIR", rec) // the job's and the shell's apptainer both record here
	spec := jobFixture(t, "")
	spec.Git = GitSource{}
	spec.Image = "docker://registry.example.org/ml/torch:2"
	startJob(t, spec, Apptainer{Binary: bin, Fakeroot: true}, filepath.Join(rec, "stop"), filepath.Join(rec, "stop"))
	// The stand-in records a call when it ends: the job's command is still
	// running, its image check (":", the same container) is recorded.
	jobCalls := readCalls(t, rec)
	if len(jobCalls) != 1 {
		t.Fatalf("%d apptainer calls of the job, want its image check: %+v", len(jobCalls), jobCalls)
	}
	jobArgv := jobCalls[0].Argv

	out, code := attach(t, ShellRequest{JobID: "1", JobDir: spec.JobDir, Term: "xterm", Command: `echo "$TRAINING_ID $TERM"; exit 4`})
	if code != 4 || out != "42 xterm\n" {
		t.Errorf("shell: status %d, output %q; want 4, %q", code, out, "42 xterm\n")
	}
	calls := readCalls(t, rec)
	if len(calls) != 2 {
		t.Fatalf("%d apptainer calls, want the job's image check and the shell's", len(calls))
	}
	shell := calls[1]
	joined := strings.Join(shell.Argv, " ")
	for _, want := range []string{
		"exec --containall --cleanenv --no-eval --fakeroot ",
		" --bind " + spec.Path(GitDir) + ":/kqi/git ",
		" --bind " + spec.Path(InputDir) + ":/kqi/input:ro ",
		" --bind " + spec.Path(OutputDir) + ":/kqi/output ",
		" --bind " + spec.Path(AttachDir) + ":/kqi/attach:ro ",
		" --bind " + spec.Inputs[0].Source + ":/kqi/parent:ro ",
		" --pwd /kqi/git --env-file ",
		" docker://registry.example.org/ml/torch:2 bash -c ",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("the shell's apptainer arguments lack %q:\n%s", want, joined)
		}
	}
	// The same container as the job's: its arguments up to the env file.
	envAt := slices.Index(jobArgv, "--env-file")
	if envAt < 0 || len(shell.Argv) <= envAt || !slices.Equal(shell.Argv[:envAt], jobArgv[:envAt]) {
		t.Errorf("the shell's container differs from the job's:\njob   %q\nshell %q", jobArgv, shell.Argv)
	}
	for _, want := range []string{"TRAINING_ID=42", "KQI_TOKEN=" + testKQIToken, "TERM=xterm"} {
		if !slices.Contains(shell.Env, want) {
			t.Errorf("the shell's container environment lacks %s: %q", want, shell.Env)
		}
	}
	if shell.Warning != "" {
		t.Errorf("Apptainer could not read the shell's env file: %s", shell.Warning)
	}
	if strings.Contains(joined, testKQIToken) {
		t.Error("a secret is on apptainer's command line")
	}
	if i := slices.Index(shell.Argv, "--env-file"); i < 0 || i+1 >= len(shell.Argv) {
		t.Error("no env file")
	} else if _, err := os.Stat(shell.Argv[i+1]); !os.IsNotExist(err) {
		t.Errorf("the shell's env file outlived the shell: %v", err)
	}
}

// A shell into an isolated job with a proxy (whose container is started in
// the background while the bridge is made) still gets what the user types,
// and reaches the proxy through the bridge; for both runtimes.
func TestShellIntoIsolatedJobReadsInput(t *testing.T) {
	requireTools(t)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "proxied") }))
	defer proxy.Close()
	bin := fakeApptainer(t)
	for name, rt := range map[string]Runtime{
		"bubblewrap": Bubblewrap{Network: NetworkIsolated},
		"apptainer":  Apptainer{Binary: bin, Network: NetworkIsolated},
	} {
		t.Run(name, func(t *testing.T) {
			spec := jobFixture(t, "")
			spec.Git = GitSource{}
			spec.SiteEnv = []EnvVar{{"HTTP_PROXY", proxy.URL}}
			stop := filepath.Join(spec.Path(OutputDir), "stop")
			inside := "/kqi/output/stop"
			if name == "apptainer" {
				spec.Image = "docker://registry.example.org/ml/torch:2"
				inside = stop // the stand-in's command sees the node's files
			}
			startJob(t, spec, rt, inside, stop)
			fetch := `hp=${HTTP_PROXY#http://}; hp=${hp%/}; exec 3<>"/dev/tcp/${hp%:*}/${hp##*:}"; printf 'GET http://outside.invalid/ HTTP/1.0\r\n\r\n' >&3; tail -n 1 <&3; echo`
			out, code := attachTyping(t, ShellRequest{JobID: "1", JobDir: spec.JobDir, Command: `read -r line; echo "typed: $line"; ` + fetch}, "hello\n")
			if code != 0 || !strings.Contains(out, "typed: hello\n") || !strings.Contains(out, "proxied") {
				t.Errorf("status %d, output:\n%s", code, out)
			}
		})
	}
}
