package slurm

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"kqi/slurm/internal/apptainerenv"
)

// fakeStore is a Stat for Apptainer.ImageDir that knows the given sandbox
// directories and *.sif files and nothing else.
func fakeStore(paths ...string) func(string) (fs.FileInfo, error) {
	return func(p string) (fs.FileInfo, error) {
		if slices.Contains(paths, p) {
			if strings.HasSuffix(p, ".sif") {
				return fakeInfo{dir: false}, nil
			}
			return fakeInfo{dir: true}, nil
		}
		return nil, fs.ErrNotExist
	}
}

type fakeInfo struct{ dir bool }

func (f fakeInfo) Name() string { return "x" }
func (f fakeInfo) Size() int64  { return 1 }
func (f fakeInfo) Mode() fs.FileMode {
	if f.dir {
		return fs.ModeDir | 0o755
	}
	return 0o644
}
func (f fakeInfo) ModTime() time.Time { return time.Time{} }
func (f fakeInfo) IsDir() bool        { return f.dir }
func (f fakeInfo) Sys() any           { return nil }

func TestApptainerImageURI(t *testing.T) {
	store := Apptainer{
		ImageDir: "/shared/images", PullDir: "/shared/images/pulled",
		Registries: []string{"registry.example.org:5000", "Nvcr.io"},
		Stat: fakeStore("/shared/images/local/python/3", "/shared/images/torch/2.sif",
			"/shared/images/torch@sha256-abc.sif", "/shared/images/team/tool/latest",
			"/shared/images/pulled/by-user/0123456789abcdef/registry.example.org/ml/torch/2.sif"),
	}
	for ref, want := range map[string]string{
		// The site's image store first: sandbox directories and SIF files.
		"local/python:3": "/shared/images/local/python/3",
		"torch:2":        "/shared/images/torch/2.sif",
		"team/tool":      "/shared/images/team/tool/latest",
		// A registered registry next: pulled into the pull store.
		"registry.example.org:5000/ml/torch:2": "/shared/images/pulled/registry.example.org:5000/ml/torch/2.sif",
		"nvcr.io/nvidia/pytorch:24.05":         "/shared/images/pulled/nvcr.io/nvidia/pytorch/24.05.sif",
		// docker:// as asked for, pulled too.
		"docker://python:3.12":            "/shared/images/pulled/python/3.12.sif",
		"docker://ubuntu@sha256:0123abcd": "/shared/images/pulled/ubuntu/sha256:0123abcd.sif",
		"oras://ghcr.io/org/img:1":        "oras://ghcr.io/org/img:1",
		"library://user/coll/img:tag":     "library://user/coll/img:tag",
		// A path inside the store that exists.
		"/shared/images/torch@sha256-abc.sif": "/shared/images/torch@sha256-abc.sif",
	} {
		got, err := store.ImageURI(ref)
		if err != nil || got != want {
			t.Errorf("ImageURI(%q) = %q, %v; want %q", ref, got, err, want)
		}
	}
	for _, ref := range []string{
		"", "http://example.org/x", "docker://", "docker://a b", "shub://x/y", "/shared/../etc/x.sif",
		"relative/../x", "docker://a//b", "-x", "img;id", "img'x", "/a,b.sif", "docker://x\n",
		// Never silently Docker Hub: a plain name not in the store, or
		// naming a registry nobody registered, is refused.
		"python:3.12", "local/python:4", "ghcr.io/org/img:1", "ubuntu@sha256:0123abcd",
		// A path in the store that is not there is refused at submit.
		"/shared/images/missing.sif",
		// Pulled images, private ones among them, only by reference.
		"/shared/images/pulled/by-user/0123456789abcdef/registry.example.org/ml/torch/2.sif",
		"pulled/by-user/0123456789abcdef/registry.example.org/ml/torch:2",
	} {
		if _, err := store.ImageURI(ref); err == nil {
			t.Errorf("ImageURI(%q) accepted", ref)
		}
	}
	if _, err := store.ImageURI("python:3.12"); err == nil || !strings.Contains(err.Error(), "docker://python:3.12") {
		t.Errorf("a Docker Hub name is not told how to ask for Docker Hub: %v", err)
	}
	// A file image comes only from the site's image store.
	for dir, ref := range map[string]string{
		"":                "/shared/images/torch.sif",
		"/shared/images":  "/etc/x.sif",
		"/shared/images/": "/shared/imagesX/torch.sif",
		"/shared/img":     "/shared/images/torch.sif",
	} {
		if _, err := (Apptainer{ImageDir: dir, Stat: fakeStore(ref)}).ImageURI(ref); err == nil {
			t.Errorf("ImageDir %q: ImageURI(%q) accepted", dir, ref)
		}
	}
	if got, err := (Apptainer{ImageDir: "/shared/images/", Stat: fakeStore("/shared/images/a/torch.sif")}).ImageURI("/shared/images/a/torch.sif"); err != nil || got != "/shared/images/a/torch.sif" {
		t.Errorf("ImageDir with a trailing slash: %q, %v", got, err)
	}
	// Without a pull store, docker:// runs from the URI.
	if got, err := (Apptainer{Registries: []string{"nvcr.io"}}).ImageURI("nvcr.io/nvidia/pytorch:24.05"); err != nil || got != "docker://nvcr.io/nvidia/pytorch:24.05" {
		t.Errorf("no pull store: %q, %v", got, err)
	}
	// The real filesystem by default: a sandbox directory and a SIF file.
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a", "b", "1", "usr", "bin", "x"), "")
	writeFile(t, filepath.Join(dir, "c", "2.sif"), "sif")
	for ref, want := range map[string]string{"a/b:1": dir + "/a/b/1", "c:2": dir + "/c/2.sif"} {
		if got, err := (Apptainer{ImageDir: dir}).ImageURI(ref); err != nil || got != want {
			t.Errorf("on disk: ImageURI(%q) = %q, %v; want %q", ref, got, err, want)
		}
	}
	if _, err := (Apptainer{ImageDir: dir}).ImageURI("c:3"); err == nil {
		t.Error("a missing image in the store on disk was accepted")
	}
}

