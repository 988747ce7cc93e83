package web

import (
	"errors"
	"net/http"
	"strconv"

	"kqi/portal/accounts"
	"kqi/portal/auth"
	"kqi/portal/i18n"
	"kqi/storage"
)

type settingsData struct {
	Languages       []string
	PasswordError   string // catalog key
	CredentialError string // catalog key
	Sections        []credentialSection
}

type credentialSection struct {
	Title string // catalog key
	Rows  []credentialRow
}

// credentialRow is one server and whether the user has a token for it;
// the token itself is never shown again.
type credentialRow struct {
	Kind     string
	ID       int64
	Name     string
	Where    string
	Username string
	HasToken bool
}

func (h *Handler) showSettings(w http.ResponseWriter, r *http.Request) {
	h.renderSettings(w, r, http.StatusOK, settingsData{})
}

func (h *Handler) renderSettings(w http.ResponseWriter, r *http.Request, status int, d settingsData) {
	ctx := r.Context()
	d.Languages = i18n.Languages
	creds, err := h.store.Credentials(ctx, visitorOf(r).User.ID)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	row := func(kind string, id int64, name, where string) credentialRow {
		cr := credentialRow{Kind: kind, ID: id, Name: name, Where: where}
		for _, c := range creds {
			if c.Kind == kind && c.ServerID == id {
				cr.HasToken, cr.Username = true, c.Username
			}
		}
		return cr
	}
	gits, err := h.store.GitServers(ctx)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	git := credentialSection{Title: "admin.sources.git"}
	for _, g := range gits {
		git.Rows = append(git.Rows, row(storage.CredentialGit, g.ID, g.Name, g.URL))
	}
	regs, err := h.store.Registries(ctx)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	reg := credentialSection{Title: "admin.sources.registries"}
	for _, g := range regs {
		reg.Rows = append(reg.Rows, row(storage.CredentialRegistry, g.ID, g.Name, g.Host))
	}
	d.Sections = []credentialSection{git, reg}
	h.render(w, r, status, "settings", "settings.title", d)
}

func (h *Handler) setCredential(w http.ResponseWriter, r *http.Request) {
	id, _ := parseID(r.PostFormValue("server_id"))
	err := h.sources.SetToken(r.Context(), visitorOf(r).User.ID, r.PostFormValue("kind"), id, r.PostFormValue("username"), r.PostFormValue("token"))
	if key, ok := accounts.MessageKey(err); ok {
		h.renderSettings(w, r, http.StatusUnprocessableEntity, settingsData{CredentialError: key})
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	h.redirect(w, r, "settings", flashInfo, "flash.token_saved")
}

func (h *Handler) deleteCredential(w http.ResponseWriter, r *http.Request) {
	id, _ := parseID(r.PostFormValue("server_id"))
	if err := h.store.DeleteCredential(r.Context(), visitorOf(r).User.ID, r.PostFormValue("kind"), id); err != nil {
		h.serverError(w, r, err)
		return
	}
	h.redirect(w, r, "settings", flashInfo, "flash.token_deleted")
}

// changePassword needs the current password, so a borrowed browser cannot
// lock its owner out. Every other session and API token of the user ends.
func (h *Handler) changePassword(w http.ResponseWriter, r *http.Request) {
	v := visitorOf(r)
	var data settingsData
	current, next, confirm := r.PostFormValue("current_password"), r.PostFormValue("new_password"), r.PostFormValue("confirm_password")
	switch {
	case !auth.VerifyPassword(v.User, current):
		data.PasswordError = "settings.wrong_current_password"
	case next != confirm:
		data.PasswordError = "settings.password_mismatch"
	}
	var hash string
	if data.PasswordError == "" {
		var err error
		hash, err = auth.HashPassword(next)
		switch {
		case errors.Is(err, auth.ErrPasswordTooShort):
			data.PasswordError = "settings.password_too_short"
		case errors.Is(err, auth.ErrPasswordTooLong):
			data.PasswordError = "settings.password_too_long"
		case err != nil:
			h.serverError(w, r, err)
			return
		}
	}
	if data.PasswordError != "" {
		h.renderSettings(w, r, http.StatusUnprocessableEntity, data)
		return
	}
	if err := h.store.SetPassword(r.Context(), v.User.ID, hash, storage.SessionKey(v.SessionID)); err != nil {
		h.serverError(w, r, err)
		return
	}
	h.log.Info("password changed", "user", v.User.Username)
	h.redirect(w, r, "settings", flashInfo, "flash.password_changed")
}

func (h *Handler) setLanguage(w http.ResponseWriter, r *http.Request) {
	lang := r.PostFormValue("lang")
	if !i18n.Supported(lang) {
		h.redirect(w, r, "settings", flashError, "settings.unknown_language")
		return
	}
	if err := h.store.SetLanguage(r.Context(), visitorOf(r).User.ID, lang); err != nil {
		h.serverError(w, r, err)
		return
	}
	h.redirect(w, r, "settings", flashInfo, "flash.language_changed")
}

func parseID(s string) (int64, bool) {
	id, err := strconv.ParseInt(s, 10, 64)
	return id, err == nil && id > 0
}
