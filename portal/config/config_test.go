package config

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"kqi/storage"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadDefaultsAndOverrides(t *testing.T) {
	c, err := Load("t", []string{"-listen", "127.0.0.1:9000"}, envOf(map[string]string{
		"KQI_DATABASE_URL":    "postgres://x@localhost/kqi",
		"KQI_LISTEN":          ":7000", // the flag wins
		"KQI_SESSION_IDLE":    "45m",
		"KQI_TRUSTED_PROXIES": "10.0.0.7, 192.168.1.0/24,::1",
		"KQI_SUBMIT_GRACE":    "3m",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9000" || c.BaseURL != "http://localhost:9000" || c.SessionIdle != 45*time.Minute || c.SessionMax != 24*time.Hour {
		t.Fatalf("%+v", c)
	}
	if c.SubmitGrace != 3*time.Minute || c.UploadSweepAge != 24*time.Hour {
		t.Fatalf("submit grace %s, upload sweep age %s", c.SubmitGrace, c.UploadSweepAge)
	}
	if fmt.Sprint(c.TrustedProxies) != "[10.0.0.7/32 192.168.1.0/24 ::1/128]" {
		t.Fatalf("trusted proxies %v", c.TrustedProxies)
	}
}

func TestLoadRejects(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"no database", map[string]string{}, "KQI_DATABASE_URL is required"},
		{"bad duration", map[string]string{"KQI_DATABASE_URL": "x", "KQI_SESSION_IDLE": "soon"}, "KQI_SESSION_IDLE"},
		{"negative duration", map[string]string{"KQI_DATABASE_URL": "x", "KQI_API_TOKEN_TTL": "-1h"}, "KQI_API_TOKEN_TTL"},
		{"zero submit grace", map[string]string{"KQI_DATABASE_URL": "x", "KQI_SUBMIT_GRACE": "0s"}, "KQI_SUBMIT_GRACE"},
		{"bad sweep age", map[string]string{"KQI_DATABASE_URL": "x", "KQI_UPLOAD_SWEEP_AGE": "a day"}, "KQI_UPLOAD_SWEEP_AGE"},
		{"bad listen", map[string]string{"KQI_DATABASE_URL": "x", "KQI_LISTEN": "8080"}, "KQI_LISTEN"},
		{"bad level", map[string]string{"KQI_DATABASE_URL": "x", "KQI_LOG_LEVEL": "loud"}, "KQI_LOG_LEVEL"},
		{"bad bool", map[string]string{"KQI_DATABASE_URL": "x", "KQI_SECURE_COOKIE": "maybe"}, "KQI_SECURE_COOKIE"},
		{"bad proxy", map[string]string{"KQI_DATABASE_URL": "x", "KQI_TRUSTED_PROXIES": "10.0.0.1,proxy.example.org"}, "proxy.example.org"},
		{"bad base url", map[string]string{"KQI_DATABASE_URL": "x", "KQI_BASE_URL": "ftp://host"}, "KQI_BASE_URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load("t", nil, envOf(tc.env))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want mention of %s", err, tc.want)
			}
		})
	}
}

func TestRequireCluster(t *testing.T) {
	c, err := Load("t", nil, envOf(map[string]string{"KQI_DATABASE_URL": "x"}))
	if err != nil {
		t.Fatal(err)
	}
	err = c.RequireCluster()
	for _, want := range []string{"KQI_SLURM_REST_URL", "KQI_SLURM_JWT_KEY_FILE", "KQI_SLURM_USER", "KQI_SHARED_ROOT", "KQI_SECRET_KEY_FILE"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("RequireCluster error %v lacks %s", err, want)
		}
	}
	c.SlurmRESTURL, c.SlurmJWTKeyFile, c.SlurmUser, c.SharedRoot, c.SecretKeyFile = "http://127.0.0.1:6820", "/etc/hostname", "kqi", "/shared", "/key"
	c.Shell.Listen = "off" // shells need the login node too (TestShellNeedsTheLoginNode)
	if err := c.RequireCluster(); err != nil {
		t.Fatal(err)
	}
	// Only the slurmrestd version the code speaks is accepted.
	for _, v := range []string{"v0.0.39", "v0.0.40", "v0.0.41", "v0.0.37", "0.0.38"} {
		c.SlurmAPIVersion = v
		if err := c.RequireCluster(); err == nil || !strings.Contains(err.Error(), "KQI_SLURM_API_VERSION") {
			t.Errorf("KQI_SLURM_API_VERSION=%s: %v", v, err)
		}
	}
	c.SlurmAPIVersion = "v0.0.38"
	c.FileStore = "sftp"
	if err := c.RequireCluster(); err == nil || !strings.Contains(err.Error(), "KQI_SSH_KEY_FILE is required with KQI_FILE_STORE=sftp or KQI_SLURM_BACKEND=ssh") {
		t.Fatalf("sftp without ssh settings: %v", err)
	}
}

