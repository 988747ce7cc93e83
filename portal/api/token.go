package api

import (
	"errors"
	"net/http"

	"kqi/portal/auth"
	"kqi/storage"
)

type tokenRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Tenant   string `json:"tenant"` // name or id; empty: the user's default tenant
}

type tenantRef struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

type tokenResponse struct {
	Token     string    `json:"token"`
	Tenant    tenantRef `json:"tenant"`
	ExpiresAt string    `json:"expires_at"`
}

// createToken trades a user name and password for a bearer token bound to
// one tenant.
func (h *Handler) createToken(w http.ResponseWriter, r *http.Request) {
	var req tokenRequest
	if !decode(w, r, &req) {
		return
	}
	ctx := r.Context()
	client := h.logins.Client(r)
	if h.logins.Blocked(client) {
		writeError(w, http.StatusTooManyRequests, "login.too_many")
		return
	}
	u, err := auth.Login(ctx, h.store, req.Username, req.Password)
	if errors.Is(err, auth.ErrBadCredentials) {
		h.logins.Fail(client)
		// The typed name is not logged: people type passwords into it.
		h.log.Info("api login refused", "remote", r.RemoteAddr)
		writeError(w, http.StatusUnauthorized, "api.bad_credentials")
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	m, status, key := h.tokenTenant(r, u, req.Tenant)
	if key != "" {
		writeError(w, status, key)
		return
	}
	token := auth.NewSecret()
	t, err := h.store.CreateAPIToken(ctx, token, u.ID, m.Tenant.ID, h.now().Add(h.cfg.APITokenTTL))
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, tokenResponse{
		Token:     token,
		Tenant:    tenantRef{ID: m.Tenant.ID, Name: m.Tenant.Name},
		ExpiresAt: t.ExpiresAt.UTC().Format("2006-01-02T15:04:05Z"),
	})
}

// tokenTenant picks the tenant a token is for: the one asked for, if the
// user is a member, else their default (or first) tenant.
func (h *Handler) tokenTenant(r *http.Request, u *storage.User, ref string) (*storage.Membership, int, string) {
	ctx := r.Context()
	if ref != "" {
		// A tenant that does not exist gets the answer of one the user is
		// not in: which names exist is none of their business.
		t, err := h.store.TenantByRef(ctx, ref)
		if errors.Is(err, storage.ErrNotFound) {
			return nil, http.StatusForbidden, "api.not_member"
		}
		if err != nil {
			h.log.Error("token tenant", "error", err)
			return nil, http.StatusInternalServerError, "error.internal"
		}
		m, err := h.store.Membership(ctx, u.ID, t.ID)
		if errors.Is(err, storage.ErrNotFound) {
			return nil, http.StatusForbidden, "api.not_member"
		}
		if err != nil {
			return nil, http.StatusInternalServerError, "error.internal"
		}
		return m, 0, ""
	}
	ms, err := h.store.MembershipsOfUser(ctx, u.ID)
	if err != nil {
		return nil, http.StatusInternalServerError, "error.internal"
	}
	if len(ms) == 0 {
		return nil, http.StatusForbidden, "api.no_tenant"
	}
	for i := range ms {
		if u.DefaultTenantID != nil && ms[i].Tenant.ID == *u.DefaultTenantID {
			return &ms[i], 0, ""
		}
	}
	return &ms[0], 0, ""
}
