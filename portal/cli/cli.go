// Package cli is the kqi-portal command line: one function per command.
package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"kqi/portal/config"
	"kqi/storage"
)

const usage = `usage: kqi-portal <command> [flags]

commands:
  serve          run the web portal and API
  migrate        bring the database schema up to date
  create-admin   create (or reset) the system administrator; KQI_ADMIN_USER, KQI_ADMIN_PASSWORD

Every flag also reads a KQI_* environment variable; run 'kqi-portal serve -h' to list them.
`

// Main runs the command in args and returns the process exit code.
func Main(args []string, getenv func(string) string) int {
	if len(args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd, rest := args[1], args[2:]
	var run func(context.Context, *config.Config, *slog.Logger, func(string) string, io.Writer) error
	switch cmd {
	case "serve":
		run = serve
	case "migrate":
		run = migrate
	case "create-admin":
		run = createAdmin
	case "-h", "--help", "help":
		fmt.Fprint(os.Stdout, usage)
		return 0
	default:
		fmt.Fprintf(os.Stderr, "kqi-portal: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	cfg, err := config.Load("kqi-portal "+cmd, rest, getenv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "kqi-portal %s: %v\n", cmd, err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	if err := run(ctx, cfg, log, getenv, os.Stdout); err != nil {
		log.Error(cmd+" failed", "error", err)
		return 1
	}
	return 0
}

func openStore(ctx context.Context, cfg *config.Config) (*storage.Store, error) {
	return storage.Open(ctx, cfg.DatabaseURL)
}

func migrate(ctx context.Context, cfg *config.Config, log *slog.Logger, _ func(string) string, out io.Writer) error {
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	n, err := st.Migrate(ctx)
	if err != nil {
		return err
	}
	v, err := st.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "database schema at version %d (%d migrations applied)\n", v, n)
	return nil
}
