package web

import (
	"context"
	"crypto/subtle"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"kqi/portal/auth"
	"kqi/portal/i18n"
	"kqi/portal/transfer"
	"kqi/storage"
)

const (
	sessionCookie = "kqi_session"
	csrfCookie    = "kqi_csrf" // double-submit token for forms shown before login
	langCookie    = "kqi_lang"
	csrfField     = "csrf_token"
)

// withSession loads the session named by the cookie, the user, their
// tenants and the current tenant. An expired or unknown cookie leaves the
// visitor anonymous and marked Expired.
func (h *Handler) withSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := &visitor{}
		if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
			visit, err := h.auth.ResumeSession(r.Context(), c.Value)
			switch {
			case errors.Is(err, storage.ErrNotFound):
				v.Expired = true
				h.clearCookie(w, sessionCookie)
			case err != nil:
				h.serverError(w, r, err)
				return
			default:
				v.SessionID, v.Session, v.User, v.Memberships = c.Value, visit.Session, visit.User, visit.Memberships
				v.Tenant, v.Role = visit.Tenant, visit.Role
			}
		}
		if v.User != nil {
			v.Lang = v.User.Language
			v.CSRF = auth.CSRFToken(v.SessionID)
		} else {
			v.Lang = anonLanguage(r)
			v.CSRF = h.anonCSRF(w, r)
		}
		next.ServeHTTP(w, withVisitor(r, v))
	})
}

func anonLanguage(r *http.Request) string {
	if lang, ok := pickedLanguage(r); ok {
		return lang
	}
	return i18n.FromAcceptLanguage(r.Header.Get("Accept-Language"))
}

// anonCSRF returns the double-submit token of a visitor without a session,
// setting the cookie on first sight.
func (h *Handler) anonCSRF(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) >= 32 {
		return c.Value
	}
	token := auth.NewSecret()
	h.setCookie(w, csrfCookie, token, 0)
	return token
}

// checkCSRF refuses any state-changing request whose form token does not
// match the session's (or, before login, the cookie's).
func (h *Handler) checkCSRF(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		v := visitorOf(r)
		sent := r.Header.Get("X-CSRF-Token")
		if sent == "" && isMultipart(r) {
			// Uploads stream: the token must be the form's first part, so
			// checking it does not buffer the files.
			mr, token, err := firstPartToken(r)
			if err != nil {
				h.renderError(w, r, http.StatusBadRequest, "error.bad_upload")
				return
			}
			sent = token
			r = r.WithContext(context.WithValue(r.Context(), multipartKey, mr))
		} else if sent == "" {
			sent = r.PostFormValue(csrfField)
		}
		if sent == "" || subtle.ConstantTimeCompare([]byte(sent), []byte(v.CSRF)) != 1 {
			if v.Expired {
				// The form was made under a session that has since ended;
				// say so instead of blaming the token.
				h.redirectToLogin(w, r, "flash.session_expired")
				return
			}
			h.renderError(w, r, http.StatusForbidden, "error.csrf")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// requireLogin sends anonymous visitors to the login page, remembering
// where they were going.
func (h *Handler) requireLogin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := visitorOf(r)
		if v.User == nil {
			msg := "flash.login_required"
			if v.Expired {
				msg = "flash.session_expired"
			}
			h.redirectToLogin(w, r, msg)
			return
		}
		if v.User.MustChangePassword && !passwordChangeRoutes[routeName(r)] {
			// A temporary password from an administrator: nothing else
			// until the user has chosen their own.
			h.redirect(w, r, "passwordChange", flashInfo, "flash.choose_password")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// passwordChangeRoutes are what a user whose password is temporary may
// reach.
var passwordChangeRoutes = map[string]bool{"passwordChange": true, "passwordChangeSave": true, "logout": true}

func routeName(r *http.Request) string {
	if rt := mux.CurrentRoute(r); rt != nil {
		return rt.GetName()
	}
	return ""
}

func (h *Handler) redirectToLogin(w http.ResponseWriter, r *http.Request, msg string) {
	h.setFlash(w, flashInfo, msg)
	target := h.path("login")
	if r.Method == http.MethodGet && r.URL.Path != "/" {
		target += "?" + url.Values{"next": {r.URL.RequestURI()}}.Encode()
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// requireTenant guards the pages of tenant data.
func (h *Handler) requireTenant(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if visitorOf(r).Tenant == nil {
			h.renderError(w, r, http.StatusForbidden, "error.no_tenant")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// requireTenantAdmin guards the management of the current tenant; system
// administrators may manage any tenant they work in.
func (h *Handler) requireTenantAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := visitorOf(r)
		if v.Role != storage.RoleAdmin && !v.User.IsSystemAdmin {
			h.renderError(w, r, http.StatusForbidden, "error.tenant_admin_only")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (h *Handler) requireSystemAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u := visitorOf(r).User; u == nil || !u.IsSystemAdmin {
			// Like anything else that is not theirs: not there at all.
			h.renderError(w, r, http.StatusNotFound, "error.not_found")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// safeNext keeps a post-login redirect on this site.
func safeNext(next string) string {
	for _, c := range next {
		// Browsers drop tabs and newlines from a Location, so "/\t/evil"
		// would become "//evil"; backslashes count as slashes to them.
		if c < 0x20 || c == 0x7f || c == '\\' {
			return ""
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil ||
		!strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		return ""
	}
	return next
}

func (h *Handler) setCookie(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	c := &http.Cookie{
		Name: name, Value: value, Path: "/",
		HttpOnly: true, Secure: h.cfg.SecureCookie, SameSite: http.SameSiteLaxMode,
	}
	if maxAge > 0 {
		c.MaxAge = int(maxAge.Seconds())
	}
	http.SetCookie(w, c)
}

func (h *Handler) clearCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: h.cfg.SecureCookie, SameSite: http.SameSiteLaxMode})
}

func isMultipart(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data")
}

type multipartCtxKey struct{}

var multipartKey = multipartCtxKey{}

// firstPartToken reads the CSRF token from the first part of a multipart
// body and returns the reader positioned after it.
func firstPartToken(r *http.Request) (*transfer.Form, string, error) {
	mr, err := transfer.FormOf(r)
	if err != nil {
		return nil, "", err
	}
	p, err := mr.NextPart()
	if err != nil {
		return nil, "", err
	}
	if p.FormName() != csrfField {
		return mr, "", nil
	}
	b, err := io.ReadAll(io.LimitReader(p, 256))
	return mr, string(b), err
}

// multipartOf returns the upload body's reader. It comes from the CSRF
// check (token already consumed) or, when the token came as a header, is
// opened here.
func multipartOf(r *http.Request) (*transfer.Form, error) {
	if mr, ok := r.Context().Value(multipartKey).(*transfer.Form); ok {
		return mr, nil
	}
	return transfer.FormOf(r)
}
