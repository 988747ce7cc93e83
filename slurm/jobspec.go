// Package slurm is the only part of KQI that knows Slurm: it turns a typed
// JobSpec into a batch script, describes how the script's container runtimes
// run the user's command, and maps what Slurm and the script report back to
// KQI's statuses. It knows nothing of HTTP or the database.
package slurm

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Names of the entries in a job directory. The portal lays the directory
// out and reads the results; the script reads the secrets and writes the rest.
const (
	ScriptFile   = "script.sh" // an array task's script, which the array's script runs (a single job's is kept with its row)
	LogFile      = "log"       // Slurm's and the script's output, appended to as it happens
	SecretsFile  = "secrets"   // KEY=value lines, mode 0600, read by the script at run time
	ExitCodeFile = "exit_code" // the command's exit code, one decimal line, written last
	ErrorFile    = "error"     // one line naming why the command never ran (clone or image failure)
	CommitFile   = "commit"    // the commit actually checked out, for branch builds
	PullingFile  = "pulling"   // present while the job pulls its docker:// image (or waits for another job's pull)
	GitDir       = "git"       // the model repository: /kqi/git
	InputDir     = "input"     // the dataset, staged by the portal: /kqi/input
	OutputDir    = "output"    // the results: /kqi/output
	AttachDir    = "attach"    // files attached on the training's page: /kqi/attach
)

// readOnlyEnv lists the variables SPEC §5 promises the user's code and that
// user variables may never override, whether or not a given job sets them.
var readOnlyEnv = []string{
	"TRAINING_ID", "INFERENCE_ID", "PREPROCESSING_ID", "DATA_ID", "DATA_NAME", "DATASET_ID", "PARENT_ID",
	"MODEL_REPOSITORY", "MODEL_REPOSITORY_TOKEN", "COMMIT_ID",
	"KQI_SERVER", "KQI_TOKEN", "ENTRY_POINT",
}

// JobSpec describes one batch job: what Slurm allocates, what the script
// clones, which container runs which command, and where the job directory
// is. Every string in it may come from a user; Validate checks it and Render
// quotes it.
type JobSpec struct {
	Name      string        // Slurm job name, e.g. "training-mnist-42"
	Comment   string        // identifies the portal row, e.g. "kqi:training:42", so a lost submit can be reconciled
	Partition string        // "" = the cluster's default partition
	Account   string        // Slurm account the tenant maps to; "" = the submitting user's default
	CPUs      int           // --cpus-per-task, at least 1
	MemoryGiB int           // --mem in GiB; 0 = the partition's default
	GPUs      int           // GPUs on the one node; 0 = none
	GPUType   string        // GRES type such as "a100"; "" = any type
	TimeLimit time.Duration // 0 = the partition's default; rounded up to whole minutes
	Extra     []string      // user #SBATCH options such as "--mail-type=END"; see checkExtra

	// SiteEnv holds the administrator's variables (proxies, COLUMNS, LC_ALL,
	// LANG): a user variable of the same name replaces one.
	SiteEnv []EnvVar
	// System holds KQI's read-only variables (TRAINING_ID, DATASET_ID, ...).
	// Secret ones (KQI_TOKEN, MODEL_REPOSITORY_TOKEN) are not listed here:
	// the script reads them from the secrets file.
	System []EnvVar
	// Env holds the user's variables, in the order the user gave them.
	Env []EnvVar

	Git GitSource // the model repository; an empty URL leaves /kqi/git empty

	// Image names the container image. Its form depends on the Runtime:
	// see Apptainer and Bubblewrap.
	Image string
	// Command is what the user typed; it runs as `bash -c Command` in the
	// container, in /kqi/git.
	Command string

	// JobDir is the job's directory on the shared filesystem, laid out as
	// the constants above describe.
	JobDir string
	// InputSource, if set, is the directory bound read-only at /kqi/input
	// in place of JobDir/input: a dataset staged once for all its jobs.
	InputSource string
	// Inputs are further directories the container sees read-only, such as
	// a parent's outputs at /kqi/parent: what a kind of job adds to the
	// /kqi directories every job has.
	Inputs []Bind

	// ArraySize makes the job a Slurm job array of that many tasks
	// (--array=0-{ArraySize-1}), 0 = a single job. Task i runs the job
	// script JobDir/i/script.sh (see RenderArray) and logs to JobDir/i/log.
	ArraySize int
	// ArrayLimit is how many tasks of the array may run at once (the
	// array's "%" throttle); 0 = as many as Slurm schedules.
	ArrayLimit int
}

