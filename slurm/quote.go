package slurm

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// errNUL is returned for strings that contain a NUL byte: bash strings,
// environment values and argv entries all end at NUL, so such a string can
// never reach the container unchanged.
var errNUL = errors.New("contains a NUL byte")

// shellQuote returns s as one bash word that expands to exactly s.
//
// It is the only way a user-supplied string enters a rendered script. Words
// made only of characters bash never interprets stay bare, so the script
// shown to users stays readable; anything else is single-quoted, where bash
// interprets nothing; an embedded ' ends the quoted part, is written as \'
// and a new quoted part begins. Newlines and every other byte are literal
// inside single quotes.
func shellQuote(s string) (string, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return "", errNUL
	}
	if s != "" && bareWord.MatchString(s) {
		return s, nil
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'", nil
}

// QuoteWord is shellQuote for the portal's own commands, such as the
// TensorBoard command it fills in: s as one bash word that expands to
// exactly s.
func QuoteWord(s string) (string, error) { return shellQuote(s) }

// bareWord matches words bash leaves alone anywhere this package puts a
// word: no globbing, expansion, quoting, tilde or word splitting characters.
var bareWord = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)

// envNamePattern is what bash and every container runtime accept as a
// variable name.
var envNamePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// checkEnvName reports whether name can be exported into the container.
func checkEnvName(name string) error {
	if !envNamePattern.MatchString(name) {
		return fmt.Errorf("environment variable name %q must match %s", name, envNamePattern)
	}
	return nil
}

// checkLine rejects text that would break a one-line context (an #SBATCH
// line, a secrets file line, a log message): NUL, CR and LF.
func checkLine(field, s string) error {
	if strings.IndexByte(s, 0) >= 0 {
		return fmt.Errorf("%s %w", field, errNUL)
	}
	if strings.ContainsAny(s, "\r\n") {
		return fmt.Errorf("%s must be one line", field)
	}
	return nil
}

// checkCharset reports whether s is non-empty, at most max bytes and made of
// the characters re allows; what says in the error which rule failed.
func checkCharset(field, s string, re *regexp.Regexp, max int, what string) error {
	if err := checkLine(field, s); err != nil {
		return err
	}
	if s == "" {
		return fmt.Errorf("%s is required", field)
	}
	if len(s) > max {
		return fmt.Errorf("%s is longer than %d characters", field, max)
	}
	if !re.MatchString(s) {
		return fmt.Errorf("%s %q may contain only %s", field, s, what)
	}
	return nil
}

