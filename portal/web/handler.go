// Package web serves the server-rendered portal: pages, forms and the
// session/CSRF machinery around them.
package web

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"kqi/portal/config"
	"kqi/storage"
)

// Handler carries what every page handler needs; handlers are its methods.
type Handler struct {
	store  *storage.Store
	cfg    *config.Config
	router *mux.Router
	views  *views
	log    *slog.Logger
	now    func() time.Time
}

// New parses the templates and registers every page route on router.
func New(router *mux.Router, store *storage.Store, cfg *config.Config, log *slog.Logger) (*Handler, error) {
	h := &Handler{store: store, cfg: cfg, router: router, log: log, now: time.Now}
	h.routes()
	v, err := parseViews(router)
	if err != nil {
		return nil, err
	}
	h.views = v
	return h, nil
}

// routes registers every page. Names are how templates and redirects build
// URLs; no path is written twice.
func (h *Handler) routes() {
	r := h.router.NewRoute().Subrouter()
	r.Use(h.withSession, h.checkCSRF)

	r.HandleFunc("/login", h.showLogin).Methods(http.MethodGet).Name("login")
	r.HandleFunc("/login", h.login).Methods(http.MethodPost).Name("loginCheck")
	r.HandleFunc("/language", h.setAnonLanguage).Methods(http.MethodPost).Name("anonLanguage")

	in := r.NewRoute().Subrouter()
	in.Use(h.requireLogin)
	in.HandleFunc("/", h.showHome).Methods(http.MethodGet).Name("home")
	in.HandleFunc("/logout", h.logout).Methods(http.MethodPost).Name("logout")
	in.HandleFunc("/tenant", h.switchTenant).Methods(http.MethodPost).Name("tenantSwitch")
	in.HandleFunc("/settings", h.showSettings).Methods(http.MethodGet).Name("settings")
	in.HandleFunc("/settings/password", h.changePassword).Methods(http.MethodPost).Name("settingsPassword")
	in.HandleFunc("/settings/language", h.setLanguage).Methods(http.MethodPost).Name("settingsLanguage")

	tenant := in.NewRoute().Subrouter()
	tenant.Use(h.requireTenant)
	for _, s := range sections {
		tenant.HandleFunc(s.path, h.showSection(s)).Methods(http.MethodGet).Name(s.route)
	}

	admin := in.PathPrefix("/admin").Subrouter()
	admin.Use(h.requireSystemAdmin)
	admin.HandleFunc("/tenants", h.showAdminTenants).Methods(http.MethodGet).Name("adminTenants")
	admin.HandleFunc("/tenants", h.createTenant).Methods(http.MethodPost).Name("adminTenantCreate")
	admin.HandleFunc("/users", h.showAdminUsers).Methods(http.MethodGet).Name("adminUsers")
	admin.HandleFunc("/users", h.createUser).Methods(http.MethodPost).Name("adminUserCreate")
	admin.HandleFunc("/users/{id:[0-9]+}/memberships", h.addMembership).Methods(http.MethodPost).Name("adminMembershipAdd")
}

// path builds a URL from a route name; an unknown name is a programming
// error caught by the route tests.
func (h *Handler) path(name string, pairs ...string) string {
	u, err := h.router.Get(name).URL(pairs...)
	if err != nil {
		panic("web: route " + name + ": " + err.Error())
	}
	return u.String()
}
