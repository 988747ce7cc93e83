package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"

	"kqi/portal/accounts"
	"kqi/portal/config"
	"kqi/portal/data"
	"kqi/portal/gitref"
	"kqi/portal/jobs"
	"kqi/portal/metrics"
	"kqi/portal/notify"
	"kqi/portal/secret"
	"kqi/portal/server"
	"kqi/slurm"
	"kqi/slurm/login"
	"kqi/storage"
	"kqi/storage/files"
)

func serve(ctx context.Context, cfg *config.Config, log *slog.Logger, _ func(string) string, _ io.Writer) error {
	if err := cfg.RequireCluster(); err != nil {
		return err
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	if v, err := st.SchemaVersion(ctx); err != nil {
		return err
	} else if want := storage.LatestSchemaVersion(); v != want {
		return fmt.Errorf("database schema is at version %d, this binary needs %d: run `kqi-portal migrate`", v, want)
	}
	self := cfg.ClusterIdentity(nil)
	dialer, err := openLogin(cfg, self)
	if err != nil {
		return err
	}
	cluster, err := openCluster(cfg, self, dialer)
	if err != nil {
		return err
	}
	cluster = metrics.Cluster(cluster)
	fs, err := openFiles(ctx, cfg, self, dialer)
	if err != nil {
		return err
	}
	defer fs.Close()
	warnOpenSharedRoot(cfg, log)
	if err := checkImageRoot(cfg); err != nil {
		return err
	}
	sealer, err := secret.NewSealer(cfg.SecretKeyFile)
	if err != nil {
		return err
	}
	if n, err := notify.SealPlainWebhooks(ctx, st, sealer); err != nil {
		return err
	} else if n > 0 {
		log.Info("sealed webhook URLs stored in plain text", "count", n)
	}
	sources := &accounts.Sources{Store: st, Sealer: sealer}
	dataSvc := &data.Service{Store: st, Files: fs, Log: log}
	jobsSvc := &jobs.Service{Store: st, Files: fs, Data: dataSvc, Cluster: cluster, Sources: sources, Refs: &gitref.Recent{TTL: time.Minute}, Log: log, Cfg: jobs.Config{
		ServerURL: cfg.BaseURL, Runtime: runtimeOf(cfg), DefaultImage: cfg.DefaultImage, SiteEnv: siteEnv(cfg),
		TokenTTL: 30 * 24 * time.Hour, SubmitGrace: cfg.SubmitGrace,
		GitFileRoot: cfg.GitFileRoot, AllowHostImage: cfg.AllowHostImage, Identity: cfg.ClusterIdentity, ArrayLimit: cfg.ArrayLimit,
		TensorBoard: cfg.TensorBoard,
	}}
	gateway, err := startShell(ctx, cfg, st, fs, dialer, log)
	if err != nil {
		return err
	}
	handler, err := server.New(cfg, server.Deps{Store: st, Files: fs, Sources: sources, Data: dataSvc, Jobs: jobsSvc, Shell: gateway, Log: log, Checks: []server.Check{
		{Name: "database", Fn: st.Ping},
		{Name: "slurm", Fn: func(ctx context.Context) error { _, err := cluster.Partitions(ctx); return err }},
		{Name: "files", Fn: func(ctx context.Context) error { _, err := fs.List(ctx, "."); return err }},
	}})
	if err != nil {
		return err
	}
	go jobsSvc.Run(ctx, cfg.PollInterval)
	go (&notify.Sender{Store: st, SMTP: cfg.SMTP, BaseURL: cfg.BaseURL, Sealer: sealer, Guard: notify.GuardFor(cfg), Log: log}).Run(ctx, 10*time.Second)
	go sweep(ctx, st, dataSvc, jobsSvc, cfg.UploadSweepAge, log)
	return server.Run(ctx, cfg, handler, log)
}

// sweep deletes ended sessions and tokens, and what crashed uploads and
// submits left in the file store, at start and then hourly. Lookups
// already ignore all of it; this only keeps tables and disks clean.
func sweep(ctx context.Context, st *storage.Store, dataSvc *data.Service, jobsSvc *jobs.Service, uploadAge time.Duration, log *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if n, err := st.DeleteExpired(ctx); err != nil && ctx.Err() == nil {
			log.Warn("sweeping expired sessions", "error", err)
		} else if n > 0 {
			log.Debug("swept expired sessions and tokens", "count", n)
		}
		if n, err := dataSvc.SweepOrphans(ctx, uploadAge); err != nil && ctx.Err() == nil {
			log.Warn("sweeping upload leftovers", "error", err)
		} else if n > 0 {
			log.Info("swept upload leftovers", "count", n)
		}
		if n, err := jobsSvc.SweepUnrecorded(ctx, uploadAge); err != nil && ctx.Err() == nil {
			log.Warn("sweeping directories of unrecorded jobs", "error", err)
		} else if n > 0 {
			log.Info("swept directories of unrecorded jobs", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// closableFS is a file store the server closes on exit.
type closableFS interface {
	files.FS
	Close() error
}

// openLogin makes the one dialer of the login node, shared by the SSH
// Slurm backend, SFTP and the shells, logging in as the account jobs run
// as; nil when the site uses none of them.
func openLogin(cfg *config.Config, self config.Identity) (*login.Dialer, error) {
	if !cfg.NeedsLogin() {
		return nil, nil
	}
	return login.New(login.Config{Addr: cfg.SSHAddr, User: self.User, KeyFile: cfg.SSHKeyFile, KnownHostsFile: cfg.SSHKnownHosts})
}

// openFiles opens the shared filesystem: directly where the portal host
// mounts it, else through SFTP on the login node, where what the portal
// writes belongs to the account it logs in as.
func openFiles(ctx context.Context, cfg *config.Config, self config.Identity, dialer *login.Dialer) (closableFS, error) {
	if cfg.FileStore == "sftp" {
		return files.NewSFTP(ctx, files.SFTPConfig{Dialer: dialer, Root: cfg.SharedRoot})
	}
	var opts []files.LocalOption
	if os.Geteuid() == 0 {
		// A portal running as root hands what it writes to the account
		// jobs run as, which must read inputs and secrets.
		u, err := user.Lookup(self.User)
		if err != nil {
			return nil, fmt.Errorf("KQI_SLURM_USER %q: %w", self.User, err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		opts = append(opts, files.WithOwner(uid, gid))
	}
	return files.NewLocal(cfg.SharedRoot, opts...)
}

// warnOpenSharedRoot warns when other accounts on the portal host can get
// into the shared root, where every tenant's files and each job's secrets
// file live. Only a warning: the mount's own permissions may be stricter.
func warnOpenSharedRoot(cfg *config.Config, log *slog.Logger) {
	if cfg.FileStore != "local" {
		return
	}
	if fi, err := os.Stat(cfg.SharedRoot); err == nil && fi.Mode().Perm()&0o007 != 0 {
		log.Warn("KQI_SHARED_ROOT is open to every account on the host; make it 0700 (or 0750), owned by the cluster account",
			"path", cfg.SharedRoot, "mode", fi.Mode().Perm().String())
	}
}

// openCluster connects to Slurm the way the site chose, as self: the
// login node's user, or the `sun` of slurmrestd's tokens.
func openCluster(cfg *config.Config, self config.Identity, dialer *login.Dialer) (slurm.Cluster, error) {
	if cfg.SlurmBackend == "ssh" {
		return slurm.NewSSHOver(dialer, 0), nil
	}
	signer, err := slurm.NewTokenSigner(cfg.SlurmJWTKeyFile, 10*time.Minute)
	if err != nil {
		return nil, err
	}
	return slurm.NewREST(slurm.RESTConfig{
		URL: cfg.SlurmRESTURL, Version: cfg.SlurmAPIVersion, User: self.User, Signer: signer,
		Timeout: 15 * time.Second, Retries: 2,
	})
}

// runtimeOf is the container runtime jobs use.
func runtimeOf(cfg *config.Config) slurm.Runtime {
	if cfg.Runtime == "bubblewrap" {
		return slurm.Bubblewrap{ImageRoot: cfg.ImageRoot, Network: cfg.JobNetwork}
	}
	return slurm.Apptainer{
		Binary: cfg.ApptainerBinary, GlobalArgs: strings.Fields(cfg.ApptainerGlobal),
		ExtraArgs: strings.Fields(cfg.ApptainerArgs), Network: cfg.JobNetwork,
		Fakeroot: cfg.ApptainerFakeroot, NvCCLI: cfg.ApptainerNvCCLI, ImageDir: cfg.ImageRoot, PullDir: cfg.ApptainerPullDir,
	}
}

func checkImageRoot(cfg *config.Config) error {
	// Both runtimes look images up in the store at submit.
	if cfg.ImageRoot != "" {
		if _, err := os.Stat(cfg.ImageRoot); err != nil {
			return fmt.Errorf("KQI_IMAGE_ROOT: %w", err)
		}
	}
	return nil
}

// siteEnv is what every job's environment starts from (SPEC §5).
func siteEnv(cfg *config.Config) []slurm.EnvVar {
	env := []slurm.EnvVar{{Name: "LC_ALL", Value: "C.UTF-8"}, {Name: "LANG", Value: "C.UTF-8"}, {Name: "COLUMNS", Value: "200"}}
	for name, v := range map[string]string{"HTTP_PROXY": cfg.HTTPProxy, "HTTPS_PROXY": cfg.HTTPSProxy, "NO_PROXY": cfg.NoProxy} {
		if v != "" {
			env = append(env, slurm.EnvVar{Name: name, Value: v}, slurm.EnvVar{Name: strings.ToLower(name), Value: v})
		}
	}
	return env
}