// The stand-in for apptainer: slurm/internal/fakeapptainer, built once.
var (
	fakeApptainerOnce sync.Once
	fakeApptainerBin  string
	fakeApptainerErr  error
)

func fakeApptainer(t *testing.T) string {
	t.Helper()
	fakeApptainerOnce.Do(func() {
		dir, err := os.MkdirTemp("", "kqi-fakeapptainer")
		if err != nil {
			fakeApptainerErr = err
			return
		}
		// Not on any PATH, as at a site with Apptainer under /opt.
		fakeApptainerBin = filepath.Join(dir, "opt", "apptainer", "bin", "apptainer")
		out, err := exec.Command("go", "build", "-o", fakeApptainerBin, "kqi/slurm/internal/fakeapptainer").CombinedOutput()
		if err != nil {
			fakeApptainerErr = err
			t.Logf("%s", out)
		}
	})
	if fakeApptainerErr != nil {
		t.Fatalf("building the apptainer stand-in: %v", fakeApptainerErr)
	}
	return fakeApptainerBin
}

// fakeCall is one call the stand-in recorded.
type fakeCall struct {
	Argv           []string `json:"argv"`
	DockerUsername *string  `json:"docker_username"`
	DockerPassword *string  `json:"docker_password"`
	EnvFile        string   `json:"env_file"`
	Env            []string `json:"env"`
	Warning        string   `json:"warning"`
}

func readCalls(t *testing.T, dir string) []fakeCall {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "calls.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var calls []fakeCall
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var c fakeCall
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		calls = append(calls, c)
	}
	return calls
}

// awkwardValues are what users type that a shell would interpret.
var awkwardValues = map[string]string{
	"DOLLAR":    "$HOME ${PATH} $1 $$",
	"SUBST":     "$(id) and `id`",
	"QUOTES":    `it's "quoted" '' "" '"'"'`,
	"BACKSLASH": `C:\data\`,
	"ESCAPES":   `\n \t \\ \' \"`,
	"NEWLINES":  "line one\nline two\n\n",
	"UNICODE":   "学習率=0.1 ✓ é",
	"SPACES":    "  leading and trailing  ",
	"EMPTY":     "",
	"COMMENT":   "# not a comment; rm -rf /",
}

// runApptainer renders spec for a and runs it with bash as Slurm would,
// with the stand-in recording into rec; it returns the exit code.
func runApptainer(t *testing.T, spec JobSpec, a Apptainer, rec string, extraEnv ...string) int {
	t.Helper()
	script, err := Render(spec, a)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, spec.Path(ScriptFile), script)
	cmd := exec.Command("bash", spec.Path(ScriptFile))
	cmd.Env = append(os.Environ(), append([]string{"KQI_FAKE_APPTAINER_DIR=" + rec}, extraEnv...)...)
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0
}

