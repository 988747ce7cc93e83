package web

import (
	"context"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"kqi/portal/shell"
	"kqi/storage"
)

// SetShell gives the pages the shell gateway; without it (a site with
// KQI_SHELL_LISTEN=off) no page offers a shell and the shell routes are
// not found.
func (h *Handler) SetShell(g *shell.Gateway) {
	h.shell = g
	h.keys = &shell.Keys{Store: g.Store}
}

// shellRoutes registers the SSH key pages of the settings.
func (h *Handler) shellRoutes(in *mux.Router) {
	in.HandleFunc("/settings/ssh-keys", h.showSSHKeys).Methods(http.MethodGet).Name("settingsSSHKeys")
	in.Handle("/settings/ssh-keys", keepsForm(h.addSSHKey)).Methods(http.MethodPost).Name("settingsSSHKeyAdd")
	in.HandleFunc("/settings/ssh-keys/{id:[0-9]+}/delete", h.deleteSSHKey).Methods(http.MethodPost).Name("settingsSSHKeyDelete")
}

// shellRoutes registers a kind's terminal page and its WebSocket, below
// the job's own path one.
func (p *jobPages) shellRoutes(r *mux.Router, one string) {
	if !shell.Offers(p.kind.Name()) {
		return
	}
	r.HandleFunc(one+"/shell", p.showShell).Methods(http.MethodGet).Name(p.kind.Name() + "Shell")
	r.HandleFunc(one+"/shell/ws", p.shellSocket).Methods(http.MethodGet).Name(p.kind.Name() + "ShellSocket")
}

// shellPanel is the job page's shell section: how to open one and the
// log of those opened.
type shellPanel struct {
	On    bool   // the site offers shells into jobs of this kind
	Route string // the terminal page's route
	SSH   string // the ssh command line
	Log   []shellLogRow
}

type shellLogRow struct {
	storage.ShellSession
	Duration string // "" while open
}

// shellLogSize bounds the sessions the job page lists.
const shellLogSize = 50

func (p *jobPages) shellPanel(ctx context.Context, t *storage.Job) (shellPanel, error) {
	if p.shell == nil || !shell.Offers(t.Kind) {
		return shellPanel{}, nil
	}
	d := shellPanel{On: true, Route: t.Kind + "Shell", SSH: sshCommand(p.cfg.Shell.Port(), shell.Login(t.Kind, t.ID), p.cfg.Shell.Host)}
	rows, err := p.shell.Store.ShellSessions(ctx, t.TenantID, t.ID, shellLogSize)
	if err != nil {
		return d, err
	}
	for _, s := range rows {
		r := shellLogRow{ShellSession: s}
		if s.EndedAt != nil {
			r.Duration = s.EndedAt.Sub(s.StartedAt).Round(time.Second).String()
		}
		d.Log = append(d.Log, r)
	}
	return d, nil
}

// sshCommand is the command line that opens login's shell.
func sshCommand(port, login, host string) string {
	if port == "22" || port == "" {
		return "ssh " + login + "@" + host
	}
	return "ssh -p " + port + " " + login + "@" + host
}
