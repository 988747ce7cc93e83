package web

import (
	"net/http"

	"kqi/portal/refusal"
)

// adminConfirm is the confirm step of a destructive admin action: a page
// of its own with one POST button, so it works without JavaScript. With a
// Refusal the action cannot be done now and the page says why, without
// the button.
type adminConfirm struct {
	Heading string          // catalog key; its %s is Subject
	Subject string          // the name of what the action is on
	Notes   []refusal.Field // what the action will do, one line each
	Refusal *refusal.Error
	Action  string // the URL the button posts to
	Button  string // catalog key
	Back    string // the list the page came from
	// Secret is a temporary password, shown this once after a reset.
	Secret string
}

// renderConfirm shows a confirm step (or its outcome) under the nav
// section of the list it belongs to.
func (h *Handler) renderConfirm(w http.ResponseWriter, r *http.Request, status int, nav, title string, d adminConfirm) {
	h.renderPage(w, r, status, page{Name: "admin_confirm", Nav: nav, Title: title, Data: d})
}

// note is one line of a confirm page.
func note(key string, arg ...string) refusal.Field {
	f := refusal.Field{Key: key}
	if len(arg) > 0 {
		f.Arg = arg[0]
	}
	return f
}

// adminConflict shows a refused destructive action on its confirm page
// again; anything but a conflict goes the usual way (404, 500).
func (h *Handler) adminConflict(w http.ResponseWriter, r *http.Request, err error, show func(*refusal.Error)) bool {
	if e, ok := refusal.Of(err); ok && e.Kind == refusal.Conflict {
		show(e)
		return true
	}
	return h.failed(w, r, err, nil)
}