func TestApptainerRunsTheCommand(t *testing.T) {
	bin := fakeApptainer(t)
	for name, creds := range map[string]bool{"with registry credentials": true, "without": false} {
		t.Run(name, func(t *testing.T) {
			rec := t.TempDir()
			spec := jobFixture(t, "")
			spec.Git = GitSource{}
			spec.GPUs, spec.GPUType = 1, "a100"
			spec.Image = "docker://registry.example.org/ml/torch:2"
			spec.Command = "exit 5"
			for _, k := range slices.Sorted(func(yield func(string) bool) {
				for k := range awkwardValues {
					if !yield(k) {
						return
					}
				}
			}) {
				spec.Env = append(spec.Env, EnvVar{k, awkwardValues[k]})
			}
			secrets := Secrets{KQIToken: testKQIToken, ModelRepositoryToken: testRepoTok}
			if creds {
				secrets.RegistryUsername, secrets.RegistryPassword = "robot", "registry-secret-'$x"
			}
			b, err := secrets.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, spec.Path(SecretsFile), string(b))

			a := Apptainer{Binary: bin, GlobalArgs: []string{"--quiet"}, ExtraArgs: []string{"--drop-caps", "CAP_SYS_RESOURCE"}}
			if code := runApptainer(t, spec, a, rec); code != 5 {
				t.Fatalf("script exit %d, want 5\nlog:\n%s", code, readFile(t, spec.Path(LogFile)))
			}
			if got := readFile(t, spec.Path(ExitCodeFile)); got != "5\n" {
				t.Errorf("exit_code = %q", got)
			}
			calls := readCalls(t, rec)
			if len(calls) != 2 { // the image check (":") and the command
				t.Fatalf("%d apptainer calls, want 2: %+v", len(calls), calls)
			}
			call := calls[1]
			argv := call.Argv
			joined := strings.Join(argv, " ")
			for _, want := range []string{
				"--quiet exec --containall --cleanenv --no-eval --nv --drop-caps CAP_SYS_RESOURCE ",
				" --bind " + spec.Path(GitDir) + ":/kqi/git ",
				" --bind " + spec.Path(InputDir) + ":/kqi/input:ro ",
				" --bind " + spec.Path(OutputDir) + ":/kqi/output ",
				" --bind " + spec.Path(AttachDir) + ":/kqi/attach:ro ",
				" --bind " + spec.Inputs[0].Source + ":/kqi/parent:ro ",
				" --pwd /kqi/git --env-file ",
				" docker://registry.example.org/ml/torch:2 bash -c ",
			} {
				if !strings.Contains(joined, want) {
					t.Errorf("apptainer arguments lack %q:\n%s", want, joined)
				}
			}
			if argv[len(argv)-1] != spec.Command {
				t.Errorf("last argument = %q, want the command", argv[len(argv)-1])
			}
			for _, secret := range []string{testKQIToken, testRepoTok, "registry-secret"} {
				if strings.Contains(joined, secret) {
					t.Errorf("secret %q is on apptainer's command line", secret)
				}
			}
			// Without a pull store the credentials go to this one command.
			if creds {
				if call.DockerUsername == nil || *call.DockerUsername != "robot" || call.DockerPassword == nil || *call.DockerPassword != "registry-secret-'$x" {
					t.Errorf("registry credentials = %v %v", call.DockerUsername, call.DockerPassword)
				}
			} else if call.DockerUsername != nil || call.DockerPassword != nil {
				t.Errorf("credentials set without any: %v %v", call.DockerUsername, call.DockerPassword)
			}
			if call.Warning != "" {
				t.Errorf("Apptainer could not read the env file: %s", call.Warning)
			}

			env := map[string]string{}
			for _, kv := range call.Env {
				k, v, _ := strings.Cut(kv, "=")
				env[k] = v
			}
			want := map[string]string{
				"AWKWARD": spec.Env[0].Value, "TRAINING_ID": "42", "KQI_TOKEN": testKQIToken,
				"MODEL_REPOSITORY_TOKEN": testRepoTok, "PYTHONUNBUFFERED": "1", "LC_ALL": "C.UTF-8",
			}
			for k, v := range awkwardValues {
				want[k] = v
			}
			for k, v := range want {
				if got, ok := env[k]; !ok || got != v {
					t.Errorf("container env %s = %q (set %v), want %q", k, got, ok, v)
				}
			}
			for k := range env {
				if strings.HasPrefix(k, "APPTAINER_DOCKER") {
					t.Errorf("registry credential %s reached the container", k)
				}
			}
			if call.EnvFile == "" {
				t.Error("env file not handed to apptainer")
			}
			log := readFile(t, spec.Path(LogFile))
			script := readFile(t, spec.Path(ScriptFile))
			for _, secret := range []string{testKQIToken, testRepoTok, "registry-secret"} {
				if strings.Contains(log, secret) || strings.Contains(script, secret) {
					t.Errorf("secret %q in the log or the script", secret)
				}
			}
			if tmp, _ := filepath.Glob(filepath.Join(os.TempDir(), "kqi.*", "env")); len(tmp) > 0 {
				for _, p := range tmp {
					if b, err := os.ReadFile(p); err == nil && strings.Contains(string(b), testKQIToken) {
						t.Errorf("the env file with the tokens outlived the job: %s", p)
					}
				}
			}
		})
	}
}

