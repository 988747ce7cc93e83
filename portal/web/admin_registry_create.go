package web

import "net/http"

func (h *Handler) createRegistry(w http.ResponseWriter, r *http.Request) {
	form := map[string]string{"reg_name": r.PostFormValue("name"), "reg_host": r.PostFormValue("host")}
	err := withEdge(r, nil)
	if err == nil {
		_, err = h.sources.CreateRegistry(r.Context(), form["reg_name"], form["reg_host"])
	}
	h.afterSourceCreate(w, r, form, err)
}
