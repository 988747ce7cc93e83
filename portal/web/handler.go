// Package web serves the server-rendered portal: pages, forms and the
// session/CSRF machinery around them.
package web

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"kqi/portal/accounts"
	"kqi/portal/auth"
	"kqi/portal/config"
	"kqi/portal/data"
	"kqi/portal/jobs"
	"kqi/portal/picker"
	"kqi/portal/preprocess"
	"kqi/portal/shell"
)

// Handler carries what every page handler needs; handlers are its methods.
type Handler struct {
	auth     *auth.Service
	accounts *accounts.Service
	sources  *accounts.Sources
	data     *data.Service
	jobs     *jobs.Service
	pre      *preprocess.Service
	picker   *picker.Service
	shell    *shell.Gateway // nil when the site offers no shells
	keys     *shell.Keys
	cfg      *config.Config
	router   *mux.Router
	views    *views
	log      *slog.Logger
	now      func() time.Time
}

// New parses the templates and registers every page route on router.
func New(router *mux.Router, au *auth.Service, acc *accounts.Service, sources *accounts.Sources, svc *data.Service, js *jobs.Service, cfg *config.Config, log *slog.Logger) (*Handler, error) {
	h := &Handler{auth: au, accounts: acc, sources: sources, data: svc, jobs: js, cfg: cfg, router: router, log: log, now: time.Now}
	if js != nil {
		h.pre = &preprocess.Service{Store: js.Store, Files: js.Files, Jobs: js, Log: log}
		h.picker = picker.New(sources, js)
	}
	h.routes()
	v, err := parseViews(router)
	if err != nil {
		return nil, err
	}
	h.views = v
	return h, nil
}

// SetClock replaces time.Now as the pages' clock (session expiry, job
// times), so tests move time instead of sleeping.
func (h *Handler) SetClock(now func() time.Time) { h.now = now }