// MaxArraySize is the most tasks one array may have: Slurm's default
// MaxArraySize is 1001 (task ids 0-1000).
const MaxArraySize = 1000

// Bind is one directory of the shared filesystem made visible read-only in
// the container.
type Bind struct {
	Source string // as the nodes see it
	Target string // in the container, below /kqi/
}

// coreTargets are the /kqi directories every job has; Inputs may not
// replace them (nor sit inside one: /kqi/output must stay writable).
var coreTargets = []string{"/kqi/git", "/kqi/input", "/kqi/output", "/kqi/attach"}

func (b Bind) validate() error {
	if err := checkPath("input source", b.Source); err != nil {
		return err
	}
	if err := checkPath("input target", b.Target); err != nil {
		return err
	}
	if !strings.HasPrefix(b.Target, "/kqi/") {
		return fmt.Errorf("input target %q must be below /kqi/", b.Target)
	}
	for _, c := range coreTargets {
		if b.Target == c || strings.HasPrefix(b.Target, c+"/") {
			return fmt.Errorf("input target %q would hide %s", b.Target, c)
		}
	}
	return nil
}

// EnvVar is one environment variable for the container.
type EnvVar struct {
	Name  string
	Value string
}

// GitSource is where the model comes from. The access token is not here: the
// script reads GIT_TOKEN from the secrets file.
type GitSource struct {
	URL    string // http(s)://, ssh://, git:// or file:// URL without credentials
	Branch string // "" = the repository's default branch
	Commit string // full or abbreviated hex id; "" = the branch's tip
	// Username is sent with the token; "" means "oauth2", which GitLab
	// requires and GitHub and Gitea accept.
	Username string
}

// CheckAccount checks the name of a Slurm account a tenant maps to.
func CheckAccount(name string) error {
	return checkCharset("account", name, slurmWord, 128, slurmWordChars)
}

// Validate reports every problem with the spec, each naming the field or
// variable at fault, joined with errors.Join.
func (s JobSpec) Validate() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(checkCharset("job name", s.Name, slurmWord, 128, slurmWordChars))
	add(checkCharset("comment", s.Comment, commentWord, 256, commentWordChars))
	if s.Partition != "" {
		add(checkCharset("partition", s.Partition, slurmWord, 128, slurmWordChars))
	}
	if s.Account != "" {
		add(CheckAccount(s.Account))
	}
	if s.CPUs < 1 {
		add(fmt.Errorf("CPUs must be at least 1, got %d", s.CPUs))
	}
	if s.MemoryGiB < 0 {
		add(fmt.Errorf("memory must not be negative, got %d GiB", s.MemoryGiB))
	}
	if s.GPUs < 0 {
		add(fmt.Errorf("GPUs must not be negative, got %d", s.GPUs))
	}
	if s.GPUType != "" {
		if s.GPUs == 0 {
			add(fmt.Errorf("GPU type %q is set but no GPUs are requested", s.GPUType))
		}
		add(checkCharset("GPU type", s.GPUType, slurmWord, 64, slurmWordChars))
	}
	if s.TimeLimit < 0 {
		add(fmt.Errorf("time limit must not be negative, got %s", s.TimeLimit))
	}
	for _, x := range s.Extra {
		add(checkExtra(x))
	}
	add(s.checkEnv())
	add(s.Git.validate())
	if s.Image == "" {
		add(errors.New("image is required"))
	} else {
		add(checkLine("image", s.Image))
	}
	if strings.TrimSpace(s.Command) == "" {
		add(errors.New("command is required"))
	} else if strings.IndexByte(s.Command, 0) >= 0 {
		add(fmt.Errorf("command %w", errNUL))
	}
	add(checkPath("job directory", s.JobDir))
	if s.InputSource != "" {
		add(checkPath("input directory", s.InputSource))
	}
	if s.ArraySize < 0 || s.ArraySize > MaxArraySize {
		add(fmt.Errorf("an array has 1 to %d tasks, got %d", MaxArraySize, s.ArraySize))
	}
	if s.ArrayLimit < 0 || (s.ArrayLimit > 0 && s.ArraySize == 0) {
		add(fmt.Errorf("array limit %d needs an array", s.ArrayLimit))
	}
	seen := map[string]bool{}
	for _, b := range s.Inputs {
		add(b.validate())
		if seen[b.Target] {
			add(fmt.Errorf("input target %q is bound twice", b.Target))
		}
		seen[b.Target] = true
	}
	return errors.Join(errs...)
}

