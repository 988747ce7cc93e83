package web

import (
	"errors"
	"net/http"

	"kqi/portal/auth"
	"kqi/portal/refusal"
)

type loginForm struct {
	Username string
	Next     string
	Error    string         // catalog key
	Refusal  *refusal.Error // of what was typed, at the edge
}

func (h *Handler) showLogin(w http.ResponseWriter, r *http.Request) {
	if visitorOf(r).User != nil {
		http.Redirect(w, r, h.path("home"), http.StatusSeeOther)
		return
	}
	h.render(w, r, http.StatusOK, "login", "login.title", loginForm{Next: safeNext(r.URL.Query().Get("next"))})
}

// login checks the password, starts a server-side session in the user's
// starting tenant and sends them where they were going.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	form := loginForm{Username: r.PostFormValue("username"), Next: safeNext(r.PostFormValue("next"))}
	if err := withEdge(r, nil); err != nil {
		// Not an attempt: no password was checked.
		form.Refusal, _ = refusal.Of(err)
		h.render(w, r, http.StatusUnprocessableEntity, "login", "login.title", form)
		return
	}
	u, err := h.auth.Login(r.Context(), h.auth.Limit.Client(r), form.Username, r.PostFormValue("password"))
	switch {
	case errors.Is(err, auth.ErrTooManyFailures):
		form.Error = "login.too_many"
		h.render(w, r, http.StatusTooManyRequests, "login", "login.title", form)
		return
	case errors.Is(err, auth.ErrSlowDown):
		form.Error = "login.slow_down"
		h.render(w, r, http.StatusTooManyRequests, "login", "login.title", form)
		return
	case errors.Is(err, auth.ErrBadCredentials):
		// The typed name is not logged: people type passwords into it.
		h.log.Info("login refused", "remote", r.RemoteAddr)
		form.Error = "login.bad_credentials"
		h.render(w, r, http.StatusUnauthorized, "login", "login.title", form)
		return
	case errors.Is(err, auth.ErrDisabled):
		// Told only to whoever knows the password; anyone else was
		// answered as for a wrong one above.
		h.log.Info("login of a disabled account refused", "user", form.Username, "remote", r.RemoteAddr)
		form.Error = "login.disabled"
		h.render(w, r, http.StatusForbidden, "login", "login.title", form)
		return
	case err != nil:
		h.serverError(w, r, err)
		return
	}
	// The language picked on the login page wins over the saved one, and
	// becomes the saved one; the pick is used up.
	if lang, picked := pickedLanguage(r); picked {
		if lang != u.Language {
			if err := h.accounts.SetLanguage(r.Context(), u.ID, lang); err != nil {
				h.serverError(w, r, err)
				return
			}
		}
		h.clearCookie(w, langCookie)
	}
	id, err := h.auth.StartSession(r.Context(), u)
	if err != nil {
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
	if u.MustChangePassword {
		h.setFlash(w, flashInfo, "flash.choose_password")
		target = h.path("passwordChange")
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}
