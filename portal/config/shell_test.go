package config

import (
	"strings"
	"testing"
	"time"
)

// Shells run srun on the login node whatever the Slurm backend, so a
// slurmrestd site that offers them needs the login node's SSH settings.
func TestShellNeedsTheLoginNode(t *testing.T) {
	env := map[string]string{
		"KQI_DATABASE_URL": "x", "KQI_SLURM_REST_URL": "http://127.0.0.1:6820", "KQI_SLURM_JWT_KEY_FILE": "/etc/hostname",
		"KQI_SLURM_USER": "kqi", "KQI_SHARED_ROOT": "/shared", "KQI_SECRET_KEY_FILE": "/etc/kqi/secret.key",
	}
	c, err := Load("t", nil, envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	if c.Shell.Listen != ":2022" || c.Shell.Port() != "2022" || c.Shell.Idle != 30*time.Minute || c.Shell.MaxPerUser != 4 ||
		c.Shell.HostKey != "/etc/kqi/shell_host_ed25519_key" || c.Shell.Host != "localhost" {
		t.Errorf("shell defaults: %+v", c.Shell)
	}
	if err := c.RequireCluster(); err == nil || !strings.Contains(err.Error(), "KQI_SSH_ADDR is required") || !strings.Contains(err.Error(), "shells into jobs") {
		t.Errorf("a REST site with shells and no login node: %v", err)
	}
	env["KQI_SSH_ADDR"], env["KQI_SSH_KEY_FILE"], env["KQI_SSH_KNOWN_HOSTS"] = "login:22", "/id", "/known_hosts"
	if c, _ = Load("t", nil, envOf(env)); c.RequireCluster() != nil {
		t.Errorf("a REST site with the login node's settings: %v", c.RequireCluster())
	}
	delete(env, "KQI_SSH_ADDR")
	env["KQI_SHELL_LISTEN"] = "off"
	if c, _ = Load("t", nil, envOf(env)); c.RequireCluster() != nil || c.NeedsLogin() {
		t.Errorf("a REST site without shells still needs the login node: %v", c.RequireCluster())
	}
	for k, v := range map[string]string{"KQI_SHELL_LISTEN": "2022", "KQI_SHELL_IDLE": "never", "KQI_SHELL_MAX_PER_USER": "0"} {
		bad := map[string]string{"KQI_DATABASE_URL": "x", k: v}
		if _, err := Load("t", nil, envOf(bad)); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: %v", k, v, err)
		}
	}
}
