package web

import (
	"net/http"

	"kqi/portal/accounts"
	"kqi/portal/i18n"
	"kqi/portal/refusal"
	"kqi/storage"
)

type settingsData struct {
	Languages         []string
	PasswordRefusal   *refusal.Error
	CredentialRefusal *refusal.Error
	CredentialTyped   *accounts.ServerToken // the refused row and the user name typed in it
	Sections          []credentialSection
	APITokens         []storage.APIToken
	SSHKeys           bool // the site offers shells, so SSH keys matter
	NotifyRefusal     *refusal.Error
	Notify            *notifyForm // nil: the saved settings
	MailConfigured    bool
}

// notifyForm is the notification settings as the form shows them: the
// saved webhook only by its host (its URL is a secret), and on a refusal
// what was typed.
type notifyForm struct {
	Email       string
	Webhook     string // typed, on a refusal
	WebhookHost string // the saved webhook's host; "" for none
}

// credentialSection is one kind of server and the user's tokens for them.
type credentialSection struct {
	Title string // catalog key
	Rows  []accounts.ServerToken
}

func (h *Handler) showSettings(w http.ResponseWriter, r *http.Request) {
	h.renderSettings(w, r, http.StatusOK, settingsData{})
}

func (h *Handler) renderSettings(w http.ResponseWriter, r *http.Request, status int, d settingsData) {
	d.Languages = i18n.Languages
	tokens, err := h.sources.Tokens(r.Context(), visitorOf(r).User.ID)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	git := credentialSection{Title: "admin.sources.git"}
	reg := credentialSection{Title: "admin.sources.registries"}
	for _, t := range tokens {
		if c := d.CredentialTyped; c != nil && c.Kind == t.Kind && c.ID == t.ID {
			t.Username = c.Username
		}
		if t.Kind == storage.CredentialGit {
			git.Rows = append(git.Rows, t)
		} else {
			reg.Rows = append(reg.Rows, t)
		}
	}
	d.Sections = []credentialSection{git, reg}
	if d.APITokens, err = h.auth.Tokens(r.Context(), visitorOf(r).User.ID); err != nil {
		h.serverError(w, r, err)
		return
	}
	d.SSHKeys = h.keys != nil
	if d.Notify == nil {
		n, err := h.jobs.Store.NotificationSettingsOf(r.Context(), visitorOf(r).User.ID)
		if err != nil {
			h.serverError(w, r, err)
			return
		}
		d.Notify = &notifyForm{Email: n.Email, WebhookHost: n.WebhookHost}
	}
	d.MailConfigured = h.cfg.SMTP.Addr != ""
	h.render(w, r, status, "settings", "settings.title", d)
}