// A docker:// image is pulled once into the pull store, however many jobs
// start at once; the credentials are the pull's alone; the job runs the SIF.
func TestApptainerPullsOnce(t *testing.T) {
	bin := fakeApptainer(t)
	for name, creds := range map[string]bool{"private": true, "public": false} {
		t.Run(name, func(t *testing.T) {
			rec, pulls := t.TempDir(), t.TempDir()
			a := Apptainer{Binary: bin, PullDir: pulls, Registries: []string{"registry.example.org"}}
			const jobs = 3
			var wg sync.WaitGroup
			specs := make([]JobSpec, jobs)
			codes := make([]int, jobs)
			for i := range specs {
				specs[i] = jobFixture(t, "")
				specs[i].Git = GitSource{}
				specs[i].Image = "registry.example.org/ml/torch:2"
				specs[i].Command = "exit 3"
				sec := Secrets{KQIToken: testKQIToken}
				if creds {
					sec.RegistryUsername, sec.RegistryPassword = "robot", "pw-'$x"
				}
				b, err := sec.Marshal()
				if err != nil {
					t.Fatal(err)
				}
				writeFile(t, specs[i].Path(SecretsFile), string(b))
			}
			for i := range specs {
				wg.Go(func() { codes[i] = runApptainer(t, specs[i], a, rec, "KQI_FAKE_APPTAINER_PULL_DELAY=1s") })
			}
			// While the image is pulled, every job waiting on it says so.
			sawPulling := false
			for deadline := time.Now().Add(900 * time.Millisecond); time.Now().Before(deadline) && !sawPulling; time.Sleep(20 * time.Millisecond) {
				_, err := os.Stat(specs[0].Path(PullingFile))
				sawPulling = err == nil
			}
			wg.Wait()
			if !sawPulling {
				t.Errorf("no %s marker while the image was pulled", PullingFile)
			}
			for i, s := range specs {
				if _, err := os.Stat(s.Path(PullingFile)); !os.IsNotExist(err) {
					t.Errorf("job %d: %s left after the pull (%v)", i, PullingFile, err)
				}
			}
			for i, c := range codes {
				if c != 3 {
					t.Errorf("job %d exited %d, want 3; log:\n%s", i, c, readFile(t, specs[i].Path(LogFile)))
				}
			}
			sif := filepath.Join(pulls, "registry.example.org/ml/torch/2.sif")
			if creds {
				sum := sha256.Sum256([]byte("robot"))
				sif = filepath.Join(pulls, "by-user", hex.EncodeToString(sum[:])[:16], "registry.example.org/ml/torch/2.sif")
			}
			var pullCalls, execCalls int
			for _, c := range readCalls(t, rec) {
				switch {
				case slices.Contains(c.Argv, "pull"):
					pullCalls++
					if c.Argv[len(c.Argv)-1] != "docker://registry.example.org/ml/torch:2" || !strings.HasPrefix(c.Argv[len(c.Argv)-2], sif+".pull.") {
						t.Errorf("pull %q, want a temporary name beside %s", c.Argv, sif)
					}
					if creds != (c.DockerUsername != nil && *c.DockerUsername == "robot" && c.DockerPassword != nil && *c.DockerPassword == "pw-'$x") {
						t.Errorf("pull credentials %v %v, want them only with credentials", c.DockerUsername, c.DockerPassword)
					}
				default:
					execCalls++
					if !slices.Contains(c.Argv, sif) {
						t.Errorf("exec does not run the pulled SIF %s: %q", sif, c.Argv)
					}
					if c.DockerUsername != nil || c.DockerPassword != nil {
						t.Errorf("exec got registry credentials: %q", c.Argv)
					}
				}
			}
			if pullCalls != 1 || execCalls != 2*jobs {
				t.Errorf("%d pulls and %d execs, want 1 and %d", pullCalls, execCalls, 2*jobs)
			}
			if b, err := os.ReadFile(sif); err != nil || !strings.Contains(string(b), "docker://registry.example.org/ml/torch:2") {
				t.Errorf("pulled SIF: %q, %v", b, err)
			}
			if left, _ := filepath.Glob(sif + ".pull.*"); len(left) > 0 {
				t.Errorf("temporary pulls left: %v", left)
			}
			logs := ""
			for _, s := range specs {
				logs += readFile(t, s.Path(LogFile))
			}
			if n := strings.Count(logs, "pulling image docker://registry.example.org/ml/torch:2"); n != 1 {
				t.Errorf("%d jobs said they were pulling the image, want 1", n)
			}
		})
	}
}

