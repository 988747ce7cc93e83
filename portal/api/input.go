package api

import (
	"net/http"

	"kqi/portal/input"
	"kqi/portal/refusal"
)

// checkInput holds every request's path and query to the one set of input
// rules (portal/input); JSON bodies are held to them by decode.
func (h *Handler) checkInput(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := input.Request(r); err != nil {
			e, _ := refusal.Of(err)
			writeRefusal(w, http.StatusBadRequest, e)
			return
		}
		next.ServeHTTP(w, r)
	})
}