// secretEnv are the variables the container gets from the secrets file.
// They may appear in no list of the spec, so that their values can never be
// rendered into the script text.
var secretEnv = []string{"KQI_TOKEN", "MODEL_REPOSITORY_TOKEN"}

func (s JobSpec) checkEnv() error {
	var errs []error
	system := map[string]bool{}
	for _, n := range readOnlyEnv {
		system[n] = true
	}
	check := func(list string, vars []EnvVar) map[string]bool {
		seen := map[string]bool{}
		for _, v := range vars {
			if err := checkEnvName(v.Name); err != nil {
				errs = append(errs, fmt.Errorf("%s variable: %w", list, err))
				continue
			}
			if strings.IndexByte(v.Value, 0) >= 0 {
				errs = append(errs, fmt.Errorf("%s variable %s: value %w", list, v.Name, errNUL))
			}
			for _, secret := range secretEnv {
				if v.Name == secret {
					errs = append(errs, fmt.Errorf("%s variable %s: its value comes from the secrets file and must not be in the script", list, v.Name))
				}
			}
			if seen[v.Name] {
				errs = append(errs, fmt.Errorf("%s variable %s is set twice", list, v.Name))
			}
			seen[v.Name] = true
		}
		return seen
	}
	check("site", s.SiteEnv)
	for n := range check("system", s.System) {
		system[n] = true
	}
	for _, v := range s.Env {
		if system[v.Name] {
			errs = append(errs, fmt.Errorf("environment variable %s is set by KQI and cannot be overridden", v.Name))
		}
	}
	check("user", s.Env)
	return errors.Join(errs...)
}

// containerEnv is the spec's part of the container environment in the
// order it is applied: site variables the user did not replace, KQI's, the
// user's. The script adds Slurm's variables before these and the secrets
// after them.
func (s JobSpec) containerEnv() []EnvVar {
	user := map[string]bool{}
	for _, v := range s.Env {
		user[v.Name] = true
	}
	var env []EnvVar
	for _, v := range s.SiteEnv {
		if !user[v.Name] {
			env = append(env, v)
		}
	}
	env = append(env, s.System...)
	return append(env, s.Env...)
}

