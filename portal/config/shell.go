package config

import (
	"flag"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"time"
)

// Shell is how users reach a shell in their running jobs: the page's
// terminal and the portal's SSH endpoint. Both go through the login node
// (KQI_SSH_ADDR, KQI_SSH_KEY_FILE, KQI_SSH_KNOWN_HOSTS) to run srun there,
// also on sites whose Slurm backend is slurmrestd, which cannot attach.
type Shell struct {
	Listen     string        // KQI_SHELL_LISTEN: address of the SSH endpoint, ":2022"; "off" turns shells off
	HostKey    string        // KQI_SHELL_HOST_KEY: the endpoint's host key, made on first start; default beside KQI_SECRET_KEY_FILE
	Host       string        // KQI_SHELL_HOST: the host name users ssh to, for the pages; default KQI_BASE_URL's host
	Idle       time.Duration // KQI_SHELL_IDLE: a shell with no input or output this long is closed
	MaxPerUser int           // KQI_SHELL_MAX_PER_USER: shells one user may have open at once
}

// Enabled reports whether the site offers shells.
func (s Shell) Enabled() bool { return s.Listen != "off" }

// Port is the SSH endpoint's port, for the command line pages show.
func (s Shell) Port() string {
	_, port, _ := net.SplitHostPort(s.Listen)
	return port
}

// shellFlags registers the shell's settings on fs; the returned function
// validates them once fs is parsed.
func (c *Config) shellFlags(fs *flag.FlagSet, env func(key, def string) string) func() []error {
	var idle, max string
	fs.StringVar(&c.Shell.Listen, "shell-listen", env("KQI_SHELL_LISTEN", ":2022"), `SSH endpoint for shells into jobs, or "off" (KQI_SHELL_LISTEN)`)
	fs.StringVar(&c.Shell.HostKey, "shell-host-key", env("KQI_SHELL_HOST_KEY", ""), "host key file of the SSH endpoint, made if missing (KQI_SHELL_HOST_KEY)")
	fs.StringVar(&c.Shell.Host, "shell-host", env("KQI_SHELL_HOST", ""), "host name users ssh to (KQI_SHELL_HOST); default the base URL's host")
	fs.StringVar(&idle, "shell-idle", env("KQI_SHELL_IDLE", "30m"), "idle shells close after this long (KQI_SHELL_IDLE)")
	fs.StringVar(&max, "shell-max-per-user", env("KQI_SHELL_MAX_PER_USER", "4"), "open shells per user (KQI_SHELL_MAX_PER_USER)")
	return func() []error {
		var errs []error
		if d, err := time.ParseDuration(idle); err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("KQI_SHELL_IDLE: %q is not a positive duration like 30m", idle))
		} else {
			c.Shell.Idle = d
		}
		if n, err := strconv.Atoi(max); err != nil || n < 1 {
			errs = append(errs, fmt.Errorf("KQI_SHELL_MAX_PER_USER: %q is not a positive number", max))
		} else {
			c.Shell.MaxPerUser = n
		}
		if !c.Shell.Enabled() {
			return errs
		}
		if _, _, err := net.SplitHostPort(c.Shell.Listen); err != nil {
			errs = append(errs, fmt.Errorf("KQI_SHELL_LISTEN: %q is not host:port or off", c.Shell.Listen))
		}
		if c.Shell.HostKey == "" && c.SecretKeyFile != "" {
			c.Shell.HostKey = filepath.Join(filepath.Dir(c.SecretKeyFile), "shell_host_ed25519_key")
		}
		if c.Shell.Host == "" {
			if u, err := url.Parse(c.BaseURL); err == nil {
				c.Shell.Host = u.Hostname()
			}
		}
		return errs
	}
}

// requireShell checks what the server needs for shells.
func (c *Config) requireShell() []error {
	if c.Shell.Enabled() && c.Shell.HostKey == "" {
		return []error{fmt.Errorf("KQI_SHELL_HOST_KEY (or KQI_SECRET_KEY_FILE, beside which it is made) is required for the shell endpoint, or set KQI_SHELL_LISTEN=off")}
	}
	return nil
}