// Character sets for values that reach #SBATCH lines and bind specifications
// unquoted. sbatch splits #SBATCH lines on blanks and understands quotes, and
// Apptainer's --bind splits on ':' and ',', so those characters are kept out
// rather than escaped.
var (
	slurmWord   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	commentWord = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:=/@+-]*$`)
	pathChars   = regexp.MustCompile(`^/[A-Za-z0-9._@+/-]*$`)
)

const (
	slurmWordChars   = "letters, digits, '.', '_' and '-', starting with a letter or digit"
	commentWordChars = "letters, digits and . _ : = / @ + -, starting with a letter or digit"
	pathCharsText    = "letters, digits and . _ @ + - /"
)

// checkPath accepts a clean absolute path below / made of pathChars.
func checkPath(field, p string) error {
	if err := checkCharset(field, p, pathChars, 4096, pathCharsText); err != nil {
		return err
	}
	if p == "/" {
		return fmt.Errorf("%s must not be /", field)
	}
	for _, part := range strings.Split(p[1:], "/") {
		if part == "" || part == "." || part == ".." {
			return fmt.Errorf("%s %q must be a clean absolute path (no empty, . or .. parts, no trailing /)", field, p)
		}
	}
	return nil
}

// sbatchOptions lists every long option of sbatch (Slurm 22.05's manual)
// with "" when a user may add it as an #SBATCH extra, or the reason KQI
// refuses it. Knowing every option matters: sbatch accepts unambiguous
// abbreviations ("--outp" for "--output"), so a deny list alone could be
// walked around; an extra must be a full name found here.
var sbatchOptions = map[string]string{
	// Allowed: scheduling preferences that do not change what KQI set.
	"acctg-freq": "", "batch": "", "begin": "", "cluster-constraint": "",
	"constraint": "", "contiguous": "",
	"cpu-freq": "", "deadline": "", "delay-boot": "",
	"distribution": "", "exclude": "", "extra-node-info": "",
	"gpu-bind": "", "gpu-freq": "", "gres-flags": "", "hint": "", "hold": "",
	"kill-on-invalid-dep": "", "licenses": "", "mail-type": "", "mail-user": "",
	"mcs-label": "", "mem-bind": "", "network": "", "nice": "",
	"no-kill": "", "no-requeue": "", "nodelist": "", "overcommit": "",
	"oversubscribe": "", "power": "", "prefer": "", "priority": "", "profile": "",
	"propagate": "", "reboot": "", "signal": "",
	"spread-job": "", "switches": "",
	"time-min": "", "tmp": "", "use-min-nodes": "",
	"wait-all-nodes": "", "wckey": "",

	"job-name": reasonSettings, "comment": reasonSettings, "partition": reasonSettings,
	"account": reasonSettings, "cpus-per-task": reasonSettings, "cpus-per-gpu": reasonSettings,
	"mem": reasonSettings, "mem-per-cpu": reasonSettings, "mem-per-gpu": reasonSettings,
	"gres": reasonSettings, "gpus": reasonSettings, "gpus-per-node": reasonSettings,
	"gpus-per-socket": reasonSettings, "gpus-per-task": reasonSettings, "time": reasonSettings,

	// These would give the job more of the node than it asked for, past
	// the tenant's quota (--exclusive hands over every CPU and GPU).
	"exclusive": reasonQuota, "mincpus": reasonQuota, "core-spec": reasonQuota,
	"thread-spec": reasonQuota, "cores-per-socket": reasonQuota,
	"sockets-per-node": reasonQuota, "threads-per-core": reasonQuota,

	"chdir": reasonLayout, "output": reasonLayout, "error": reasonLayout,
	"open-mode": reasonLayout, "input": reasonLayout,

	"export": reasonEnv, "export-file": reasonEnv, "get-user-env": reasonEnv,
	"uid": "jobs run as the submitting user", "gid": "jobs run as the submitting user",

	// Every tenant's jobs share one cluster account, so Slurm cannot tell
	// whose job, reservation or QOS a tenant may name: a dependency on
	// another tenant's job id would reveal how that job ended.
	"dependency": reasonShared, "reservation": reasonShared, "qos": reasonShared,

	"nodes": reasonShape, "ntasks": reasonShape, "ntasks-per-core": reasonShape,
	"ntasks-per-gpu": reasonShape, "ntasks-per-node": reasonShape,
	"ntasks-per-socket": reasonShape, "array": reasonShape,

	"wrap": reasonSubmit, "wait": reasonSubmit, "parsable": reasonSubmit,
	"test-only": reasonSubmit, "usage": reasonSubmit, "help": reasonSubmit,
	"version": reasonSubmit, "quiet": reasonSubmit, "verbose": reasonSubmit,
	"ignore-pbs": reasonSubmit, "clusters": reasonSubmit, "nodefile": reasonSubmit,
	"bb": reasonSubmit, "bbf": reasonSubmit, "container": reasonSubmit,
	"requeue": reasonSubmit,
}

const (
	reasonSettings = "KQI sets it from the job's settings"
	reasonQuota    = "it would allocate more than the job's CPUs and GPUs, past the tenant's quota"
	reasonLayout   = "KQI sets it for the job directory and log"
	reasonEnv      = "KQI controls the job's environment"
	reasonShape    = "a KQI job is one task on one node"
	reasonSubmit   = "it changes how KQI submits or tracks the job"
	reasonShared   = "all tenants' jobs run as one cluster account, so Slurm could not keep it to this tenant's own jobs"
)

var (
	extraName  = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
	extraValue = regexp.MustCompile(`^[A-Za-z0-9._,:=@%+/&|!*\[\]()-]*$`)
)

// checkExtra accepts one user #SBATCH option, "--name" or "--name=value",
// when the name is a full sbatch option users may set and the value has no
// character sbatch would split or unquote on (blanks, quotes, backslash, #).
func checkExtra(opt string) error {
	if err := checkLine("#SBATCH option", opt); err != nil {
		return err
	}
	if !strings.HasPrefix(opt, "--") {
		return fmt.Errorf("#SBATCH option %q must be a long option starting with --", opt)
	}
	name, value, _ := strings.Cut(opt[2:], "=")
	if !extraName.MatchString(name) {
		return fmt.Errorf("#SBATCH option %q: %q is not an option name", opt, name)
	}
	reason, known := sbatchOptions[name]
	if !known {
		return fmt.Errorf("#SBATCH option %q: --%s is not an sbatch option (give the full name)", opt, name)
	}
	if reason != "" {
		return fmt.Errorf("#SBATCH option %q is not allowed: %s", opt, reason)
	}
	if !extraValue.MatchString(value) {
		return fmt.Errorf("#SBATCH option %q: the value may contain only letters, digits and . _ , : = @ %% + / & | ! * [ ] ( ) -", opt)
	}
	return nil
}
