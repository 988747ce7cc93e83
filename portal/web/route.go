package web

import (
	"context"
	"net/http"
	"strconv"

	"github.com/gorilla/mux"
)

// fromRoute loads the object of the route's {id} through a tenant-scoped
// lookup, answering 404 for a bad, missing or foreign id and 500 for a
// failure. Every page that takes an id goes through it.
func fromRoute[T any](h *Handler, w http.ResponseWriter, r *http.Request, byID func(ctx context.Context, tenantID, id int64) (*T, error)) (*T, bool) {
	id, ok := parseID(mux.Vars(r)["id"])
	if !ok {
		h.renderError(w, r, http.StatusNotFound, "error.not_found")
		return nil, false
	}
	v, err := byID(r.Context(), visitorOf(r).Tenant.ID, id)
	if h.failed(w, r, err, nil) {
		return nil, false
	}
	return v, true
}

// parseID reads an id from a route or form: a positive integer.
func parseID(s string) (int64, bool) {
	id, err := strconv.ParseInt(s, 10, 64)
	return id, err == nil && id > 0
}

// checkedIDs are the ids of a list's checked rows (the form's "ids");
// anything that is not an id is skipped.
func checkedIDs(r *http.Request) []int64 {
	r.ParseForm()
	var ids []int64
	for _, s := range r.PostForm["ids"] {
		if id, ok := parseID(s); ok {
			ids = append(ids, id)
		}
	}
	return ids
}
