package web

import (
	"net/http"

	"kqi/portal/input"
	"kqi/portal/refusal"
)

// checkInput holds every request's path, query and form to the one set of
// input rules (portal/input) before a handler reads them: text that cannot
// be stored or shown is a 400 page naming the field, never a 500 later.
func (h *Handler) checkInput(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := input.Request(r); err != nil {
			e, _ := refusal.Of(err)
			key, arg := e.Key()
			h.render(w, r, http.StatusBadRequest, "error", "error.title", errorData{Status: http.StatusBadRequest, Message: key, Arg: arg})
			return
		}
		next.ServeHTTP(w, r)
	})
}
