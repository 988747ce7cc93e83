package web

import (
	"net/http"

	"github.com/gorilla/mux"

	"kqi/portal/refusal"
	"kqi/storage"
)

func (h *Handler) addMembership(w http.ResponseWriter, r *http.Request) {
	userID, _ := parseID(mux.Vars(r)["id"])
	tenantID, _ := parseID(r.PostFormValue("tenant_id"))
	err := h.accounts.AddMember(r.Context(), userID, tenantID, storage.Role(r.PostFormValue("role")))
	if h.failed(w, r, err, func(e *refusal.Error) {
		h.renderAdminUsers(w, r, http.StatusUnprocessableEntity, adminUsersData{Role: storage.RoleUser, Refusal: e})
	}) {
		return
	}
	h.redirect(w, r, "adminUsers", flashInfo, "flash.membership_added")
}
