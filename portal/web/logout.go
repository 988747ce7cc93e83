package web

import "net/http"

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	if err := h.auth.EndSession(r.Context(), visitorOf(r).SessionID); err != nil {
		h.serverError(w, r, err)
		return
	}
	h.clearCookie(w, sessionCookie)
	h.redirect(w, r, "login", flashInfo, "flash.logged_out")
}
