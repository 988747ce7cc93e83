package slurm

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// bashEcho returns what bash makes of word: the test of shellQuote is
// bash's reading of it, not a comparison with expected quoting.
func bashEcho(t testing.TB, word string) string {
	t.Helper()
	out, err := exec.Command("bash", "-c", "printf %s "+word).Output()
	if err != nil {
		t.Fatalf("bash rejected %q: %v", word, err)
	}
	return string(out)
}

func TestShellQuoteRoundTrip(t *testing.T) {
	for _, s := range []string{
		"", "plain", "two words", "it's", "'", "''", `'\''`, `"double"`, "$HOME", "${HOME}",
		"$(id)", "`id`", "a;b", "a&&b", "a|b", "a>b", "<a", "line\nbreak", "tab\there", "\r\n",
		"~", "~root", "*", "?", "[a]", "{a,b}", "!", "!!", "#comment", "-n", "--", `\`, `\\n`,
		"学習", "✓ \U0001F600", "\x01\x7f\xff", "a=b", "%s%%", " leading", "trailing ",
	} {
		q, err := shellQuote(s)
		if err != nil {
			t.Fatalf("shellQuote(%q): %v", s, err)
		}
		if got := bashEcho(t, q); got != s {
			t.Errorf("shellQuote(%q) = %s, which bash reads as %q", s, q, got)
		}
	}
}

func TestShellQuoteRejectsNUL(t *testing.T) {
	if _, err := shellQuote("a\x00b"); !errors.Is(err, errNUL) {
		t.Errorf("shellQuote with NUL: err = %v, want errNUL", err)
	}
}

func TestShellQuoteLeavesSafeWordsBare(t *testing.T) {
	for _, s := range []string{"python", "/shared/kqi/jobs/42", "C.UTF-8", "a=b", "x@y:z,1%+"} {
		if q, _ := shellQuote(s); q != s {
			t.Errorf("shellQuote(%q) = %s, want it bare", s, q)
		}
	}
}

// FuzzShellQuote checks the quoting function on its own, faster than
// FuzzRender: bash must read every quoted word back as the input.
func FuzzShellQuote(f *testing.F) {
	for _, s := range []string{"", "'", `'\''`, "$(id)", "a\nb", "\U0001F600", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := shellQuote(s)
		if strings.ContainsRune(s, 0) {
			if err == nil {
				t.Fatal("NUL accepted")
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if got := bashEcho(t, q); got != s {
			t.Fatalf("shellQuote(%q) = %s, read back as %q", s, q, got)
		}
	})
}

func TestCheckEnvName(t *testing.T) {
	for name, ok := range map[string]bool{
		"A": true, "_": true, "a_b9": true, "PATH": true, "_X1": true,
		"": false, "9A": false, "A-B": false, "A B": false, "A=B": false, "Ä": false, "A\n": false, "$A": false,
	} {
		if err := checkEnvName(name); (err == nil) != ok {
			t.Errorf("checkEnvName(%q) = %v, want ok=%v", name, err, ok)
		}
	}
}

func TestCheckExtra(t *testing.T) {
	for _, tc := range []struct {
		opt  string
		want string // "" = accepted; else a fragment of the error
	}{
		{"--mail-type=END,FAIL", ""},
		{"--mail-user=alice@example.org", ""},
		{"--exclusive", "not allowed: it would allocate more"},
		{"--mincpus=8", "not allowed"},
		{"--constraint=(a&b)|c*2", ""},
		{"--qos=high", "not allowed: all tenants' jobs run as one cluster account"},
		{"--dependency=afterok:123", "not allowed: all tenants"},
		{"--reservation=lab-b", "not allowed"},
		{"--begin=now+1hour", ""},
		{"--output=/tmp/x", "not allowed: KQI sets it for the job directory"},
		{"--error=/tmp/x", "not allowed"},
		{"--job-name=x", "not allowed: KQI sets it from the job's settings"},
		{"--comment=kqi:training:1", "not allowed"},
		{"--partition=gpu", "not allowed"},
		{"--gres=gpu:8", "not allowed"},
		{"--gpus=8", "not allowed"},
		{"--gpus-per-node=8", "not allowed"},
		{"--cpus-per-task=64", "not allowed"},
		{"--mem=1T", "not allowed"},
		{"--mem-per-cpu=1G", "not allowed"},
		{"--time=10", "not allowed"},
		{"--chdir=/", "not allowed"},
		{"--export=ALL", "not allowed: KQI controls the job's environment"},
		{"--wrap=id", "not allowed"},
		{"--uid=0", "not allowed: jobs run as the submitting user"},
		{"--gid=0", "not allowed"},
		{"--array=1-100", "not allowed: a KQI job is one task"},
		{"--nodes=4", "not allowed"},
		{"--account=other", "not allowed"},
		{"-o", "must be a long option"},
		{"-J x", "must be a long option"},
		{"mail-type=END", "must be a long option"},
		{"--outp=/tmp/x", "not an sbatch option (give the full name)"},
		{"--job=x", "not an sbatch option"},
		{"--no-such-option", "not an sbatch option"},
		{"--Output=x", "is not an option name"},
		{"--mail-type=END --output=/tmp/x", "the value may contain only"},
		{"--mail-user=\"a b\"", "the value may contain only"},
		{"--mail-type=END\n#SBATCH --uid=0", "must be one line"},
		{"--mail-type=END\x00", "NUL"},
		{"--mail-user=$(id)", "the value may contain only"},
	} {
		err := checkExtra(tc.opt)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("checkExtra(%q) = %v, want accepted", tc.opt, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("checkExtra(%q) = %v, want an error containing %q", tc.opt, err, tc.want)
		}
	}
}

// TestSbatchOptionsTableIsComplete keeps the table honest against the
// sbatch installed here: every long option its manual lists must be known,
// or a new option would be refused as unknown (harmless) and a new way to
// override KQI's settings could not be reviewed.
func TestSbatchOptionsTableIsComplete(t *testing.T) {
	man, err := exec.Command("sh", "-c", "zcat /usr/share/man/man1/sbatch.1.gz").Output()
	if err != nil {
		t.Fatalf("reading sbatch's manual (slurm-client): %v", err)
	}
	text := strings.ReplaceAll(string(man), `\-`, "-")
	// The option headings are the lines right after ".TP".
	lines := strings.Split(text, "\n")
	seen := 0
	for i := 0; i+1 < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != ".TP" {
			continue
		}
		head := strings.NewReplacer(`\fB`, "", `\fR`, "", `\fI`, "").Replace(lines[i+1])
		for _, field := range strings.FieldsFunc(head, func(r rune) bool { return r == ' ' || r == ',' || r == '=' || r == '[' }) {
			name, ok := strings.CutPrefix(field, "--")
			if !ok || !extraName.MatchString(name) {
				continue
			}
			seen++
			if _, known := sbatchOptions[name]; !known {
				t.Errorf("sbatch option --%s is missing from sbatchOptions", name)
			}
		}
	}
	if seen < 100 {
		t.Errorf("found only %d options in sbatch's manual; the parsing is broken", seen)
	}
}
