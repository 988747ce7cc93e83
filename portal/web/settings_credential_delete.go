package web

import "net/http"

func (h *Handler) deleteCredential(w http.ResponseWriter, r *http.Request) {
	id, _ := parseID(r.PostFormValue("server_id"))
	if err := h.sources.DeleteToken(r.Context(), visitorOf(r).User.ID, r.PostFormValue("kind"), id); err != nil {
		h.serverError(w, r, err)
		return
	}
	h.redirect(w, r, "settings", flashInfo, "flash.token_deleted")
}
