package web

import (
	"crypto/subtle"
	"net/http"
	"strconv"

	"github.com/gorilla/mux"

	"kqi/portal/shell"
	"kqi/slurm"
	"kqi/storage"
)

type jobShellData struct {
	T      *storage.Job
	Back   string // the page the terminal was opened from
	Socket string // the WebSocket's path, with the CSRF token
	SSH    string // the same shell over ssh
	// Refusal is why no shell can open now (a catalog key), "" when the
	// job runs.
	Refusal string
}

// showShell is the terminal page of a running job. It works only with
// JavaScript; without, it shows the ssh command line.
func (p *jobPages) showShell(w http.ResponseWriter, r *http.Request) {
	if p.shell == nil {
		p.renderError(w, r, http.StatusNotFound, "error.not_found")
		return
	}
	t, ok := p.fromRoute(w, r)
	if !ok {
		return
	}
	id := strconv.FormatInt(t.ID, 10)
	p.renderShell(w, r, p.view().List, t, shell.Login(t.Kind, t.ID), p.path(p.view().Detail, "id", id), p.path(t.Kind+"ShellSocket", "id", id))
}

// renderShell renders the terminal page of job t, reached over ssh as
// login, opened from back; socket is its WebSocket's path.
func (h *Handler) renderShell(w http.ResponseWriter, r *http.Request, nav string, t *storage.Job, login, back, socket string) {
	d := jobShellData{T: t, Back: back, SSH: sshCommand(h.cfg.Shell.Port(), login, h.cfg.Shell.Host)}
	switch {
	case t.Status == string(slurm.StatusRunning):
		d.Socket = socket + "?csrf=" + visitorOf(r).CSRF
	case t.Active():
		d.Refusal = "shell.not_started"
	default:
		d.Refusal = "shell.job_ended"
	}
	h.renderPage(w, r, http.StatusOK, page{Name: "job_shell", Nav: nav, Title: "shell.title", Data: d})
}

// shellAllowed checks what every terminal WebSocket needs before any
// lookup: the same Origin and the page's CSRF token.
func (h *Handler) shellAllowed(w http.ResponseWriter, r *http.Request) bool {
	if !shell.SameOrigin(r, h.cfg.BaseURL) || subtle.ConstantTimeCompare([]byte(r.URL.Query().Get("csrf")), []byte(visitorOf(r).CSRF)) != 1 {
		http.Error(w, "forbidden", http.StatusForbidden)
		return false
	}
	return true
}

// shellSocket is the terminal's WebSocket: the visitor's session (this
// route is behind the login), the job in the visitor's tenant, the page's
// CSRF token and the Origin are all checked before it opens.
func (p *jobPages) shellSocket(w http.ResponseWriter, r *http.Request) {
	if p.shell == nil {
		http.NotFound(w, r)
		return
	}
	v := visitorOf(r)
	if !p.shellAllowed(w, r) {
		return
	}
	id, _ := parseID(mux.Vars(r)["id"])
	t, err := p.jobs.Job(r.Context(), v.Tenant.ID, p.kind, id)
	if err != nil {
		http.NotFound(w, r) // another tenant's, another kind's or none
		return
	}
	p.shell.ServeWebSocket(w, r, shell.Request{Job: t, UserID: v.User.ID, Via: "web", RemoteAddr: p.auth.Limit.Client(r)}, v.Lang)
}