// The old env file (values re-evaluated without --no-eval, quotes escaped
// as '\”) loses or changes values under Apptainer's parser: the stand-in
// must tell it apart from the new one, or it proves nothing.
func TestApptainerStandInRejectsTheOldWay(t *testing.T) {
	old := "BACKSLASH='C:\\data\\'\nDOLLAR='$HOME'\nKQI_TOKEN='t'\n"
	vars, err := apptainerenv.EvaluateFile(context.Background(), []byte(old), []string{"HOME=/home/kqi"})
	if err != nil {
		t.Fatal(err)
	}
	env, warning := apptainerenv.Container(context.Background(), vars, false, nil, "/home/kqi")
	if warning == "" || slices.Contains(env, "KQI_TOKEN=t") {
		t.Errorf("without --no-eval a value ending in \\ should lose every variable: %q %q", env, warning)
	}
	vars, _ = apptainerenv.EvaluateFile(context.Background(), []byte("DOLLAR='$HOME $(id)'\n"), []string{"HOME=/home/kqi"})
	env, _ = apptainerenv.Container(context.Background(), vars, false, nil, "/home/kqi")
	if !slices.Contains(env, "DOLLAR=/home/kqi <ran: id>") {
		t.Errorf("without --no-eval $HOME and $(id) should expand: %q", env)
	}
}

// envFileFor writes NAME=value through the script's env file writer (bash)
// and returns the file.
func envFileFor(t testing.TB, values []string) []byte {
	t.Helper()
	dir := t.TempDir()
	var words []string
	for i, v := range values {
		q, err := shellQuote("V" + string(rune('A'+i)) + "=" + v)
		if err != nil {
			t.Fatal(err)
		}
		words = append(words, q)
	}
	script := "set -euo pipefail\nenv_file=$1\n" + envQuotes + "\nkqi_env=(" + strings.Join(words, " ") + ")\n" + writeEnvFile
	path := filepath.Join(dir, "env")
	out, err := exec.Command("bash", "-c", script, "bash", path).CombinedOutput()
	if err != nil {
		t.Fatalf("env file writer: %v\n%s", err, out)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkThroughApptainer asserts that Apptainer, with --no-eval, hands the
// container exactly values.
func checkThroughApptainer(t testing.TB, values []string) {
	t.Helper()
	file := envFileFor(t, values)
	ctx := context.Background()
	vars, err := apptainerenv.EvaluateFile(ctx, file, []string{"HOME=/home/kqi", "PATH=/usr/bin"})
	if err != nil {
		t.Fatalf("Apptainer cannot read the env file %q: %v", file, err)
	}
	env, warning := apptainerenv.Container(ctx, vars, true, nil, "/home/kqi")
	if warning != "" {
		t.Fatalf("container environment from %q: %s", file, warning)
	}
	for i, v := range values {
		want := "V" + string(rune('A'+i)) + "=" + v
		if !slices.Contains(env, want) {
			t.Errorf("value %q did not arrive as typed; env file:\n%s\ncontainer env: %q", v, file, env)
		}
	}
}

func TestApptainerEnvFileValues(t *testing.T) {
	var values []string
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range awkwardValues {
			if !yield(k) {
				return
			}
		}
	}) {
		values = append(values, awkwardValues[k])
	}
	checkThroughApptainer(t, values)
}

