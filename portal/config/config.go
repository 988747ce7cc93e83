// Package config holds the portal's one configuration struct, read from
// flags and KQI_* environment variables and validated at start-up.
package config

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"kqi/slurm"
)

// Config is every setting the portal reads. Flags win over the environment.
type Config struct {
	Listen       string        // KQI_LISTEN: address the HTTP server binds
	BaseURL      string        // KQI_BASE_URL: how users and jobs reach the portal
	DatabaseURL  string        // KQI_DATABASE_URL: PostgreSQL connection URL
	SessionIdle  time.Duration // KQI_SESSION_IDLE: a browser session ends after this long unused
	SessionMax   time.Duration // KQI_SESSION_MAX: and after this long in any case
	APITokenTTL  time.Duration // KQI_API_TOKEN_TTL: lifetime of tokens from POST /api/v1/auth/token
	APITokenIdle time.Duration // KQI_API_TOKEN_IDLE: such a token ends after this long unused
	SecureCookie bool          // KQI_SECURE_COOKIE: mark cookies Secure (portal behind HTTPS)
	// KQI_TRUSTED_PROXIES: reverse proxies (addresses or CIDR prefixes,
	// comma-separated) whose X-Forwarded-For names the client
	TrustedProxies []netip.Prefix
	// KQI_METRICS_ALLOW: addresses or CIDR prefixes (comma-separated) that
	// may read /metrics; default the portal host's loopback only
	MetricsAllow []netip.Prefix
	// WebhookAllow (KQI_WEBHOOK_ALLOW): addresses or CIDR prefixes that
	// users' notification webhooks may reach although they are internal
	// (loopback, private, link-local, the portal's own): an intranet's chat
	// server, a test's receiver. Empty: none.
	WebhookAllow []netip.Prefix
	LogLevel     slog.Level // KQI_LOG_LEVEL: debug, info, warn, error

	SlurmRESTURL    string // KQI_SLURM_REST_URL: slurmrestd base URL (rest backend)
	SlurmAPIVersion string // KQI_SLURM_API_VERSION: REST plugin version, e.g. v0.0.38 (rest backend)
	SlurmJWTKeyFile string // KQI_SLURM_JWT_KEY_FILE: the cluster's HS256 key (AuthAltParameters=jwt_key; rest backend)
	// KQI_SLURM_USER: the cluster account; ClusterIdentity says what it is used as
	SlurmUser string

	SlurmBackend string        // KQI_SLURM_BACKEND: "rest" (slurmrestd) or "ssh" (Slurm commands on the login node)
	PollInterval time.Duration // KQI_POLL_INTERVAL: how often job states are refreshed (one Slurm call each time)
	// KQI_SUBMIT_GRACE: a row still submitting after this, with no Slurm
	// job, is an error (its submitter gives up at half of it)
	SubmitGrace time.Duration
	// KQI_UPLOAD_SWEEP_AGE: upload leftovers (a crashed portal's temporary
	// files and unrecorded data directories) untouched this long are removed
	UploadSweepAge time.Duration

	Runtime           string // KQI_RUNTIME: "apptainer" or "bubblewrap"
	ImageRoot         string // KQI_IMAGE_ROOT: the image store (bubblewrap root filesystems; Apptainer SIF files and sandboxes)
	DefaultImage      string // KQI_DEFAULT_IMAGE: image of a training that names none
	ApptainerFakeroot bool   // KQI_APPTAINER_FAKEROOT: run as root in the container (needs subuid/subgid)
	ApptainerArgs     string // KQI_APPTAINER_ARGS: site options after `exec`, space-separated (e.g. --drop-caps CAP_SYS_RESOURCE)
	ApptainerBinary   string // KQI_APPTAINER_BINARY: the apptainer executable on the nodes (default: apptainer from the job's PATH)
	ApptainerGlobal   string // KQI_APPTAINER_GLOBAL_ARGS: site options before `exec` and `pull`, space-separated (e.g. --quiet)
	ApptainerNvCCLI   bool   // KQI_APPTAINER_NVCCLI: set GPUs up with --nvccli instead of --nv
	ApptainerPullDir  string // KQI_APPTAINER_PULL_DIR: where docker:// images are pulled as SIFs, writable by the job account (default KQI_IMAGE_ROOT/pulled)
	GitFileRoot       string // KQI_GIT_FILE_ROOT: the only directory file:// model repositories may be in (none if empty)
	AllowHostImage    bool   // KQI_ALLOW_HOST_IMAGE: let jobs use bubblewrap's "host" image (exposes the node's files; tests only)
	JobNetwork        string // KQI_JOB_NETWORK: host or isolated (slurm.NetworkHost, slurm.NetworkIsolated)
	ArrayLimit        int    // KQI_ARRAY_LIMIT: at most this many tasks of one job array (a preprocess run on many data) run at once; 0 = no limit
	HTTPProxy         string // KQI_HTTP_PROXY, KQI_HTTPS_PROXY, KQI_NO_PROXY: proxies jobs get (both letter cases)
	HTTPSProxy        string
	NoProxy           string

	SecretKeyFile string // KQI_SECRET_KEY_FILE: key (≥ 32 random bytes, mode 0600) sealing users' tokens

	SharedRoot    string // KQI_SHARED_ROOT: the shared filesystem directory KQI keeps files in, as the nodes see it
	FileStore     string // KQI_FILE_STORE: "local" (the portal host mounts SharedRoot) or "sftp" (reached through the login node)
	SSHAddr       string // KQI_SSH_ADDR: login node host:port, for SFTP and the SSH Slurm backend
	SSHKeyFile    string // KQI_SSH_KEY_FILE: private key of the cluster account (ClusterIdentity) on the login node
	SSHKnownHosts string // KQI_SSH_KNOWN_HOSTS: known_hosts file the login node's host key is checked against

	TensorBoard TensorBoard // KQI_TENSORBOARD_*: see tensorboard.go
	Shell       Shell       // KQI_SHELL_*: shells into running jobs (shell.go)

	SMTP SMTP // KQI_SMTP_*: see smtp.go
}

