package slurm

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*JobSpec)
		want   string // "" = valid; else a fragment of the error
	}{
		{"base spec", func(*JobSpec) {}, ""},
		{"gpu spec", func(s *JobSpec) { s.GPUs, s.GPUType = 2, "a100" }, ""},
		{"no git", func(s *JobSpec) { s.Git = GitSource{} }, ""},
		{"file git", func(s *JobSpec) { s.Git = GitSource{URL: "file:///srv/git/m.git"} }, ""},
		{"empty name", func(s *JobSpec) { s.Name = "" }, "job name is required"},
		{"name with space", func(s *JobSpec) { s.Name = "a b" }, "job name \"a b\" may contain only"},
		{"name with newline", func(s *JobSpec) { s.Name = "a\n#SBATCH --uid=0" }, "job name must be one line"},
		{"comment with quote", func(s *JobSpec) { s.Comment = "kqi'1" }, "comment"},
		{"partition with space", func(s *JobSpec) { s.Partition = "gpu a100" }, "partition"},
		{"zero cpus", func(s *JobSpec) { s.CPUs = 0 }, "CPUs must be at least 1"},
		{"negative memory", func(s *JobSpec) { s.MemoryGiB = -1 }, "memory must not be negative"},
		{"negative gpus", func(s *JobSpec) { s.GPUs = -1 }, "GPUs must not be negative"},
		{"gpu type without gpus", func(s *JobSpec) { s.GPUType = "a100" }, "no GPUs are requested"},
		{"gpu type with colon", func(s *JobSpec) { s.GPUs, s.GPUType = 1, "a100:8" }, "GPU type"},
		{"negative time", func(s *JobSpec) { s.TimeLimit = -time.Second }, "time limit must not be negative"},
		{"denied extra", func(s *JobSpec) { s.Extra = []string{"--output=/etc/x"} }, "--output=/etc/x\" is not allowed"},
		{"bad env name", func(s *JobSpec) { s.Env = []EnvVar{{"1X", "v"}} }, "user variable: environment variable name \"1X\""},
		{"env overrides system", func(s *JobSpec) { s.Env = []EnvVar{{"TRAINING_ID", "1"}} }, "TRAINING_ID is set by KQI and cannot be overridden"},
		{"env overrides absent read-only", func(s *JobSpec) { s.Env = []EnvVar{{"PARENT_ID", "1"}} }, "PARENT_ID is set by KQI"},
		{"env sets the KQI token", func(s *JobSpec) { s.Env = []EnvVar{{"KQI_TOKEN", "x"}} }, "KQI_TOKEN is set by KQI"},
		{"env replaces a site variable", func(s *JobSpec) { s.Env = []EnvVar{{"COLUMNS", "80"}} }, ""},
		{"system holds a secret", func(s *JobSpec) { s.System = append(s.System, EnvVar{"MODEL_REPOSITORY_TOKEN", "t"}) }, "comes from the secrets file"},
		{"duplicate user env", func(s *JobSpec) { s.Env = []EnvVar{{"A", "1"}, {"A", "2"}} }, "user variable A is set twice"},
		{"env value with NUL", func(s *JobSpec) { s.Env = []EnvVar{{"A", "a\x00"}} }, "user variable A: value contains a NUL byte"},
		{"env value with newline", func(s *JobSpec) { s.Env = []EnvVar{{"A", "a\nb"}} }, ""},
		{"git URL with credentials", func(s *JobSpec) { s.Git.URL = "https://u:tok@git.example.org/m.git" }, "must not contain credentials"},
		{"git ext transport", func(s *JobSpec) { s.Git.URL = "ext::sh -c touch% /tmp/x" }, "git URL"},
		{"git option as URL", func(s *JobSpec) { s.Git.URL = "--upload-pack=touch /tmp/x" }, "git URL"},
		{"git branch option", func(s *JobSpec) { s.Git.Branch = "-x" }, "git branch"},
		{"git branch dots", func(s *JobSpec) { s.Git.Branch = "a/../b" }, "must not contain .."},
		{"git commit not hex", func(s *JobSpec) { s.Git.Commit = "HEAD~1" }, "git commit"},
		{"branch without URL", func(s *JobSpec) { s.Git = GitSource{Branch: "main"} }, "without a repository URL"},
		{"no image", func(s *JobSpec) { s.Image = "" }, "image is required"},
		{"blank command", func(s *JobSpec) { s.Command = " \n\t" }, "command is required"},
		{"command with NUL", func(s *JobSpec) { s.Command = "a\x00" }, "command contains a NUL byte"},
		{"multi-line command", func(s *JobSpec) { s.Command = "a\nb" }, ""},
		{"relative job dir", func(s *JobSpec) { s.JobDir = "jobs/42" }, "job directory"},
		{"job dir with dots", func(s *JobSpec) { s.JobDir = "/shared/../etc" }, "clean absolute path"},
		{"job dir with comma", func(s *JobSpec) { s.JobDir = "/shared/a,b" }, "job directory"},
		{"job dir root", func(s *JobSpec) { s.JobDir = "/" }, "must not be /"},
		{"shared input dir", func(s *JobSpec) { s.InputSource = "/shared/tenants/1/datasets/3/input" }, ""},
		{"relative input dir", func(s *JobSpec) { s.InputSource = "datasets/3/input" }, "input directory"},
		{"input dir with colon", func(s *JobSpec) { s.InputSource = "/a:/etc" }, "input directory"},
		{"input dir with dots", func(s *JobSpec) { s.InputSource = "/shared/../etc" }, "clean absolute path"},
		{"input with colon", func(s *JobSpec) { s.Inputs = []Bind{{Source: "/a:/etc", Target: "/kqi/parent"}} }, "input source"},
		{"input hiding /kqi/output", func(s *JobSpec) { s.Inputs = []Bind{{Source: "/a", Target: "/kqi/output/x"}} }, "would hide /kqi/output"},
		{"input outside /kqi", func(s *JobSpec) { s.Inputs = []Bind{{Source: "/a", Target: "/etc"}} }, "below /kqi/"},
		{"input bound twice", func(s *JobSpec) {
			s.Inputs = []Bind{{Source: "/a", Target: "/kqi/parent"}, {Source: "/b", Target: "/kqi/parent"}}
		}, "bound twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := baseSpec()
			tc.change(&spec)
			err := spec.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate = %v, want valid", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Validate = %v, want an error containing %q", err, tc.want)
			}
			if tc.want != "" {
				if _, err := Render(spec, Bubblewrap{}); err == nil {
					t.Error("Render accepted the invalid spec")
				}
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	spec := baseSpec()
	spec.Name, spec.CPUs, spec.Command = "", 0, ""
	err := spec.Validate()
	for _, want := range []string{"job name", "CPUs", "command"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate = %v, want it to mention %s", err, want)
		}
	}
}

