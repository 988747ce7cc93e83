package web

import (
	"errors"
	"net/http"
	"strconv"

	"kqi/portal/auth"
	"kqi/portal/i18n"
	"kqi/storage"
)

type settingsData struct {
	Languages     []string
	PasswordError string // catalog key
}

func (h *Handler) showSettings(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusOK, "settings", "settings.title", settingsData{Languages: i18n.Languages})
}

// changePassword needs the current password, so a borrowed browser cannot
// lock its owner out. Every other session and API token of the user ends.
func (h *Handler) changePassword(w http.ResponseWriter, r *http.Request) {
	v := visitorOf(r)
	data := settingsData{Languages: i18n.Languages}
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
		h.render(w, r, http.StatusUnprocessableEntity, "settings", "settings.title", data)
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
