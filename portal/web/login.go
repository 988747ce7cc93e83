package web

import (
	"errors"
	"net/http"

	"kqi/portal/auth"
	"kqi/portal/i18n"
	"kqi/storage"
)

type loginForm struct {
	Username string
	Next     string
	Error    string // catalog key
}

func (h *Handler) showLogin(w http.ResponseWriter, r *http.Request) {
	if visitorOf(r).User != nil {
		http.Redirect(w, r, h.path("home"), http.StatusSeeOther)
		return
	}
	h.render(w, r, http.StatusOK, "login", "login.title", loginForm{Next: safeNext(r.URL.Query().Get("next"))})
}

// login checks the password, starts a server-side session in the user's
// default tenant and sends them where they were going.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	form := loginForm{Username: r.PostFormValue("username"), Next: safeNext(r.PostFormValue("next"))}
	client := h.logins.Client(r)
	if h.logins.Blocked(client) {
		form.Error = "login.too_many"
		h.render(w, r, http.StatusTooManyRequests, "login", "login.title", form)
		return
	}
	u, err := auth.Login(r.Context(), h.store, form.Username, r.PostFormValue("password"))
	if errors.Is(err, auth.ErrBadCredentials) {
		h.logins.Fail(client)
		// The typed name is not logged: people type passwords into it.
		h.log.Info("login refused", "remote", r.RemoteAddr)
		form.Error = "login.bad_credentials"
		h.render(w, r, http.StatusUnauthorized, "login", "login.title", form)
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	tenantID, err := h.startingTenant(r, u)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	id := auth.NewSecret()
	now := h.now()
	sess := storage.Session{UserID: u.ID, TenantID: tenantID, CSRFToken: auth.NewSecret(), ExpiresAt: now.Add(h.cfg.SessionIdle)}
	if err := h.store.CreateSession(r.Context(), id, sess); err != nil {
		h.serverError(w, r, err)
		return
	}
	h.setCookie(w, sessionCookie, id, 0)
	h.clearCookie(w, csrfCookie)
	h.log.Info("login", "user", u.Username)
	target := form.Next
	if target == "" {
		target = h.path("home")
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// startingTenant is the user's default tenant if they are still a member,
// else their first tenant, else none.
func (h *Handler) startingTenant(r *http.Request, u *storage.User) (*int64, error) {
	ms, err := h.store.MembershipsOfUser(r.Context(), u.ID)
	if err != nil || len(ms) == 0 {
		return nil, err
	}
	for _, m := range ms {
		if u.DefaultTenantID != nil && m.Tenant.ID == *u.DefaultTenantID {
			return &m.Tenant.ID, nil
		}
	}
	return &ms[0].Tenant.ID, nil
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	if err := h.store.DeleteSession(r.Context(), visitorOf(r).SessionID); err != nil {
		h.serverError(w, r, err)
		return
	}
	h.clearCookie(w, sessionCookie)
	h.redirect(w, r, "login", flashInfo, "flash.logged_out")
}

// setAnonLanguage lets the login page switch language before anyone logs in.
func (h *Handler) setAnonLanguage(w http.ResponseWriter, r *http.Request) {
	if lang := r.PostFormValue("lang"); i18n.Supported(lang) {
		h.setCookie(w, langCookie, lang, 0)
	}
	http.Redirect(w, r, h.path("login"), http.StatusSeeOther)
}
