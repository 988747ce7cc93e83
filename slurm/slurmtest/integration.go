package slurmtest

import (
	"os"
	"strings"
	"testing"
)

// Integration marks t as a test that needs the dev cluster (Slurm, sshd or
// its other services). Under -short, as `make test-unit` runs, it skips t.
// Otherwise it returns the named settings from the environment and fails t,
// never skips, when one is missing: a missing cluster must turn `make test`
// red. Call it first, before anything waits on the cluster.
func Integration(t testing.TB, names ...string) map[string]string {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the dev cluster: `make test` runs it (skipped under -short, as `make test-unit` runs)")
	}
	env := make(map[string]string, len(names))
	var missing []string
	for _, name := range names {
		v := os.Getenv(name)
		if v == "" {
			missing = append(missing, name)
		}
		env[name] = v
	}
	if len(missing) > 0 {
		t.Fatalf("%s not set: start the dev cluster (scripts/dev-cluster.sh up) and export its settings (set -a; . /var/lib/kqi-dev/env; set +a), or run `make test`, which does both", strings.Join(missing, ", "))
	}
	return env
}
