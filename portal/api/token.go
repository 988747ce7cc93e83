package api

import (
	"errors"
	"net/http"

	"kqi/portal/api/apitypes"
	"kqi/portal/auth"
)

type tokenRequest = apitypes.TokenRequest

type tenantRef = apitypes.TenantRef

type tokenResponse = apitypes.Token

// createToken trades a user name and password for a bearer token bound to
// one tenant.
func (h *Handler) createToken(w http.ResponseWriter, r *http.Request) {
	var req tokenRequest
	if !decode(w, r, &req) {
		return
	}
	u, err := h.auth.Login(r.Context(), h.auth.Limit.Client(r), req.Username, req.Password)
	switch {
	case errors.Is(err, auth.ErrTooManyFailures):
		writeError(w, http.StatusTooManyRequests, "login.too_many")
		return
	case errors.Is(err, auth.ErrSlowDown):
		writeError(w, http.StatusTooManyRequests, "login.slow_down")
		return
	case errors.Is(err, auth.ErrBadCredentials):
		// The typed name is not logged: people type passwords into it.
		h.log.Info("api login refused", "remote", r.RemoteAddr)
		writeError(w, http.StatusUnauthorized, "api.bad_credentials")
		return
	case errors.Is(err, auth.ErrDisabled):
		h.log.Info("api login of a disabled account refused", "user", req.Username, "remote", r.RemoteAddr)
		writeError(w, http.StatusForbidden, "login.disabled")
		return
	case err != nil:
		h.serverError(w, r, err)
		return
	}
	t, err := h.auth.IssueToken(r.Context(), u, req.Tenant, h.auth.Limit.Client(r))
	switch {
	case errors.Is(err, auth.ErrNotMember):
		writeError(w, http.StatusForbidden, "api.not_member")
		return
	case errors.Is(err, auth.ErrNoTenant):
		writeError(w, http.StatusForbidden, "api.no_tenant")
		return
	case errors.Is(err, auth.ErrMustChangePassword):
		writeError(w, http.StatusForbidden, "login.must_change_password_api")
		return
	case err != nil:
		h.serverError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, tokenResponse{
		Token:     t.Value,
		Tenant:    tenantRef{ID: t.Membership.Tenant.ID, Name: t.Membership.Tenant.Name},
		ExpiresAt: t.ExpiresAt.UTC().Format("2006-01-02T15:04:05Z"),
	})
}

// revokeToken ends the token the request carries.
func (h *Handler) revokeToken(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r)
	if h.failed(w, r, h.auth.RevokeToken(r.Context(), c.User.ID, c.TokenID)) {
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
