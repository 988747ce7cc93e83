package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"kqi/portal/config"
	"kqi/portal/shell"
	"kqi/slurm"
	"kqi/slurm/login"
	"kqi/storage"
	"kqi/storage/files"
)

// startShell opens the SSH endpoint and returns the gateway the pages'
// terminal shares with it; nil when the site offers no shells
// (KQI_SHELL_LISTEN=off). Both reach jobs through the login node.
func startShell(ctx context.Context, cfg *config.Config, st *storage.Store, fs files.FS, dialer *login.Dialer, log *slog.Logger) (*shell.Gateway, error) {
	if !cfg.Shell.Enabled() {
		return nil, nil
	}
	key, err := shell.HostKey(cfg.Shell.HostKey)
	if err != nil {
		return nil, err
	}
	g := &shell.Gateway{Store: st, Files: fs, Opener: shell.Shells{Shells: slurm.Shells{Login: dialer}}, Log: log,
		Cfg: shell.Config{Idle: cfg.Shell.Idle, MaxPerUser: cfg.Shell.MaxPerUser}}
	if err := g.Start(ctx); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Shell.Listen)
	if err != nil {
		return nil, fmt.Errorf("KQI_SHELL_LISTEN: %w", err)
	}
	srv := &shell.Server{Gateway: g, Store: st, HostKey: key, Log: log}
	go func() {
		if err := srv.Serve(ctx, ln); err != nil {
			log.Error("the shell's SSH endpoint stopped", "error", err)
		}
	}()
	log.Info("shell SSH endpoint listening", "addr", ln.Addr().String(),
		"example", "ssh -p "+cfg.Shell.Port()+" training-{id}@"+cfg.Shell.Host)
	return g, nil
}
