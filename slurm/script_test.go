package slurm

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"kqi/slurm/internal/apptainerenv"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// baseSpec is a valid CPU job used as the starting point of most tests.
func baseSpec() JobSpec {
	return JobSpec{
		Name:      "training-mnist-42",
		Comment:   "kqi:training:42",
		Partition: "cpu",
		CPUs:      2,
		MemoryGiB: 4,
		SiteEnv: []EnvVar{
			{"LC_ALL", "C.UTF-8"}, {"LANG", "C.UTF-8"}, {"COLUMNS", "200"},
			{"HTTP_PROXY", "http://proxy.example.org:3128"}, {"http_proxy", "http://proxy.example.org:3128"},
		},
		System: []EnvVar{
			{"TRAINING_ID", "42"}, {"DATASET_ID", "7"}, {"MODEL_REPOSITORY", "https://git.example.org/ml/mnist.git"},
			{"COMMIT_ID", "0123abcd"}, {"KQI_SERVER", "https://kqi.example.org"}, {"ENTRY_POINT", "python train.py"},
		},
		Git:     GitSource{URL: "https://git.example.org/ml/mnist.git", Branch: "main", Commit: "0123abcd"},
		Image:   "host",
		Command: "python train.py",
		JobDir:  "/shared/kqi/jobs/42",
	}
}

// goldenSpecs are the scripts kept in testdata/: each golden file is what a
// reviewer reads to see the script a kind of job gets.
func goldenSpecs() map[string]JobSpec {
	cpu := baseSpec()

	gpu := baseSpec()
	gpu.Name, gpu.Comment = "training-resnet-43", "kqi:training:43"
	gpu.Partition, gpu.Account = "gpu-a100", "tenant-a"
	gpu.GPUs, gpu.GPUType, gpu.MemoryGiB, gpu.CPUs = 2, "a100", 64, 16
	gpu.TimeLimit = 90*time.Minute + 30*time.Second
	gpu.Extra = []string{"--mail-type=END,FAIL", "--mail-user=alice@example.org", "--constraint=intel&ib", "--nice=5"}
	gpu.Image = "registry.example.org/ml/pytorch:2.4-cuda12"
	gpu.Env = []EnvVar{
		{"EPOCHS", "10"},
		{"QUOTED", `it's "quoted" $HOME $(id) ` + "`id`; rm -rf /"},
		{"MULTI", "line one\nline two\ttab"},
		{"UNICODE", "学習率=0.1 ✓"},
		{"EMPTY", ""},
		{"COLUMNS", "80"}, // replaces the site's COLUMNS
	}

	parent := baseSpec()
	parent.Name, parent.Comment = "inference-mnist-44", "kqi:inference:44"
	parent.System = []EnvVar{{"INFERENCE_ID", "44"}, {"PARENT_ID", "42"}, {"DATASET_ID", "7"}}
	parent.JobDir = "/shared/kqi/jobs/44"
	parent.Inputs = []Bind{{Source: "/shared/kqi/jobs/42/output", Target: "/kqi/parent"}}
	parent.Git = GitSource{URL: "https://git.example.org/ml/mnist.git", Username: "kqi-bot"}
	parent.Command = "python infer.py --weights /kqi/parent/model.pt > /kqi/output/value.txt"

	return map[string]JobSpec{"cpu": cpu, "gpu": gpu, "parent": parent}
}

func goldenRuntimes() map[string]Runtime {
	return map[string]Runtime{
		"apptainer": Apptainer{
			Binary:     "/opt/apptainer/1.4.5/bin/apptainer",
			GlobalArgs: []string{"--quiet"},
			Fakeroot:   true,
			ExtraArgs:  []string{"--drop-caps", "CAP_SYS_RESOURCE"},
			ImageDir:   "/shared/kqi/images",
			PullDir:    "/shared/kqi/images/pulled",
			Registries: []string{"registry.example.org"},
			Stat:       fakeStore("/shared/kqi/images/local/python/3"),
		},
		"bubblewrap": Bubblewrap{ImageRoot: "/shared/kqi/images"},
	}
}

