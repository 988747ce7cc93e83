// Command kqi-devgit is the dev cluster's Git server: it serves the bare
// repositories under -root read-only over smart HTTP with `git
// http-backend`, so trainings clone a model repository the way they would
// from GitLab or Gitea, token included. Repositories under root/public need
// no credentials; those under root/private need HTTP Basic auth with the
// token from -token-file as the password.
//
// Under /api/v1 it also answers the read-only part of Gitea's REST API
// that lists repositories, branches and commits (api.go).
//
// scripts/dev-cluster.sh builds and starts it; it is not meant for
// production.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "kqi-devgit:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("kqi-devgit", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8790", "address to listen on")
	root := fs.String("root", "", "directory holding public/ and private/ bare repositories (required)")
	tokenFile := fs.String("token-file", "", "file holding the private repositories' token, mode 0600 (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *root == "" || *tokenFile == "" {
		fs.Usage()
		return errors.New("-root and -token-file are required")
	}
	token, err := readToken(*tokenFile)
	if err != nil {
		return err
	}
	gitPath, err := exec.LookPath("git")
	if err != nil {
		return err
	}
	logger := log.New(os.Stderr, "kqi-devgit: ", log.LstdFlags|log.LUTC)
	h, err := newServer(*root, gitPath, token, logger)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Addr:              *listen,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          logger,
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	logger.Printf("serving %s on http://%s", *root, *listen)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}