// A site without slurmrestd runs the SSH backend on the login node's
// settings alone.
func TestRequireClusterSSHBackendNeedsNoSlurmrestd(t *testing.T) {
	c, err := Load("t", nil, envOf(map[string]string{
		"KQI_DATABASE_URL": "x", "KQI_SLURM_BACKEND": "ssh", "KQI_SLURM_USER": "kqi",
		"KQI_SHARED_ROOT": "/shared", "KQI_SECRET_KEY_FILE": "/key",
		"KQI_SSH_ADDR": "login:22", "KQI_SSH_KEY_FILE": "/id", "KQI_SSH_KNOWN_HOSTS": "/known_hosts",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.RequireCluster(); err != nil {
		t.Fatalf("SSH backend without slurmrestd settings: %v", err)
	}
	c.SSHAddr = ""
	if err := c.RequireCluster(); err == nil || !strings.Contains(err.Error(), "KQI_SSH_ADDR is required") {
		t.Fatalf("SSH backend without a login node: %v", err)
	}
}

// KQI_SSH_USER is no longer a login of its own: the same value as
// KQI_SLURM_USER is accepted, another is refused.
func TestLoadSSHUserMustBeTheClusterAccount(t *testing.T) {
	env := map[string]string{"KQI_DATABASE_URL": "x", "KQI_SLURM_USER": "kqi", "KQI_SSH_USER": "kqi"}
	if _, err := Load("t", nil, envOf(env)); err != nil {
		t.Fatal(err)
	}
	env["KQI_SSH_USER"] = "other"
	if _, err := Load("t", nil, envOf(env)); err == nil || !strings.Contains(err.Error(), "KQI_SSH_USER") {
		t.Fatalf("KQI_SSH_USER of another account: %v", err)
	}
}

func TestClusterIdentity(t *testing.T) {
	c := &Config{SlurmUser: "kqi"}
	for name, tc := range map[string]struct {
		tenant *storage.Tenant
		want   Identity
	}{
		"the portal itself":        {nil, Identity{User: "kqi"}},
		"a tenant without account": {&storage.Tenant{Name: "a"}, Identity{User: "kqi"}},
		"a tenant with an account": {&storage.Tenant{Name: "b", SlurmAccount: "proj-b"}, Identity{User: "kqi", Account: "proj-b"}},
	} {
		if got := c.ClusterIdentity(tc.tenant); got != tc.want {
			t.Errorf("%s: %+v, want %+v", name, got, tc.want)
		}
	}
}

// Cookies are Secure when the portal is reached over HTTPS, unless the
// site says otherwise.
func TestSecureCookieFollowsTheBaseURL(t *testing.T) {
	for _, c := range []struct {
		base, secure string
		want         bool
	}{
		{"https://kqi.example.org", "", true},
		{"http://kqi.example.org", "", false},
		{"", "", false},
		{"https://kqi.example.org", "false", false},
		{"http://localhost:8080", "true", true},
	} {
		cfg, err := Load("t", nil, envOf(map[string]string{"KQI_DATABASE_URL": "x", "KQI_BASE_URL": c.base, "KQI_SECURE_COOKIE": c.secure}))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.SecureCookie != c.want {
			t.Errorf("base %q, KQI_SECURE_COOKIE %q: Secure %v, want %v", c.base, c.secure, cfg.SecureCookie, c.want)
		}
	}
}
