package web

import (
	"net/http"
	"strconv"
	"strings"

	"kqi/portal/i18n"
)

// A flash is a one-shot message shown on the next page after a redirect.
// The cookie holds only a kind and a catalog key, never user text, so it
// cannot carry markup.
type flash struct {
	Kind    string // "info" or "error"
	Message string // catalog key
}

const (
	flashInfo  = "info"
	flashError = "error"
	flashName  = "kqi_flash"
)

func (h *Handler) setFlash(w http.ResponseWriter, kind, key string) {
	h.setCookie(w, flashName, kind+":"+key, 0)
}

func (h *Handler) takeFlash(w http.ResponseWriter, r *http.Request) *flash {
	c, err := r.Cookie(flashName)
	if err != nil {
		return nil
	}
	h.clearCookie(w, flashName)
	kind, key, ok := strings.Cut(c.Value, ":")
	if !ok || (kind != flashInfo && kind != flashError) || !i18n.Has(i18n.Default, key) {
		return nil
	}
	return &flash{Kind: kind, Message: key}
}

// redirectToID sends the browser to the page of one object (a route with
// an {id}) after a change, with an info flash message.
func (h *Handler) redirectToID(w http.ResponseWriter, r *http.Request, route string, id int64, msg string) {
	h.setFlash(w, flashInfo, msg)
	http.Redirect(w, r, h.path(route, "id", strconv.FormatInt(id, 10)), http.StatusSeeOther)
}

// redirect sends the browser to a named route after a change (POST →
// redirect → GET), with a flash message.
func (h *Handler) redirect(w http.ResponseWriter, r *http.Request, route, kind, msg string) {
	if msg != "" {
		h.setFlash(w, kind, msg)
	}
	http.Redirect(w, r, h.path(route), http.StatusSeeOther)
}