func FuzzApptainerEnvFile(f *testing.F) {
	for _, v := range awkwardValues {
		f.Add(v)
	}
	f.Add("'")
	f.Add("\\")
	f.Add("a\\\nb")
	f.Add("'\"'\"'")
	f.Add("$'x\\n'")
	f.Add("\r \n\t\v\r")
	f.Fuzz(func(t *testing.T, v string) {
		// NUL never reaches an environment (Validate refuses it); the rest,
		// any bytes, must arrive as typed.
		// CR LF is refused at submit (TestApptainerFlags).
		if strings.IndexByte(v, 0) >= 0 || !utf8.ValidString(v) || strings.Contains(v, "\r\n") {
			t.Skip()
		}
		checkThroughApptainer(t, []string{v})
	})
}

func TestApptainerFlags(t *testing.T) {
	fn, err := Apptainer{}.ShellFunction(withImage(baseSpec(), "docker://x:1"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(fn, "--nv") || strings.Contains(fn, "--fakeroot") || !strings.Contains(fn, "--no-eval") {
		t.Errorf("CPU job without fakeroot got --nv or --fakeroot, or no --no-eval:\n%s", fn)
	}
	spec := withImage(baseSpec(), "docker://x:1")
	spec.GPUs = 1
	fn, err = Apptainer{Fakeroot: true}.ShellFunction(spec)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(fn, "--containall --cleanenv --no-eval --nv --fakeroot") {
		t.Errorf("GPU job with fakeroot lacks --nv --fakeroot:\n%s", fn)
	}
	fn, err = Apptainer{NvCCLI: true}.ShellFunction(spec)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(fn, "--no-eval --nvccli\n") {
		t.Errorf("GPU job at a site using nvidia-container-cli lacks --nvccli (alone):\n%s", fn)
	}
	for _, a := range []Apptainer{{ExtraArgs: []string{"--x\n--y"}}, {GlobalArgs: []string{"-q\n"}}} {
		if _, err := a.ShellFunction(spec); err == nil {
			t.Errorf("a site argument with a newline was accepted: %+v", a)
		}
	}
	crlf := withImage(baseSpec(), "docker://x:1")
	crlf.Env = []EnvVar{{"WIN", "line\r\n"}}
	if _, err := (Apptainer{}).ShellFunction(crlf); err == nil || !strings.Contains(err.Error(), "WIN") {
		t.Errorf("a CR LF value, which Apptainer cannot deliver, was accepted: %v", err)
	}
	crlf.Env = []EnvVar{{"LATIN1", "caf\xe9"}}
	if _, err := (Apptainer{}).ShellFunction(crlf); err == nil || !strings.Contains(err.Error(), "LATIN1") {
		t.Errorf("a value that is not UTF-8, which Apptainer cannot read, was accepted: %v", err)
	}
	fn, err = Apptainer{Binary: "/opt/site apps/apptainer", GlobalArgs: []string{"--quiet", "-c", "/etc/site.conf"}}.ShellFunction(spec)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(fn, "'/opt/site apps/apptainer' --quiet -c /etc/site.conf \"${args[@]}\"") {
		t.Errorf("binary and options before exec not as given:\n%s", fn)
	}
}

// A dataset staged once for all its jobs is bound at /kqi/input in place
// of the job's own input/, read-only like it.
func TestApptainerBindsASharedInput(t *testing.T) {
	spec := withImage(baseSpec(), "docker://x:1")
	fn, err := Apptainer{}.ShellFunction(spec)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(fn, "--bind "+spec.Path(InputDir)+":/kqi/input:ro\n") {
		t.Errorf("the job's own input/ is not bound at /kqi/input:\n%s", fn)
	}
	spec.InputSource = "/shared/tenants/1/datasets/3/input"
	if fn, err = (Apptainer{}).ShellFunction(spec); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(fn, "--bind /shared/tenants/1/datasets/3/input:/kqi/input:ro\n") || strings.Contains(fn, spec.Path(InputDir)) {
		t.Errorf("the shared input is not what is bound at /kqi/input:\n%s", fn)
	}
}

func withImage(s JobSpec, image string) JobSpec {
	s.Image = image
	return s
}
