package web

import "net/http"

func (h *Handler) createGitServer(w http.ResponseWriter, r *http.Request) {
	form := map[string]string{"git_name": r.PostFormValue("name"), "git_url": r.PostFormValue("url")}
	err := withEdge(r, nil)
	if err == nil {
		_, err = h.sources.CreateGitServer(r.Context(), form["git_name"], form["git_url"])
	}
	h.afterSourceCreate(w, r, form, err)
}
