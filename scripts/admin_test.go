package scripts

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"kqi/portal/config"
)

// guideCommands returns the `$ ` commands of docs/admin.md, those of
// blocks marked `<!-- not run here: why -->` apart.
func guideCommands(t *testing.T) (checked, notRun []string) {
	t.Helper()
	f, err := os.Open("../docs/admin.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	inBlock, marked, prev := false, false, ""
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "```"):
			if !inBlock {
				marked = strings.HasPrefix(prev, "<!-- not run here: ") && len(prev) > len("<!-- not run here:  -->")
			}
			inBlock = !inBlock
		case inBlock && strings.HasPrefix(line, "$ "):
			if marked {
				notRun = append(notRun, line[2:])
			} else {
				checked = append(checked, line[2:])
			}
		}
		prev = line
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return checked, notRun
}

// Every command the administrator's guide shows is run by
// scripts/admin-check.sh, verbatim, unless the guide says why this machine
// cannot run it.
func TestAdminGuideCommandsAreChecked(t *testing.T) {
	script, err := os.ReadFile("admin-check.sh")
	if err != nil {
		t.Fatal(err)
	}
	checked, notRun := guideCommands(t)
	if len(checked) < 10 || len(notRun) == 0 {
		t.Fatalf("found %d checked and %d unchecked commands in docs/admin.md: is the $ prefix still used?", len(checked), len(notRun))
	}
	for _, cmd := range checked {
		if !strings.Contains(string(script), cmd) {
			t.Errorf("docs/admin.md shows a command that scripts/admin-check.sh does not run:\n  %s", cmd)
		}
	}
}

// The example environment file is one the portal accepts, with the
// settings the guide describes; the unit starts the portal with it.
func TestAdminExamples(t *testing.T) {
	env := map[string]string{}
	b, err := os.ReadFile("../docs/examples/kqi-portal.env")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("example env line %q is not KEY=value", line)
		}
		env[k] = v
	}
	key := filepath.Join(t.TempDir(), "jwt.key")
	if err := os.WriteFile(key, []byte("k"), 0o600); err != nil {
		t.Fatal(err)
	}
	env["KQI_SLURM_JWT_KEY_FILE"] = key // the example's path is the site's
	cfg, err := config.Load("kqi-portal", nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("the example environment is refused: %v", err)
	}
	if err := cfg.RequireCluster(); err != nil {
		t.Fatalf("the example environment is refused: %v", err)
	}
	if cfg.Runtime != "apptainer" || cfg.ApptainerBinary == "" || len(cfg.MetricsAllow) != 2 || !cfg.SecureCookie {
		t.Errorf("example settings read as %+v", cfg)
	}
	unit, err := os.ReadFile("../docs/examples/kqi-portal.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"EnvironmentFile=/etc/kqi/portal.env", "ExecStartPre=/usr/local/bin/kqi-portal migrate",
		"ExecStart=/usr/local/bin/kqi-portal serve", "User=" + env["KQI_SLURM_USER"], "ReadWritePaths=" + env["KQI_SHARED_ROOT"],
	} {
		if !strings.Contains(string(unit), want+"\n") {
			t.Errorf("the example unit lacks %q", want)
		}
	}
}

// scripts/admin-check.sh passes on the dev cluster: the guide's commands
// give what it says.
func TestAdminCheck(t *testing.T) {
	requireDevCluster(t)
	bin := filepath.Join(t.TempDir(), "kqi-portal")
	if out, err := exec.Command("go", "build", "-o", bin, "kqi/cmd/kqi-portal").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	out, err := exec.Command("./admin-check.sh", bin).CombinedOutput()
	if err != nil {
		t.Fatalf("admin-check.sh: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "all checks passed") {
		t.Fatalf("admin-check.sh did not finish:\n%s", out)
	}
}
