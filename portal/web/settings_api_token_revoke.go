package web

import (
	"net/http"

	"github.com/gorilla/mux"
)

// revokeAPIToken ends one of the visitor's own API tokens; anyone else's
// id is not found.
func (h *Handler) revokeAPIToken(w http.ResponseWriter, r *http.Request) {
	id, ok := parseID(mux.Vars(r)["id"])
	if !ok {
		h.renderError(w, r, http.StatusNotFound, "error.not_found")
		return
	}
	if h.failed(w, r, h.auth.RevokeToken(r.Context(), visitorOf(r).User.ID, id), nil) {
		return
	}
	h.redirect(w, r, "settings", flashInfo, "flash.api_token_revoked")
}