func TestRenderGolden(t *testing.T) {
	for rtName, rt := range goldenRuntimes() {
		for specName, spec := range goldenSpecs() {
			name := specName + "-" + rtName
			t.Run(name, func(t *testing.T) {
				if rtName == "apptainer" && spec.Image == "host" {
					// One from Docker Hub (pulled), one from the site's store.
					spec.Image = "docker://python:3.12"
					if specName == "parent" {
						spec.Image = "local/python:3"
					}
				}
				got, err := Render(spec, rt)
				if err != nil {
					t.Fatalf("Render: %v", err)
				}
				path := filepath.Join("testdata", name+".golden")
				if *update {
					if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test -update to create it)", err)
				}
				if got != string(want) {
					t.Errorf("script differs from %s (run go test -update and review the diff): %s", path, firstDiff(got, string(want)))
				}
				bashSyntaxCheck(t, got)
			})
		}
	}
}

// firstDiff describes the first line where got and want differ.
func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d is\n\t%q\nwant\n\t%q", i+1, gl, wl)
		}
	}
	return "no line differs"
}

// bashSyntaxCheck fails the test unless bash -n accepts the script.
func bashSyntaxCheck(t testing.TB, script string) {
	t.Helper()
	cmd := exec.Command("bash", "-n")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("bash -n: %v\n%s", err, out)
	}
}

// recordingRuntime is a Runtime that runs nothing: its kqi_container writes
// the command word and the environment it was handed to the output
// directory, so a test can compare them with what went into the spec. It
// also writes Apptainer's env file and reads the fuzzed variable back from
// it the way Apptainer does (a shell evaluating it), with only builtins so
// that no variable in the file can break the reading.
type recordingRuntime struct{ readBack string }

func (recordingRuntime) ValidateImage(string) error { return nil }

func (r recordingRuntime) ShellFunction(JobSpec) (string, error) {
	return `kqi_container() {
	local env_file=$kqi_job/output/env_file kv value ` + envQuotes + `
	# The first call is the script's probe that the image starts; a user
	# command may be ":" too, so the call order tells them apart.
	if [[ -z ${kqi_probed-} ]]; then
		kqi_probed=1
		[[ $1 == : ]] || { echo "probe ran $1" >&2; return 99; }
		return 0
	fi
	printf '%s' "$1" >"$kqi_job/output/command"
	printf '%s\0' "${kqi_env[@]}" >"$kqi_job/output/env"
` + indent(writeEnvFile, "\t") + `}`, nil
}

// bashReadOnly are variables bash refuses to assign or sets itself.
var bashReadOnly = map[string]bool{
	"BASHOPTS": true, "BASH_VERSINFO": true, "EUID": true, "PPID": true, "SHELLOPTS": true, "UID": true, "_": true,
}

