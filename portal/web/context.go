package web

import (
	"context"
	"net/http"

	"kqi/storage"
)

// visitor is what the middleware learned about the caller. Handlers read it
// with visitorOf; it is never nil inside the page routes.
type visitor struct {
	SessionID   string // empty when not logged in
	Session     *storage.Session
	User        *storage.User
	Tenant      *storage.Tenant // current tenant; nil when the user has none
	Role        storage.Role    // role in Tenant
	Memberships []storage.Membership
	CSRF        string
	Lang        string
	Expired     bool // a session cookie was sent but the session is gone
}

type ctxKey int

const visitorKey ctxKey = iota

func withVisitor(r *http.Request, v *visitor) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), visitorKey, v))
}

func visitorOf(r *http.Request) *visitor {
	v, _ := r.Context().Value(visitorKey).(*visitor)
	if v == nil {
		return &visitor{}
	}
	return v
}
