// Package refusal is the one way a service says "no" to a user: field
// errors a form can show next to what was typed, not found (another
// tenant's things included), or a conflict with the current state. Pages
// and the JSON API each map it once.
package refusal

import (
	"errors"
	"net/http"
	"strings"

	"kqi/storage"
	"kqi/storage/files"
)

// Kind is what sort of refusal it is.
type Kind int

const (
	Invalid     Kind = iota // the request itself is wrong: 422 / the form again
	NotFound                // no such thing for this tenant: 404
	Conflict                // right request, wrong moment (still running, in use): 409
	Unavailable             // a service it needs (the cluster) is not answering; nothing was done: 503
	NoSpace                 // the file store is full; nothing was kept: 507
)

// Field is one refusal tied to the form field (or JSON member) it
// concerns; "" for the request as a whole. Key is a catalog key and Arg
// fills its %s.
type Field struct {
	Field string
	Key   string
	Arg   string
}

// Error is a refusal: its kind and every reason, so a form shows them all
// at once.
type Error struct {
	Kind   Kind
	Fields []Field
}

func (e *Error) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = strings.TrimSpace(f.Field + ": " + f.Key + " " + f.Arg)
	}
	return "refused: " + strings.Join(parts, "; ")
}

// Is makes a not-found refusal match storage.ErrNotFound, so code that
// only asks "is it there?" needs no second test.
func (e *Error) Is(target error) bool {
	return e.Kind == NotFound && target == storage.ErrNotFound
}

// HTTPStatus is the status a refusal answers with, on the pages and in
// the API alike: 422, 404, 409, 503 or 507.
func (e *Error) HTTPStatus() int {
	switch e.Kind {
	case Unavailable:
		return http.StatusServiceUnavailable
	case NoSpace:
		return http.StatusInsufficientStorage
	case NotFound:
		return http.StatusNotFound
	case Conflict:
		return http.StatusConflict
	}
	return http.StatusUnprocessableEntity
}

// Key is the first reason's catalog key (a refusal with one reason).
func (e *Error) Key() (key, arg string) {
	if len(e.Fields) == 0 {
		return "", ""
	}
	return e.Fields[0].Key, e.Fields[0].Arg
}

func one(kind Kind, field, key string, arg []string) *Error {
	f := Field{Field: field, Key: key}
	if len(arg) > 0 {
		f.Arg = arg[0]
	}
	return &Error{Kind: kind, Fields: []Field{f}}
}

// Invalidf refuses one field.
func Invalidf(field, key string, arg ...string) *Error { return one(Invalid, field, key, arg) }

// Conflictf refuses a request the current state does not allow.
func Conflictf(key string, arg ...string) *Error { return one(Conflict, "", key, arg) }

// Unavailablef refuses a request a service it needs cannot serve now; the
// field is where a form shows it.
func Unavailablef(field, key string, arg ...string) *Error { return one(Unavailable, field, key, arg) }

// Missing is the not-found refusal.
func Missing() *Error { return one(NotFound, "", "error.not_found", nil) }

// Fields collects field refusals while a request is checked.
type Fields []Field

// Add records one refusal.
func (fs *Fields) Add(field, key string, arg ...string) {
	f := Field{Field: field, Key: key}
	if len(arg) > 0 {
		f.Arg = arg[0]
	}
	*fs = append(*fs, f)
}

// Err is nil when nothing was refused, else an Invalid refusal of them all.
func (fs Fields) Err() error {
	if len(fs) == 0 {
		return nil
	}
	return &Error{Kind: Invalid, Fields: fs}
}

// ByField groups the reasons by field, as a form shows them.
func (e *Error) ByField() map[string][]Field {
	m := map[string][]Field{}
	for _, f := range e.Fields {
		m[f.Field] = append(m[f.Field], f)
	}
	return m
}

// Of returns the refusal in err: a refusal, or storage.ErrNotFound as a
// NotFound one, and a full file store as a NoSpace one. ok is false for anything else (a server error).
func Of(err error) (e *Error, ok bool) {
	if errors.As(err, &e) {
		return e, true
	}
	if errors.Is(err, storage.ErrNotFound) {
		return Missing(), true
	}
	if errors.Is(err, files.ErrNoSpace) {
		return one(NoSpace, "", "error.store_full", nil), true
	}
	return nil, false
}
