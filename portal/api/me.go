package api

import (
	"net/http"

	"kqi/portal/api/apitypes"
	"kqi/storage"
)

type userBody = apitypes.User

type membershipBody = apitypes.Membership

type meResponse = apitypes.Me

func (h *Handler) me(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r)
	ms, err := h.accounts.Memberships(r.Context(), c.User.ID)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	resp := meResponse{
		User:    userBody{ID: c.User.ID, Username: c.User.Username, SystemAdmin: c.User.IsSystemAdmin, Language: c.User.Language},
		Tenant:  tenantRef{ID: c.Tenant.ID, Name: c.Tenant.Name},
		Role:    string(c.Role),
		Tenants: membershipBodies(ms),
	}
	writeJSON(w, http.StatusOK, resp)
}

func membershipBodies(ms []storage.Membership) []membershipBody {
	out := make([]membershipBody, 0, len(ms))
	for _, m := range ms {
		out = append(out, membershipBody{Tenant: tenantRef{ID: m.Tenant.ID, Name: m.Tenant.Name}, Role: string(m.Role)})
	}
	return out
}
