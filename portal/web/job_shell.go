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
	P      jobView
	T      *storage.Job
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
	d := jobShellData{P: p.view(), T: t, SSH: sshCommand(p.cfg.Shell.Port(), shell.Login(t.Kind, t.ID), p.cfg.Shell.Host)}
	switch {
	case t.Status == string(slurm.StatusRunning):
		d.Socket = p.path(t.Kind+"ShellSocket", "id", strconv.FormatInt(t.ID, 10)) + "?csrf=" + visitorOf(r).CSRF
	case t.Active():
		d.Refusal = "shell.not_started"
	default:
		d.Refusal = "shell.job_ended"
	}
	p.renderPage(w, r, http.StatusOK, page{Name: "job_shell", Nav: d.P.List, Title: "shell.title", Data: d})
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
	if !shell.SameOrigin(r, p.cfg.BaseURL) || subtle.ConstantTimeCompare([]byte(r.URL.Query().Get("csrf")), []byte(v.CSRF)) != 1 {
		http.Error(w, "forbidden", http.StatusForbidden)
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
