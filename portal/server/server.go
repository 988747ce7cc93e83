// Package server assembles the portal's HTTP handler (pages, API, health,
// static files) and runs it with timeouts and a graceful shutdown.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"kqi/portal/accounts"
	"kqi/portal/api"
	"kqi/portal/auth"
	"kqi/portal/config"
	"kqi/portal/data"
	"kqi/portal/jobs"
	"kqi/portal/metrics"
	"kqi/portal/shell"
	"kqi/portal/web"
	"kqi/storage"
	"kqi/storage/files"
	"kqi/templates"
)

// Check is one dependency /readyz asks about.
type Check struct {
	Name string
	Fn   func(context.Context) error
}

// Deps are the services the handler is built on.
type Deps struct {
	Store   *storage.Store
	Files   files.FS
	Sources *accounts.Sources
	Data    *data.Service
	Jobs    *jobs.Service
	Shell   *shell.Gateway // nil: the site offers no shells
	Log     *slog.Logger
	Checks  []Check // what /readyz asks
	// Now is the clock sessions expire by and pages measure times with;
	// time.Now when nil. Tests move it instead of sleeping.
	Now func() time.Time
}

// Portal is the whole HTTP handler and the router its routes are on, so
// tests can walk every registered route.
type Portal struct {
	http.Handler
	Router *mux.Router
}

// New builds the whole HTTP handler.
func New(cfg *config.Config, d Deps) (*Portal, error) {
	store, log, checks, svc := d.Store, d.Log, d.Checks, d.Data
	router := mux.NewRouter()
	router.HandleFunc("/healthz", healthz).Methods(http.MethodGet).Name("healthz")
	router.HandleFunc("/readyz", readyz(checks, log)).Methods(http.MethodGet).Name("readyz")
	router.Handle("/metrics", metrics.Handler(cfg.MetricsAllow, store)).Methods(http.MethodGet).Name("metrics")
	router.Use(metrics.NameRoute)
	static, err := fs.Sub(templates.FS, "static")
	if err != nil {
		return nil, err
	}
	router.PathPrefix("/static/").Handler(http.StripPrefix("/static/", http.FileServer(http.FS(static)))).Methods(http.MethodGet).Name("static")
	// One of each service for the pages and the API, so both apply the
	// same rules (and one login failure limit).
	logins := &auth.Service{Store: store, Limit: auth.NewFailureLimit(10, 10*time.Minute, cfg.TrustedProxies),
		// Above the per-address limit, so one guesser meets that one first.
		Accounts:    auth.NewAccountDelay(20, 30*time.Second, time.Hour),
		SessionIdle: cfg.SessionIdle, SessionMax: cfg.SessionMax, TokenTTL: cfg.APITokenTTL, TokenIdle: cfg.APITokenIdle, Now: d.Now}
	acc := &accounts.Service{Store: store, Files: d.Files}
	apiHandler := api.New(router, logins, acc, d.Sources, svc, d.Jobs, log)
	pages, err := web.New(router, logins, acc, d.Sources, svc, d.Jobs, cfg, log)
	if err != nil {
		return nil, err
	}
	if d.Shell != nil {
		pages.SetShell(d.Shell)
		apiHandler.SetShellKeys(&shell.Keys{Store: d.Shell.Store})
	}
	if d.Now != nil {
		pages.SetClock(d.Now)
	}
	router.NotFoundHandler = http.HandlerFunc(pages.NotFound)
	router.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	})
	return &Portal{Handler: recoverer(log, securityHeaders(metrics.Middleware(accessLog(log, router)))), Router: router}, nil
}

func healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}

// readyz runs every check with a deadline and answers 503 naming the ones
// that failed; the details go to the log, not to the anonymous caller.
func readyz(checks []Check, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		status := map[string]string{}
		code := http.StatusOK
		for _, c := range checks {
			if err := c.Fn(ctx); err != nil {
				log.Warn("readiness check failed", "check", c.Name, "error", err)
				status[c.Name] = "unavailable"
				code = http.StatusServiceUnavailable
			} else {
				status[c.Name] = "ok"
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(status)
	}
}

// Run serves until ctx ends, then drains in-flight requests.
func Run(ctx context.Context, cfg *config.Config, handler http.Handler, log *slog.Logger) error {
	srv := &http.Server{
		Addr:              cfg.Listen,
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		// Uploads and log streams are long; they set their own deadlines
		// with http.ResponseController where needed.
		ReadTimeout:  5 * time.Minute,
		WriteTimeout: 5 * time.Minute,
		IdleTimeout:  2 * time.Minute,
		BaseContext:  func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	log.Info("portal listening", "addr", ln.Addr().String(), "url", cfg.BaseURL)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
