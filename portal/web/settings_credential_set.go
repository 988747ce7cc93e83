package web

import (
	"net/http"

	"kqi/portal/accounts"
	"kqi/portal/refusal"
)

func (h *Handler) setCredential(w http.ResponseWriter, r *http.Request) {
	id, _ := parseID(r.PostFormValue("server_id"))
	err := withEdge(r, nil)
	if err == nil {
		err = h.sources.SetToken(r.Context(), visitorOf(r).User.ID, r.PostFormValue("kind"), id, r.PostFormValue("username"), r.PostFormValue("token"))
	}
	if h.failed(w, r, err, func(e *refusal.Error) {
		typed := &accounts.ServerToken{Kind: r.PostFormValue("kind"), ID: id, Username: r.PostFormValue("username")}
		h.renderSettings(w, r, http.StatusUnprocessableEntity, settingsData{CredentialRefusal: e, CredentialTyped: typed})
	}) {
		return
	}
	h.redirect(w, r, "settings", flashInfo, "flash.token_saved")
}
