package web

import (
	"net/http"

	"kqi/portal/i18n"
)

// setAnonLanguage lets the login page switch language before anyone logs
// in; the next login saves the pick as the user's language.
func (h *Handler) setAnonLanguage(w http.ResponseWriter, r *http.Request) {
	if lang := r.PostFormValue("lang"); i18n.Supported(lang) {
		h.setCookie(w, langCookie, lang, 0)
	}
	http.Redirect(w, r, h.path("login"), http.StatusSeeOther)
}

// pickedLanguage is the language chosen on the login page, if any.
func pickedLanguage(r *http.Request) (string, bool) {
	c, err := r.Cookie(langCookie)
	if err != nil || !i18n.Supported(c.Value) {
		return "", false
	}
	return c.Value, true
}