// Load reads the configuration from args (without the program name) and the
// environment, then validates it.
func Load(name string, args []string, getenv func(string) string) (*Config, error) {
	c := &Config{}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	env := func(key, def string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return def
	}
	var idle, max, ttl, tokenIdle, level string
	var secure, proxies, metricsAllow, webhookAllow string
	fs.StringVar(&c.Listen, "listen", env("KQI_LISTEN", ":8080"), "HTTP listen address (KQI_LISTEN)")
	fs.StringVar(&c.BaseURL, "base-url", env("KQI_BASE_URL", ""), "public URL of the portal (KQI_BASE_URL); default http://localhost<listen port>")
	fs.StringVar(&c.DatabaseURL, "database-url", env("KQI_DATABASE_URL", ""), "PostgreSQL URL (KQI_DATABASE_URL)")
	fs.StringVar(&idle, "session-idle", env("KQI_SESSION_IDLE", "2h"), "idle timeout of a browser session (KQI_SESSION_IDLE)")
	fs.StringVar(&max, "session-max", env("KQI_SESSION_MAX", "24h"), "maximum age of a browser session (KQI_SESSION_MAX)")
	fs.StringVar(&ttl, "api-token-ttl", env("KQI_API_TOKEN_TTL", "720h"), "lifetime of API tokens (KQI_API_TOKEN_TTL)")
	fs.StringVar(&tokenIdle, "api-token-idle", env("KQI_API_TOKEN_IDLE", "336h"), "an API token unused this long ends (KQI_API_TOKEN_IDLE)")
	fs.StringVar(&secure, "secure-cookie", env("KQI_SECURE_COOKIE", ""), "send cookies only over HTTPS (KQI_SECURE_COOKIE; default: when KQI_BASE_URL is https)")
	fs.StringVar(&proxies, "trusted-proxies", env("KQI_TRUSTED_PROXIES", ""), "reverse proxies whose X-Forwarded-For is believed, comma-separated addresses or CIDRs (KQI_TRUSTED_PROXIES)")
	fs.StringVar(&webhookAllow, "webhook-allow", env("KQI_WEBHOOK_ALLOW", ""), "internal addresses notification webhooks may reach, comma-separated addresses or CIDRs (KQI_WEBHOOK_ALLOW)")
	fs.StringVar(&metricsAllow, "metrics-allow", env("KQI_METRICS_ALLOW", "127.0.0.1,::1"), "addresses that may read /metrics, comma-separated addresses or CIDRs (KQI_METRICS_ALLOW)")
	fs.StringVar(&level, "log-level", env("KQI_LOG_LEVEL", "info"), "debug, info, warn or error (KQI_LOG_LEVEL)")
	fs.StringVar(&c.SlurmRESTURL, "slurm-rest-url", env("KQI_SLURM_REST_URL", ""), "slurmrestd URL (KQI_SLURM_REST_URL)")
	fs.StringVar(&c.SlurmAPIVersion, "slurm-api-version", env("KQI_SLURM_API_VERSION", slurm.RESTVersion), "slurmrestd API version (KQI_SLURM_API_VERSION)")
	fs.StringVar(&c.SlurmJWTKeyFile, "slurm-jwt-key-file", env("KQI_SLURM_JWT_KEY_FILE", ""), "HS256 key file shared with Slurm (KQI_SLURM_JWT_KEY_FILE)")
	fs.StringVar(&c.SlurmUser, "slurm-user", env("KQI_SLURM_USER", ""), "cluster account that submits jobs (KQI_SLURM_USER)")
	fs.StringVar(&c.SecretKeyFile, "secret-key-file", env("KQI_SECRET_KEY_FILE", ""), "key sealing users' tokens (KQI_SECRET_KEY_FILE)")
	fs.StringVar(&c.SharedRoot, "shared-root", env("KQI_SHARED_ROOT", ""), "shared filesystem directory for data and jobs (KQI_SHARED_ROOT)")
	fs.StringVar(&c.FileStore, "file-store", env("KQI_FILE_STORE", "local"), "local or sftp (KQI_FILE_STORE)")
	fs.StringVar(&c.SSHAddr, "ssh-addr", env("KQI_SSH_ADDR", ""), "login node host:port (KQI_SSH_ADDR)")
	fs.StringVar(&c.SSHKeyFile, "ssh-key-file", env("KQI_SSH_KEY_FILE", ""), "private key for the login node (KQI_SSH_KEY_FILE)")
	fs.StringVar(&c.SSHKnownHosts, "ssh-known-hosts", env("KQI_SSH_KNOWN_HOSTS", ""), "known_hosts for the login node (KQI_SSH_KNOWN_HOSTS)")
	var poll, grace, sweepAge, fakeroot, hostImage, arrayLimit, nvccli string
	fs.StringVar(&c.SlurmBackend, "slurm-backend", env("KQI_SLURM_BACKEND", "rest"), "rest or ssh (KQI_SLURM_BACKEND)")
	fs.StringVar(&poll, "poll-interval", env("KQI_POLL_INTERVAL", "5s"), "job state refresh interval (KQI_POLL_INTERVAL)")
	fs.StringVar(&grace, "submit-grace", env("KQI_SUBMIT_GRACE", "10m"), "how long a submission may take before its row is an error (KQI_SUBMIT_GRACE)")
	fs.StringVar(&sweepAge, "upload-sweep-age", env("KQI_UPLOAD_SWEEP_AGE", "24h"), "age at which upload leftovers are removed (KQI_UPLOAD_SWEEP_AGE)")
	fs.StringVar(&c.Runtime, "runtime", env("KQI_RUNTIME", "apptainer"), "apptainer or bubblewrap (KQI_RUNTIME)")
	fs.StringVar(&c.ImageRoot, "image-root", env("KQI_IMAGE_ROOT", ""), "image store: bubblewrap root filesystems or Apptainer SIF files (KQI_IMAGE_ROOT)")
	fs.StringVar(&c.DefaultImage, "default-image", env("KQI_DEFAULT_IMAGE", ""), "image used when none is given (KQI_DEFAULT_IMAGE)")
	fs.StringVar(&fakeroot, "apptainer-fakeroot", env("KQI_APPTAINER_FAKEROOT", "false"), "apptainer --fakeroot (KQI_APPTAINER_FAKEROOT)")
	fs.StringVar(&c.ApptainerArgs, "apptainer-args", env("KQI_APPTAINER_ARGS", ""), "apptainer exec options (KQI_APPTAINER_ARGS)")
	fs.StringVar(&c.ApptainerBinary, "apptainer-binary", env("KQI_APPTAINER_BINARY", ""), "apptainer executable on the nodes (KQI_APPTAINER_BINARY)")
	fs.StringVar(&c.ApptainerGlobal, "apptainer-global-args", env("KQI_APPTAINER_GLOBAL_ARGS", ""), "apptainer options before the command (KQI_APPTAINER_GLOBAL_ARGS)")
	fs.StringVar(&nvccli, "apptainer-nvccli", env("KQI_APPTAINER_NVCCLI", "false"), "apptainer --nvccli for GPUs (KQI_APPTAINER_NVCCLI)")
	fs.StringVar(&c.ApptainerPullDir, "apptainer-pull-dir", env("KQI_APPTAINER_PULL_DIR", ""), "where docker:// images are pulled (KQI_APPTAINER_PULL_DIR)")
	fs.StringVar(&c.GitFileRoot, "git-file-root", env("KQI_GIT_FILE_ROOT", ""), "directory file:// repositories may be in (KQI_GIT_FILE_ROOT)")
	fs.StringVar(&hostImage, "allow-host-image", env("KQI_ALLOW_HOST_IMAGE", "false"), "allow the bubblewrap host image (KQI_ALLOW_HOST_IMAGE)")
	fs.StringVar(&c.JobNetwork, "job-network", env("KQI_JOB_NETWORK", "host"), "host, or isolated: jobs get their own network namespace, reaching only the site's proxy (KQI_JOB_NETWORK)")
	fs.StringVar(&arrayLimit, "array-limit", env("KQI_ARRAY_LIMIT", "0"), "tasks of one job array running at once, 0 = no limit (KQI_ARRAY_LIMIT)")
	fs.StringVar(&c.HTTPProxy, "http-proxy", env("KQI_HTTP_PROXY", ""), "HTTP_PROXY for jobs (KQI_HTTP_PROXY)")
	fs.StringVar(&c.HTTPSProxy, "https-proxy", env("KQI_HTTPS_PROXY", ""), "HTTPS_PROXY for jobs (KQI_HTTPS_PROXY)")
	fs.StringVar(&c.NoProxy, "no-proxy", env("KQI_NO_PROXY", ""), "NO_PROXY for jobs (KQI_NO_PROXY)")
	shellChecks := c.shellFlags(fs, env)
	c.SMTP.flags(fs, env)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}

	var errs []error
	dur := func(key, v string, dst *time.Duration) {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("%s: %q is not a positive duration like 30m or 12h", key, v))
			return
		}
		*dst = d
	}
	dur("KQI_SESSION_IDLE", idle, &c.SessionIdle)
	dur("KQI_SESSION_MAX", max, &c.SessionMax)
	dur("KQI_API_TOKEN_TTL", ttl, &c.APITokenTTL)
	dur("KQI_API_TOKEN_IDLE", tokenIdle, &c.APITokenIdle)
	dur("KQI_POLL_INTERVAL", poll, &c.PollInterval)
	dur("KQI_SUBMIT_GRACE", grace, &c.SubmitGrace)
	dur("KQI_UPLOAD_SWEEP_AGE", sweepAge, &c.UploadSweepAge)
	if n, err := strconv.Atoi(arrayLimit); err != nil || n < 0 {
		errs = append(errs, fmt.Errorf("KQI_ARRAY_LIMIT: %q is not a number of tasks (0 = no limit)", arrayLimit))
	} else {
		c.ArrayLimit = n
	}
	c.ApptainerFakeroot = fakeroot == "true" || fakeroot == "1" || fakeroot == "yes"
	c.AllowHostImage = hostImage == "true" || hostImage == "1" || hostImage == "yes"
	c.ApptainerNvCCLI = nvccli == "true" || nvccli == "1" || nvccli == "yes"
	if c.ApptainerPullDir == "" && c.ImageRoot != "" {
		c.ApptainerPullDir = strings.TrimSuffix(c.ImageRoot, "/") + "/pulled"
	}
	for key, p := range map[string]string{"KQI_IMAGE_ROOT": c.ImageRoot, "KQI_APPTAINER_PULL_DIR": c.ApptainerPullDir, "KQI_APPTAINER_BINARY": c.ApptainerBinary} {
		if p != "" && !strings.HasPrefix(p, "/") && (key != "KQI_APPTAINER_BINARY" || strings.Contains(p, "/")) {
			errs = append(errs, fmt.Errorf("%s: %q must be an absolute path", key, p))
		}
	}
	switch strings.ToLower(secure) {
	case "1", "true", "yes":
		c.SecureCookie = true
	case "0", "false", "no", "":
		// "" decides below, once the base URL is known.
	default:
		errs = append(errs, fmt.Errorf("KQI_SECURE_COOKIE: %q is not true or false", secure))
	}
	c.TrustedProxies = prefixes("KQI_TRUSTED_PROXIES", proxies, &errs)
	c.MetricsAllow = prefixes("KQI_METRICS_ALLOW", metricsAllow, &errs)
	c.WebhookAllow = prefixes("KQI_WEBHOOK_ALLOW", webhookAllow, &errs)
	if err := c.LogLevel.UnmarshalText([]byte(level)); err != nil {
		errs = append(errs, fmt.Errorf("KQI_LOG_LEVEL: %q is not debug, info, warn or error", level))
	}
	if _, port, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("KQI_LISTEN: %q is not host:port", c.Listen))
	} else if c.BaseURL == "" {
		c.BaseURL = "http://localhost:" + port
	}
	if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("KQI_BASE_URL: %q is not an http(s) URL", c.BaseURL))
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if secure == "" {
		// A portal reached over HTTPS sends its cookies over nothing else.
		c.SecureCookie = strings.HasPrefix(c.BaseURL, "https://")
	}
	if c.JobNetwork != "host" && c.JobNetwork != "isolated" {
		errs = append(errs, fmt.Errorf("KQI_JOB_NETWORK: %q is not host or isolated", c.JobNetwork))
	}
	if c.DatabaseURL == "" {
		errs = append(errs, errors.New("KQI_DATABASE_URL is required"))
	}
	if c.FileStore != "local" && c.FileStore != "sftp" {
		errs = append(errs, fmt.Errorf("KQI_FILE_STORE: %q is not local or sftp", c.FileStore))
	}
	// KQI_SSH_USER once named the SFTP login apart from the account jobs
	// run as; a site that still sets it to another account must learn
	// that it is no longer who logs in.
	if u := getenv("KQI_SSH_USER"); u != "" && u != c.SlurmUser {
		errs = append(errs, fmt.Errorf("KQI_SSH_USER %q differs from KQI_SLURM_USER %q: the login node is reached as KQI_SLURM_USER, the account jobs run as and whose files they read; unset KQI_SSH_USER", u, c.SlurmUser))
	}
	tb, tbErrs := loadTensorBoard(getenv)
	c.TensorBoard, errs = tb, append(errs, tbErrs...)
	errs = append(errs, shellChecks()...)
	if len(errs) > 0 {
		return nil, fmt.Errorf("invalid configuration:\n  %w", joinLines(errs))
	}
	return c, nil
}

