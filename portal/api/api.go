// Package api serves the JSON API under /api/v1 that the kqi CLI and
// automation use. Callers authenticate with bearer tokens; there are no
// cookies here, so no CSRF either.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"kqi/portal/accounts"
	"kqi/portal/api/apitypes"
	"kqi/portal/auth"
	"kqi/portal/data"
	"kqi/portal/i18n"
	"kqi/portal/input"
	"kqi/portal/jobs"
	"kqi/portal/picker"
	"kqi/portal/preprocess"
	"kqi/portal/refusal"
	"kqi/portal/shell"
	"kqi/storage"
)

// Handler carries the API's dependencies; endpoints are its methods.
type Handler struct {
	auth     *auth.Service
	accounts *accounts.Service
	sources  *accounts.Sources
	data     *data.Service
	jobs     *jobs.Service
	pre      *preprocess.Service
	picker   *picker.Service
	keys     *shell.Keys // nil when the site offers no shells
	log      *slog.Logger
}

// New registers the API routes on router under /api/v1.
func New(router *mux.Router, au *auth.Service, acc *accounts.Service, sources *accounts.Sources, svc *data.Service, js *jobs.Service, log *slog.Logger) *Handler {
	h := &Handler{auth: au, accounts: acc, sources: sources, data: svc, jobs: js, log: log}
	r := router.PathPrefix("/api/v1").Subrouter()
	r.Use(h.checkInput)
	r.HandleFunc("/auth/token", h.createToken).Methods(http.MethodPost).Name("apiToken")

	in := r.NewRoute().Subrouter()
	in.Use(h.requireToken)
	in.HandleFunc("/me", h.me).Methods(http.MethodGet).Name("apiMe")
	in.HandleFunc("/auth/token", h.revokeToken).Methods(http.MethodDelete).Name("apiTokenRevoke")

	get, post, del := http.MethodGet, http.MethodPost, http.MethodDelete
	in.HandleFunc("/data", h.createData).Methods(post).Name("apiDataCreate")
	in.HandleFunc("/data", h.listData).Methods(get).Name("apiDataList")
	in.HandleFunc("/data/{id:[0-9]+}", h.getData).Methods(get).Name("apiData")
	in.HandleFunc("/data/{id:[0-9]+}", h.deleteData).Methods(del).Name("apiDataDelete")
	in.HandleFunc("/data/{id:[0-9]+}/files/{name:.+}", h.downloadDataFile).Methods(get).Name("apiDataFile")
	in.HandleFunc("/datasets", h.createDataset).Methods(post).Name("apiDatasetCreate")
	in.HandleFunc("/datasets", h.listDatasets).Methods(get).Name("apiDatasetList")
	in.HandleFunc("/datasets/{id:[0-9]+}", h.getDataset).Methods(get).Name("apiDataset")
	in.HandleFunc("/datasets/{id:[0-9]+}", h.deleteDataset).Methods(del).Name("apiDatasetDelete")
	in.HandleFunc("/datasets/{id:[0-9]+}/copy", h.copyDataset).Methods(post).Name("apiDatasetCopy")
	h.editRoutes(in)

	if js != nil {
		h.trainingAPI().routes(in)
		h.inferenceAPI().routes(in)
		h.pre = &preprocess.Service{Store: js.Store, Files: js.Files, Jobs: js, Log: log}
		h.preprocessRoutes(in)
		h.tensorBoardRoutes(in)
		h.pickerRoutes(in)
	}

	admin := in.PathPrefix("/admin").Subrouter()
	admin.Use(h.requireSystemAdmin)
	admin.HandleFunc("/tenants", h.createTenant).Methods(http.MethodPost).Name("apiAdminTenantCreate")
	admin.HandleFunc("/users", h.createUser).Methods(http.MethodPost).Name("apiAdminUserCreate")
	admin.HandleFunc("/tenants/{id:[0-9]+}/quota", h.setTenantQuota).Methods(http.MethodPut).Name("apiAdminTenantQuota")
	admin.HandleFunc("/tenants/{id:[0-9]+}/slurm-account", h.setTenantSlurmAccount).Methods(http.MethodPut).Name("apiAdminTenantSlurmAccount")
	admin.HandleFunc("/git-servers", h.createGitServer).Methods(http.MethodPost).Name("apiAdminGitServerCreate")
	admin.HandleFunc("/registries", h.createRegistry).Methods(http.MethodPost).Name("apiAdminRegistryCreate")
	in.HandleFunc("/git-servers", h.listGitServers).Methods(http.MethodGet).Name("apiGitServers")
	in.HandleFunc("/registries", h.listRegistries).Methods(http.MethodGet).Name("apiRegistries")
	in.HandleFunc("/me/credentials/{kind:git|registry}/{id:[0-9]+}", h.setCredential).Methods(http.MethodPut).Name("apiCredentialSet")
	in.HandleFunc("/me/credentials/{kind:git|registry}/{id:[0-9]+}", h.deleteCredential).Methods(http.MethodDelete).Name("apiCredentialDelete")
	h.sshKeyRoutes(in)

	r.PathPrefix("/").HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "api.not_found")
	})
	return h
}

