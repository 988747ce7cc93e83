package web

import (
	"net/http"

	"kqi/portal/refusal"
)

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
