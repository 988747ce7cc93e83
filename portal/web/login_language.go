package web

import (
	"net/http"

	"kqi/portal/i18n"
)

// setAnonLanguage lets the login page switch language before anyone logs in.
func (h *Handler) setAnonLanguage(w http.ResponseWriter, r *http.Request) {
	if lang := r.PostFormValue("lang"); i18n.Supported(lang) {
		h.setCookie(w, langCookie, lang, 0)
	}
	http.Redirect(w, r, h.path("login"), http.StatusSeeOther)
}
