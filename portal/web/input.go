package web

import (
	"context"
	"net/http"

	"github.com/gorilla/mux"

	"kqi/portal/input"
	"kqi/portal/refusal"
)

// checkInput holds every request's path, query and form to the one set of
// input rules (portal/input) before a handler reads them: text that cannot
// be stored or shown never reaches a handler as it was sent. A form sent
// to a keepsForm route is passed on cleaned with its refusal, for the
// handler to show the form again (withEdge); anything else refused is a
// 400 page naming the field.
func (h *Handler) checkInput(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := input.Head(r)
		if err == nil {
			if err = input.Form(r); err != nil && showsForm(r, err) {
				next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), edgeKey{}, err)))
				return
			}
		}
		if err != nil {
			e, _ := refusal.Of(err)
			key, arg := e.Key()
			h.render(w, r, http.StatusBadRequest, "error", "error.title", errorData{Status: http.StatusBadRequest, Message: key, Arg: arg})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// keepsForm marks the handler of a form that, refused at the edge, is
// shown again with what was typed: the handler calls withEdge before it
// acts. Routes register it as r.Handle(path, keepsForm(h.action)).
type keepsForm http.HandlerFunc

func (f keepsForm) ServeHTTP(w http.ResponseWriter, r *http.Request) { f(w, r) }

type edgeKey struct{}

// showsForm reports whether the refused form goes to its handler: the
// route keeps its form and every reason names a field the form shows.
func showsForm(r *http.Request, err error) bool {
	route := mux.CurrentRoute(r)
	if route == nil {
		return false
	}
	if _, ok := route.GetHandler().(keepsForm); !ok {
		return false
	}
	e, ok := refusal.Of(err)
	if !ok {
		return false
	}
	for _, f := range e.Fields {
		if f.Field == "" {
			return false
		}
	}
	return true
}

// withEdge is err, what the handler found wrong with the form so far,
// with the edge's refusal of the form added: a form refused at the edge
// arrives cleaned, and its handler must show it again instead of acting.
// Both sets of reasons are shown together; a server error stays one.
func withEdge(r *http.Request, err error) error {
	edge, _ := r.Context().Value(edgeKey{}).(error)
	if edge == nil {
		return err
	}
	if err == nil {
		return edge
	}
	own, ok := refusal.Of(err)
	if !ok {
		return err
	}
	if own.Kind != refusal.Invalid {
		return edge
	}
	e, _ := refusal.Of(edge)
	return &refusal.Error{Kind: refusal.Invalid, Fields: append(append([]refusal.Field{}, e.Fields...), own.Fields...)}
}