var (
	gitRef    = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._/+-]*$`)
	gitCommit = regexp.MustCompile(`^[0-9a-fA-F]{4,64}$`)
)

func (g GitSource) validate() error {
	if g.URL == "" {
		if g.Branch != "" || g.Commit != "" {
			return errors.New("git branch or commit is set without a repository URL")
		}
		return nil
	}
	var errs []error
	if err := checkLine("git URL", g.URL); err != nil {
		errs = append(errs, err)
	} else if u, err := url.Parse(g.URL); err != nil {
		errs = append(errs, fmt.Errorf("git URL: %w", err))
	} else {
		switch u.Scheme {
		case "https", "http", "ssh", "git", "file":
		default:
			errs = append(errs, fmt.Errorf("git URL %q must use https, http, ssh, git or file", g.URL))
		}
		if u.User != nil {
			errs = append(errs, errors.New("git URL must not contain credentials; the token goes in the secrets file"))
		}
	}
	if g.Branch != "" {
		if err := checkCharset("git branch", g.Branch, gitRef, 255, "letters, digits and . _ / + -"); err != nil {
			errs = append(errs, err)
		} else if strings.Contains(g.Branch, "..") {
			errs = append(errs, fmt.Errorf("git branch %q must not contain ..", g.Branch))
		}
	}
	if g.Commit != "" && !gitCommit.MatchString(g.Commit) {
		errs = append(errs, fmt.Errorf("git commit %q must be 4 to 64 hexadecimal digits", g.Commit))
	}
	if g.Username != "" {
		if err := checkCharset("git username", g.Username, commentWord, 128, commentWordChars); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// credentialURL is the scheme and server the token may be sent to, such as
// "https://git.example.org:8443", or "" when the URL does not use HTTP,
// where a token means nothing.
func (g GitSource) credentialURL() string {
	u, err := url.Parse(g.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// GRES is the generic resource request for the spec's GPUs, such as
// "gpu:a100:2", or "" when it asks for none.
func (s JobSpec) GRES() string {
	switch {
	case s.GPUs == 0:
		return ""
	case s.GPUType == "":
		return "gpu:" + strconv.Itoa(s.GPUs)
	default:
		return "gpu:" + s.GPUType + ":" + strconv.Itoa(s.GPUs)
	}
}

// TimeLimitMinutes is the time limit in whole minutes, rounded up because
// Slurm counts minutes; 0 means the partition's default.
func (s JobSpec) TimeLimitMinutes() int {
	if s.TimeLimit <= 0 {
		return 0
	}
	return int((s.TimeLimit + time.Minute - 1) / time.Minute)
}

// MemoryMB is the memory request in Slurm's megabytes (MiB), as slurmrestd
// wants it; 0 means the partition's default.
func (s JobSpec) MemoryMB() int { return s.MemoryGiB * 1024 }

// ArrayRange is the --array value, such as "0-2%2", or "" for a single job.
func (s JobSpec) ArrayRange() string {
	if s.ArraySize <= 0 {
		return ""
	}
	r := "0-" + strconv.Itoa(s.ArraySize-1)
	if s.ArrayLimit > 0 {
		r += "%" + strconv.Itoa(s.ArrayLimit)
	}
	return r
}

// LogPath is where Slurm writes the job's output: JobDir/log, or for an
// array each task's own JobDir/{task}/log (%a is Slurm's task index).
func (s JobSpec) LogPath() string {
	if s.ArraySize > 0 {
		return s.JobDir + "/%a/" + LogFile
	}
	return s.Path(LogFile)
}

// Path joins the job directory and one of the entry names above.
func (s JobSpec) Path(entry string) string { return s.JobDir + "/" + entry }

// SbatchOptions are the options the script's #SBATCH lines carry, in order:
// KQI's, then the user's extras. The SSH backend needs nothing more; the
// REST backend reads the typed fields instead, because slurmrestd ignores
// #SBATCH lines.
func (s JobSpec) SbatchOptions() []string {
	opts := []string{
		"--job-name=" + s.Name,
		"--comment=" + s.Comment,
	}
	if s.Partition != "" {
		opts = append(opts, "--partition="+s.Partition)
	}
	if s.Account != "" {
		opts = append(opts, "--account="+s.Account)
	}
	opts = append(opts, "--nodes=1", "--ntasks=1", "--cpus-per-task="+strconv.Itoa(s.CPUs))
	if s.MemoryGiB > 0 {
		opts = append(opts, "--mem="+strconv.Itoa(s.MemoryGiB)+"G")
	}
	if g := s.GRES(); g != "" {
		opts = append(opts, "--gres="+g)
	}
	if m := s.TimeLimitMinutes(); m > 0 {
		opts = append(opts, "--time="+strconv.Itoa(m))
	}
	if a := s.ArrayRange(); a != "" {
		opts = append(opts, "--array="+a)
	}
	opts = append(opts,
		"--chdir="+s.JobDir,
		"--output="+s.LogPath(),
		"--error="+s.LogPath(),
		// The script appends to the same log; append mode keeps Slurm
		// from truncating it on a requeue and interleaves both writers.
		"--open-mode=append",
	)
	return append(opts, s.Extra...)
}

// Secrets are the values the script reads at run time from the job's
// secrets file, so that none of them is in the script, on a command line or
// in the log. KQIToken and ModelRepositoryToken are also exported into the
// container, as SPEC §5 promises the user's code.
type Secrets struct {
	GitToken             string // used by the clone only
	KQIToken             string // KQI_TOKEN in the container
	ModelRepositoryToken string // MODEL_REPOSITORY_TOKEN in the container
	RegistryUsername     string // for pulling the image, given to the runtime only
	RegistryPassword     string
}

// Marshal returns the secrets file's content: one KEY=value line per
// non-empty value, the value raw to the end of the line. The portal writes
// it as JobDir/secrets with mode 0600 before submitting.
func (s Secrets) Marshal() ([]byte, error) {
	var b strings.Builder
	for _, kv := range []EnvVar{
		{"GIT_TOKEN", s.GitToken},
		{"KQI_TOKEN", s.KQIToken},
		{"MODEL_REPOSITORY_TOKEN", s.ModelRepositoryToken},
		{"REGISTRY_USERNAME", s.RegistryUsername},
		{"REGISTRY_PASSWORD", s.RegistryPassword},
	} {
		if kv.Value == "" {
			continue
		}
		if err := checkLine("secret "+kv.Name, kv.Value); err != nil {
			return nil, err
		}
		b.WriteString(kv.Name + "=" + kv.Value + "\n")
	}
	return []byte(b.String()), nil
}