type ctxKey int

const callerKey ctxKey = iota

func callerOf(r *http.Request) *auth.Caller { return r.Context().Value(callerKey).(*auth.Caller) }

// requireToken resolves the bearer token to a user in a tenant they are
// still a member of.
func (h *Handler) requireToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || token == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="kqi"`)
			writeError(w, http.StatusUnauthorized, "api.unauthorized")
			return
		}
		c, err := h.auth.Caller(r.Context(), token, h.auth.Limit.Client(r))
		if errors.Is(err, storage.ErrNotFound) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="kqi", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "api.unauthorized")
			return
		}
		if err != nil {
			h.serverError(w, r, err)
			return
		}
		if c.JobID != nil && !jobTokenMayCall(r, *c.JobID) {
			writeError(w, http.StatusForbidden, "api.job_token_scope")
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), callerKey, c)))
	})
}

// jobCollections are the API collections whose items are jobs. Job ids
// are unique across kinds, and each collection's routes load only their
// own kind.
var jobCollections = map[string]bool{"trainings": true, "inferences": true}

// jobTokenMayCall limits a job's KQI_TOKEN to reading its own job (status,
// log, files) and /me: a leaked job token cannot reach the rest of the
// tenant.
func jobTokenMayCall(r *http.Request, jobID int64) bool {
	if r.Method != http.MethodGet {
		return false
	}
	if r.URL.Path == "/api/v1/me" {
		return true
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/api/v1/")
	parts := strings.SplitN(rest, "/", 3)
	return ok && len(parts) >= 2 && jobCollections[parts[0]] && parts[1] == strconv.FormatInt(jobID, 10)
}

func (h *Handler) requireSystemAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !callerOf(r).User.IsSystemAdmin {
			writeError(w, http.StatusForbidden, "api.forbidden_admin")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// decode reads a JSON body of at most 1 MiB, refusing unknown fields so a
// typo is an error rather than a silently ignored setting.
func decode(w http.ResponseWriter, r *http.Request, dst any) bool {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: fmt.Sprintf("%s: %v", i18n.T("en", "api.bad_json"), err)})
		return false
	}
	if err := input.JSON(dst); err != nil {
		e, _ := refusal.Of(err)
		writeRefusal(w, http.StatusBadRequest, e)
		return false
	}
	return true
}

// errorBody is every error answer: the message in English and, for a
// refusal tied to fields, each field's reason.
type errorBody = apitypes.Error

type fieldBody = apitypes.Field

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body)
}

// writeError answers {"error": "..."} with the English text of a catalog key.
func writeError(w http.ResponseWriter, status int, key string) {
	writeJSON(w, status, errorBody{Error: i18n.T("en", key)})
}

// failed answers err, if any, and reports whether it did: a refusal with
// its status (422 invalid, 404 not found, another tenant's objects
// included, 409 conflict, 503 unavailable), anything else as a logged 500.
func (h *Handler) failed(w http.ResponseWriter, r *http.Request, err error) bool {
	if err == nil {
		return false
	}
	e, ok := refusal.Of(err)
	if ok && e.Kind == refusal.NoSpace {
		h.log.Error("the file store is full", "method", r.Method, "path", r.URL.Path, "error", err)
	}
	switch {
	case !ok:
		h.serverError(w, r, err)
	case e.Kind == refusal.NotFound:
		writeError(w, http.StatusNotFound, "api.not_found")
	default:
		writeRefusal(w, e.HTTPStatus(), e)
	}
	return true
}

// writeRefusal answers a refusal: every reason in English, and each
// field's.
func writeRefusal(w http.ResponseWriter, status int, e *refusal.Error) {
	var body errorBody
	msgs := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		msgs[i] = i18n.T("en", f.Key, f.Arg)
		if f.Field != "" {
			body.Fields = append(body.Fields, fieldBody{Field: f.Field, Message: msgs[i]})
		}
	}
	body.Error = strings.Join(msgs, " ")
	writeJSON(w, status, body)
}

func (h *Handler) serverError(w http.ResponseWriter, r *http.Request, err error) {
	h.log.Error("api request failed", "method", r.Method, "path", r.URL.Path, "error", err)
	if storage.Unreachable(err) {
		writeError(w, http.StatusServiceUnavailable, "error.unavailable")
		return
	}
	writeJSON(w, http.StatusInternalServerError, errorBody{Error: "internal error; it has been logged"})
}