// RequireCluster checks the settings only the server needs: how to reach
// the cluster and its shared filesystem. Maintenance commands (migrate,
// create-admin) skip it.
func (c *Config) RequireCluster() error {
	var errs []error
	if c.SharedRoot == "" || !strings.HasPrefix(c.SharedRoot, "/") {
		errs = append(errs, errors.New("KQI_SHARED_ROOT is required and must be an absolute path"))
	}
	if c.SecretKeyFile == "" {
		errs = append(errs, errors.New("KQI_SECRET_KEY_FILE is required (e.g. head -c 32 /dev/urandom > key; chmod 600 key)"))
	}
	if c.SlurmBackend != "rest" && c.SlurmBackend != "ssh" {
		errs = append(errs, fmt.Errorf("KQI_SLURM_BACKEND: %q is not rest or ssh", c.SlurmBackend))
	}
	if c.Runtime != "apptainer" && c.Runtime != "bubblewrap" {
		errs = append(errs, fmt.Errorf("KQI_RUNTIME: %q is not apptainer or bubblewrap", c.Runtime))
	}
	if c.NeedsLogin() {
		for _, kv := range [][2]string{{"KQI_SSH_ADDR", c.SSHAddr}, {"KQI_SSH_KEY_FILE", c.SSHKeyFile}, {"KQI_SSH_KNOWN_HOSTS", c.SSHKnownHosts}} {
			if kv[1] == "" {
				errs = append(errs, fmt.Errorf("%s is required with KQI_FILE_STORE=sftp or KQI_SLURM_BACKEND=ssh, and for shells into jobs on any backend (KQI_SHELL_LISTEN=off turns them off)", kv[0]))
			}
		}
	}
	// slurmrestd's settings only matter to its backend: a site without
	// slurmrestd runs on the SSH backend alone.
	if c.SlurmBackend == "rest" {
		if c.SlurmRESTURL == "" {
			errs = append(errs, errors.New("KQI_SLURM_REST_URL is required with KQI_SLURM_BACKEND=rest"))
		} else if u, err := url.Parse(c.SlurmRESTURL); err != nil || u.Host == "" {
			errs = append(errs, fmt.Errorf("KQI_SLURM_REST_URL: %q is not a URL", c.SlurmRESTURL))
		}
		if c.SlurmJWTKeyFile == "" {
			errs = append(errs, errors.New("KQI_SLURM_JWT_KEY_FILE is required with KQI_SLURM_BACKEND=rest"))
		} else if _, err := os.Stat(c.SlurmJWTKeyFile); err != nil {
			errs = append(errs, fmt.Errorf("KQI_SLURM_JWT_KEY_FILE: %w", err))
		}
		if c.SlurmAPIVersion != slurm.RESTVersion {
			errs = append(errs, fmt.Errorf("KQI_SLURM_API_VERSION: %q is not supported: KQI speaks slurmrestd's %s (Slurm 22.05 to 23.11 serve it); on a cluster without it use KQI_SLURM_BACKEND=ssh", c.SlurmAPIVersion, slurm.RESTVersion))
		}
	}
	if c.SlurmUser == "" {
		errs = append(errs, errors.New("KQI_SLURM_USER is required"))
	}
	errs = append(errs, c.requireShell()...)
	if len(errs) > 0 {
		return fmt.Errorf("invalid configuration:\n  %w", joinLines(errs))
	}
	return nil
}

// NeedsLogin reports whether the portal reaches the cluster's login node
// over SSH: for the SSH Slurm backend, SFTP, shells into jobs, or all of
// them (one dialer serves them).
func (c *Config) NeedsLogin() bool {
	return c.FileStore == "sftp" || c.SlurmBackend == "ssh" || c.Shell.Enabled()
}

// prefixes parses comma- or blank-separated addresses and CIDR prefixes.
func prefixes(key, list string, errs *[]error) []netip.Prefix {
	var out []netip.Prefix
	for _, f := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' }) {
		p, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil {
				*errs = append(*errs, fmt.Errorf("%s: %q is not an IP address or CIDR prefix", key, f))
				continue
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out
}

func joinLines(errs []error) error {
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return errors.New(strings.Join(msgs, "\n  "))
}