// FuzzRender checks, for any command, environment value and name and
// #SBATCH extra that pass validation, that the script is valid bash and that
// running it hands the runtime exactly the command and value given: no
// quoting mistake lets text run outside the intended command.
func FuzzRender(f *testing.F) {
	for _, seed := range []struct{ command, name, value, extra string }{
		{"python train.py", "EPOCHS", "10", "--mail-type=END"},
		{`echo "it's" 'quoted'`, "QUOTE", `'\''`, "--hold"},
		{"echo $(id) `id` ${HOME} $HOME", "SUBST", "$(touch /tmp/kqi-fuzz-pwned)", "--constraint=a&b|c"},
		{"a; b && c || d | e > f < g & h", "SEMI", "; rm -rf / #", "--output=/etc/passwd"},
		{"line1\nline2\r\nline3", "NEWLINE", "one\ntwo\n", "--mail-type=END\n#SBATCH --uid=0"},
		{"'", "Q", "'", "--comment=x"},
		{"'\\''", "BACKSLASH", `\`, "--outp=x"},
		{"printf '%s\\n' 学習 ✓ \U0001F600", "UNICODE", "値=✓", "--nice"},
		{"\x00", "NUL", "a\x00b", "--x"},
		{"!!; !$; ~; *; ?; [a]", "GLOB", "* ? [ ] ~ ! { } ,", "--nice=5"},
		{"exit 3", "_", "", "-o x"},
		{"cat <<'EOF'\n$x\nEOF", "HEREDOC", "EOF\n)\n'\"", "--begin=now+1hour"},
	} {
		f.Add(seed.command, seed.name, seed.value, seed.extra)
	}
	f.Fuzz(func(t *testing.T, command, name, value, extra string) {
		if checkEnvName(name) != nil {
			name = "FUZZ"
		}
		spec := baseSpec()
		spec.Git = GitSource{}
		// t.TempDir would name the directory after the seed ("#" included),
		// which job directories may not contain.
		dir, err := os.MkdirTemp("", "kqi-fuzz-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		spec.JobDir = dir
		spec.Command = command
		spec.Env = []EnvVar{{name, value}}
		rt := recordingRuntime{readBack: name}
		if bashReadOnly[name] {
			// bash will not keep these as given; Apptainer's evaluator is
			// not bash, so only the kqi_env hand-over is checked for them.
			rt.readBack = "FUZZ_NONE"
		}
		spec.Extra = []string{extra}
		if checkExtra(extra) != nil {
			spec.Extra = nil
		}
		if err := spec.Validate(); err != nil {
			// Users may type anything but NUL into a command or a value.
			if strings.TrimSpace(command) != "" && !strings.ContainsRune(command+value, 0) {
				t.Fatalf("Validate refused a command and value without NUL: %v", err)
			}
			if _, err := Render(spec, rt); err == nil {
				t.Fatal("Render accepted a spec that Validate refused")
			}
			return
		}
		script, err := Render(spec, rt)
		if err != nil {
			t.Fatalf("Render: %v", err)
		}
		// Every #SBATCH line is one of ours; an extra never adds a line.
		if n := strings.Count(script, "\n#SBATCH "); n != len(spec.SbatchOptions()) {
			t.Fatalf("%d #SBATCH lines for %d options", n, len(spec.SbatchOptions()))
		}
		bashSyntaxCheck(t, script)

		cmd := exec.Command("bash", "-c", script)
		cmd.Env = []string{"PATH=/usr/bin:/bin", "TMPDIR=" + spec.JobDir}
		if out, err := cmd.CombinedOutput(); err != nil {
			log, _ := os.ReadFile(spec.Path(LogFile))
			t.Fatalf("script failed: %v %s\nlog:\n%s", err, out, log)
		}
		got, err := os.ReadFile(filepath.Join(spec.Path(OutputDir), "command"))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != command {
			t.Fatalf("the runtime got command %q, want %q", got, command)
		}
		env, err := os.ReadFile(filepath.Join(spec.Path(OutputDir), "env"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains("\x00"+string(env), "\x00"+name+"="+value+"\x00") {
			t.Fatalf("the runtime's environment lacks %s=%q:\n%q", name, value, env)
		}
		// The env file as Apptainer reads it (with --no-eval), not as bash would.
		// Apptainer keeps HOME, UID, PWD and a few more to itself.
		apptainerOwn := slices.Contains([]string{"EUID", "GID", "HOME", "IFS", "OPTIND", "PWD", "UID"}, name)
		// CR LF and bytes that are not UTF-8 Apptainer refuses (ShellFunction says so).
		if rt.readBack == name && !apptainerOwn && !strings.Contains(value, "\r\n") && utf8.ValidString(value) {
			file, err := os.ReadFile(filepath.Join(spec.Path(OutputDir), "env_file"))
			if err != nil {
				t.Fatal(err)
			}
			vars, err := apptainerenv.EvaluateFile(context.Background(), file, nil)
			if err != nil {
				t.Fatalf("Apptainer cannot read the env file: %v\n%s", err, file)
			}
			env, warning := apptainerenv.Container(context.Background(), vars, true, nil, "/root")
			if warning != "" || !slices.Contains(env, name+"="+value) {
				t.Fatalf("Apptainer's env file gives %q (%s), want %s=%q", env, warning, name, value)
			}
		}
		if code, err := os.ReadFile(spec.Path(ExitCodeFile)); err != nil || string(code) != "0\n" {
			t.Fatalf("exit_code = %q, %v", code, err)
		}
	})
}