func TestSbatchOptions(t *testing.T) {
	spec := baseSpec()
	spec.Account = "tenant-a"
	spec.GPUs, spec.GPUType = 2, "a100"
	spec.TimeLimit = 61*time.Minute + time.Second
	spec.Extra = []string{"--mail-type=END"}
	want := []string{
		"--job-name=training-mnist-42", "--comment=kqi:training:42", "--partition=cpu", "--account=tenant-a",
		"--nodes=1", "--ntasks=1", "--cpus-per-task=2", "--mem=4G", "--gres=gpu:a100:2", "--time=62",
		"--chdir=/shared/kqi/jobs/42", "--output=/shared/kqi/jobs/42/log", "--error=/shared/kqi/jobs/42/log",
		"--open-mode=append", "--mail-type=END",
	}
	if got := spec.SbatchOptions(); !reflect.DeepEqual(got, want) {
		t.Errorf("SbatchOptions =\n%q\nwant\n%q", got, want)
	}

	defaults := baseSpec()
	defaults.Partition, defaults.MemoryGiB = "", 0
	for _, opt := range defaults.SbatchOptions() {
		for _, absent := range []string{"--partition", "--account", "--mem", "--gres", "--time"} {
			if strings.HasPrefix(opt, absent+"=") {
				t.Errorf("%s rendered for a spec that leaves it to Slurm", opt)
			}
		}
	}
}

func TestResourceHelpers(t *testing.T) {
	for _, tc := range []struct {
		gpus    int
		gpuType string
		want    string
	}{{0, "", ""}, {1, "", "gpu:1"}, {4, "a100", "gpu:a100:4"}} {
		s := JobSpec{GPUs: tc.gpus, GPUType: tc.gpuType}
		if got := s.GRES(); got != tc.want {
			t.Errorf("GRES(%d, %q) = %q, want %q", tc.gpus, tc.gpuType, got, tc.want)
		}
	}
	for limit, want := range map[time.Duration]int{0: 0, time.Second: 1, time.Minute: 1, 90 * time.Minute: 90, 90*time.Minute + 1: 91} {
		if got := (JobSpec{TimeLimit: limit}).TimeLimitMinutes(); got != want {
			t.Errorf("TimeLimitMinutes(%s) = %d, want %d", limit, got, want)
		}
	}
	if got := (JobSpec{MemoryGiB: 16}).MemoryMB(); got != 16384 {
		t.Errorf("MemoryMB = %d, want 16384", got)
	}
}

func TestContainerEnvOrder(t *testing.T) {
	spec := JobSpec{
		SiteEnv: []EnvVar{{"COLUMNS", "200"}, {"LANG", "C.UTF-8"}},
		System:  []EnvVar{{"TRAINING_ID", "1"}},
		Env:     []EnvVar{{"Z", "1"}, {"COLUMNS", "80"}, {"A", "2"}},
	}
	want := []EnvVar{{"LANG", "C.UTF-8"}, {"TRAINING_ID", "1"}, {"Z", "1"}, {"COLUMNS", "80"}, {"A", "2"}}
	if got := spec.containerEnv(); !reflect.DeepEqual(got, want) {
		t.Errorf("containerEnv = %v, want %v", got, want)
	}
}

func TestSecretsMarshal(t *testing.T) {
	b, err := Secrets{GitToken: "g", KQIToken: "k=v", RegistryPassword: "p w"}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if want := "GIT_TOKEN=g\nKQI_TOKEN=k=v\nREGISTRY_PASSWORD=p w\n"; string(b) != want {
		t.Errorf("Marshal = %q, want %q", b, want)
	}
	if _, err := (Secrets{KQIToken: "a\nGIT_TOKEN=x"}).Marshal(); err == nil {
		t.Error("Marshal accepted a value with a newline, which would forge another line")
	}
}

func TestCredentialURL(t *testing.T) {
	for raw, want := range map[string]string{
		"https://git.example.org/ml/m.git":       "https://git.example.org",
		"http://127.0.0.1:8080/m.git":            "http://127.0.0.1:8080",
		"https://git.example.org:8443/a/b/c.git": "https://git.example.org:8443",
		"file:///srv/git/m.git":                  "",
		"ssh://git.example.org/m.git":            "",
		"git://git.example.org/m.git":            "",
		"":                                       "",
	} {
		if got := (GitSource{URL: raw}).credentialURL(); got != want {
			t.Errorf("credentialURL(%q) = %q, want %q", raw, got, want)
		}
	}
}
