package web

import (
	"net/http"
	"strconv"

	"kqi/portal/accounts"
	"kqi/portal/i18n"
	"kqi/portal/refusal"
	"kqi/storage"
)

type settingsData struct {
	Languages         []string
	PasswordRefusal   *refusal.Error
	CredentialRefusal *refusal.Error
	Sections          []credentialSection
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
		if t.Kind == storage.CredentialGit {
			git.Rows = append(git.Rows, t)
		} else {
			reg.Rows = append(reg.Rows, t)
		}
	}
	d.Sections = []credentialSection{git, reg}
	h.render(w, r, status, "settings", "settings.title", d)
}

func (h *Handler) setCredential(w http.ResponseWriter, r *http.Request) {
	id, _ := parseID(r.PostFormValue("server_id"))
	err := h.sources.SetToken(r.Context(), visitorOf(r).User.ID, r.PostFormValue("kind"), id, r.PostFormValue("username"), r.PostFormValue("token"))
	if h.failed(w, r, err, func(e *refusal.Error) {
		h.renderSettings(w, r, http.StatusUnprocessableEntity, settingsData{CredentialRefusal: e})
	}) {
		return
	}
	h.redirect(w, r, "settings", flashInfo, "flash.token_saved")
}

func (h *Handler) deleteCredential(w http.ResponseWriter, r *http.Request) {
	id, _ := parseID(r.PostFormValue("server_id"))
	if err := h.sources.DeleteToken(r.Context(), visitorOf(r).User.ID, r.PostFormValue("kind"), id); err != nil {
		h.serverError(w, r, err)
		return
	}
	h.redirect(w, r, "settings", flashInfo, "flash.token_deleted")
}

// changePassword ends every other session and API token of the user.
func (h *Handler) changePassword(w http.ResponseWriter, r *http.Request) {
	v := visitorOf(r)
	err := h.accounts.ChangePassword(r.Context(), v.User, v.SessionID,
		r.PostFormValue("current_password"), r.PostFormValue("new_password"), r.PostFormValue("confirm_password"))
	if h.failed(w, r, err, func(e *refusal.Error) {
		h.renderSettings(w, r, http.StatusUnprocessableEntity, settingsData{PasswordRefusal: e})
	}) {
		return
	}
	h.log.Info("password changed", "user", v.User.Username)
	h.redirect(w, r, "settings", flashInfo, "flash.password_changed")
}

func (h *Handler) setLanguage(w http.ResponseWriter, r *http.Request) {
	err := h.accounts.SetLanguage(r.Context(), visitorOf(r).User.ID, r.PostFormValue("lang"))
	if h.failed(w, r, err, func(e *refusal.Error) {
		key, _ := e.Key()
		h.redirect(w, r, "settings", flashError, key)
	}) {
		return
	}
	h.redirect(w, r, "settings", flashInfo, "flash.language_changed")
}

func parseID(s string) (int64, bool) {
	id, err := strconv.ParseInt(s, 10, 64)
	return id, err == nil && id > 0
}