// routes registers every page. Names are how templates and redirects build
// URLs; no path is written twice.
func (h *Handler) routes() {
	r := h.router.NewRoute().Subrouter()
	r.Use(h.withSession, h.checkInput, h.checkCSRF)

	r.HandleFunc("/login", h.showLogin).Methods(http.MethodGet).Name("login")
	r.Handle("/login", keepsForm(h.login)).Methods(http.MethodPost).Name("loginCheck")
	r.HandleFunc("/language", h.setAnonLanguage).Methods(http.MethodPost).Name("anonLanguage")

	in := r.NewRoute().Subrouter()
	in.Use(h.requireLogin)
	in.HandleFunc("/", h.showHome).Methods(http.MethodGet).Name("home")
	in.HandleFunc("/home/live", h.showHomeLive).Methods(http.MethodGet).Name("homeLive")
	in.HandleFunc("/logout", h.logout).Methods(http.MethodPost).Name("logout")
	in.HandleFunc("/tenant", h.switchTenant).Methods(http.MethodPost).Name("tenantSwitch")
	in.HandleFunc("/password", h.showPasswordChange).Methods(http.MethodGet).Name("passwordChange")
	in.Handle("/password", keepsForm(h.changeTemporaryPassword)).Methods(http.MethodPost).Name("passwordChangeSave")
	in.HandleFunc("/settings", h.showSettings).Methods(http.MethodGet).Name("settings")
	in.Handle("/settings/password", keepsForm(h.changePassword)).Methods(http.MethodPost).Name("settingsPassword")
	in.HandleFunc("/settings/language", h.setLanguage).Methods(http.MethodPost).Name("settingsLanguage")
	in.Handle("/settings/notifications", keepsForm(h.setNotifications)).Methods(http.MethodPost).Name("settingsNotifications")
	in.Handle("/settings/credentials", keepsForm(h.setCredential)).Methods(http.MethodPost).Name("settingsCredential")
	in.HandleFunc("/settings/credentials/delete", h.deleteCredential).Methods(http.MethodPost).Name("settingsCredentialDelete")
	in.HandleFunc("/settings/api-tokens/{id:[0-9]+}/revoke", h.revokeAPIToken).Methods(http.MethodPost).Name("settingsAPITokenRevoke")
	h.shellRoutes(in)

	tenant := in.NewRoute().Subrouter()
	tenant.Use(h.requireTenant)
	get, post := http.MethodGet, http.MethodPost
	tenant.HandleFunc("/data", h.showDataList).Methods(get).Name("data")
	tenant.HandleFunc("/data/new", h.showDataNew).Methods(get).Name("dataNew")
	tenant.HandleFunc("/data", h.createData).Methods(post).Name("dataCreate")
	tenant.HandleFunc("/data/delete", h.deleteDataBulk).Methods(post).Name("dataDeleteBulk")
	tenant.HandleFunc("/data/{id:[0-9]+}", h.showDataDetail).Methods(get).Name("dataDetail")
	tenant.Handle("/data/{id:[0-9]+}", keepsForm(h.updateData)).Methods(post).Name("dataUpdate")
	tenant.HandleFunc("/data/{id:[0-9]+}/delete", h.deleteData).Methods(post).Name("dataDelete")
	tenant.HandleFunc("/data/{id:[0-9]+}/files", h.addDataFiles).Methods(post).Name("dataFilesAdd")
	tenant.HandleFunc("/data/{id:[0-9]+}/files/{name:.+}", h.downloadDataFile).Methods(get).Name("dataFile")
	tenant.HandleFunc("/data/{id:[0-9]+}/files/{name:.+}/delete", h.removeDataFile).Methods(post).Name("dataFileRemove")

	members := tenant.NewRoute().Subrouter()
	members.Use(h.requireTenantAdmin)
	members.HandleFunc("/members", h.showMembers).Methods(get).Name("members")
	members.Handle("/members", keepsForm(h.addMember)).Methods(post).Name("memberAdd")
	members.HandleFunc("/members/{id:[0-9]+}/remove", h.removeMember).Methods(post).Name("memberRemove")

	h.trainingPages().routes(tenant)
	h.inferencePages().routes(tenant)
	h.preprocessRoutes(tenant)
	h.tensorBoardRoutes(tenant)
	h.lineageRoutes(tenant)
	tenant.HandleFunc("/pickers/model", h.pickFragment("pick_model", false)).Methods(get).Name("pickModel")
	tenant.HandleFunc("/pickers/resources", h.pickFragment("pick_resources", true)).Methods(get).Name("pickResources")

	tenant.HandleFunc("/datasets", h.showDatasetList).Methods(get).Name("datasets")
	tenant.HandleFunc("/datasets/new", h.showDatasetNew).Methods(get).Name("datasetNew")
	tenant.Handle("/datasets", keepsForm(h.createDataset)).Methods(post).Name("datasetCreate")
	tenant.HandleFunc("/datasets/{id:[0-9]+}", h.showDataset).Methods(get).Name("datasetDetail")
	tenant.Handle("/datasets/{id:[0-9]+}", keepsForm(h.updateDataset)).Methods(post).Name("datasetUpdate")
	tenant.HandleFunc("/datasets/{id:[0-9]+}/delete", h.deleteDataset).Methods(post).Name("datasetDelete")
	tenant.HandleFunc("/datasets/{id:[0-9]+}/copy", h.copyDataset).Methods(post).Name("datasetCopy")

	admin := in.PathPrefix("/admin").Subrouter()
	admin.Use(h.requireSystemAdmin)
	admin.HandleFunc("/tenants", h.showAdminTenants).Methods(http.MethodGet).Name("adminTenants")
	admin.Handle("/tenants", keepsForm(h.createTenant)).Methods(http.MethodPost).Name("adminTenantCreate")
	admin.Handle("/tenants/{id:[0-9]+}/quota", keepsForm(h.setTenantQuota)).Methods(http.MethodPost).Name("adminTenantQuota")
	admin.Handle("/tenants/{id:[0-9]+}/slurm-account", keepsForm(h.setTenantSlurmAccount)).Methods(http.MethodPost).Name("adminTenantSlurmAccount")
	admin.Handle("/tenants/{id:[0-9]+}/rename", keepsForm(h.renameTenant)).Methods(post).Name("adminTenantRename")
	admin.HandleFunc("/tenants/{id:[0-9]+}/delete", h.confirmTenantDelete).Methods(get).Name("adminTenantDeleteConfirm")
	admin.HandleFunc("/tenants/{id:[0-9]+}/delete", h.deleteTenant).Methods(post).Name("adminTenantDelete")
	admin.HandleFunc("/users", h.showAdminUsers).Methods(http.MethodGet).Name("adminUsers")
	admin.Handle("/users", keepsForm(h.createUser)).Methods(http.MethodPost).Name("adminUserCreate")
	admin.HandleFunc("/users/{id:[0-9]+}/memberships", h.addMembership).Methods(http.MethodPost).Name("adminMembershipAdd")
	admin.HandleFunc("/users/{id:[0-9]+}/disable", h.confirmUserDisable).Methods(get).Name("adminUserDisableConfirm")
	admin.HandleFunc("/users/{id:[0-9]+}/disable", h.disableUser).Methods(post).Name("adminUserDisable")
	admin.HandleFunc("/users/{id:[0-9]+}/enable", h.enableUser).Methods(post).Name("adminUserEnable")
	admin.HandleFunc("/users/{id:[0-9]+}/password-reset", h.confirmPasswordReset).Methods(get).Name("adminUserPasswordResetConfirm")
	admin.HandleFunc("/users/{id:[0-9]+}/password-reset", h.resetPassword).Methods(post).Name("adminUserPasswordReset")
	admin.HandleFunc("/sources", h.showAdminSources).Methods(http.MethodGet).Name("adminSources")
	admin.Handle("/git-servers", keepsForm(h.createGitServer)).Methods(http.MethodPost).Name("adminGitServerCreate")
	admin.HandleFunc("/git-servers/{id:[0-9]+}/delete", h.confirmGitServerDelete).Methods(get).Name("adminGitServerDeleteConfirm")
	admin.HandleFunc("/git-servers/{id:[0-9]+}/delete", h.deleteGitServer).Methods(post).Name("adminGitServerDelete")
	admin.Handle("/registries", keepsForm(h.createRegistry)).Methods(http.MethodPost).Name("adminRegistryCreate")
	admin.HandleFunc("/registries/{id:[0-9]+}/delete", h.confirmRegistryDelete).Methods(get).Name("adminRegistryDeleteConfirm")
	admin.HandleFunc("/registries/{id:[0-9]+}/delete", h.deleteRegistry).Methods(post).Name("adminRegistryDelete")

	h.tensorBoardProxyRoutes()
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
