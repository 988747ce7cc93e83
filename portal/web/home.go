package web

import "net/http"

func (h *Handler) showHome(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusOK, "home", "home.title", nil)
}
