package web

import (
	"net/http"
	"strconv"

	"github.com/gorilla/mux"

	"kqi/portal/refusal"
	"kqi/storage"
)

// adminUser loads the route's user; 404 for none.
func (h *Handler) adminUser(w http.ResponseWriter, r *http.Request) (*storage.User, bool) {
	id, _ := parseID(mux.Vars(r)["id"])
	u, err := h.accounts.Store.UserByID(r.Context(), id)
	if h.failed(w, r, err, nil) {
		return nil, false
	}
	return u, true
}

// confirmUserStep shows the confirm step of an action on the route's
// user; one on the visitor's own account is refused there already.
func (h *Handler) confirmUserStep(w http.ResponseWriter, r *http.Request, title string, step func(*storage.User) adminConfirm) {
	u, ok := h.adminUser(w, r)
	if !ok {
		return
	}
	d := step(u)
	if u.ID == visitorOf(r).User.ID {
		d.Refusal = refusal.Conflictf("admin.users.not_yourself")
	}
	h.renderConfirm(w, r, http.StatusOK, "admin_users", title, d)
}

// userStepRefused shows confirm step d again with why its action was
// refused.
func (h *Handler) userStepRefused(w http.ResponseWriter, r *http.Request, title string, d adminConfirm) func(*refusal.Error) {
	return func(e *refusal.Error) {
		d.Refusal = e
		h.renderConfirm(w, r, e.HTTPStatus(), "admin_users", title, d)
	}
}

func (h *Handler) userDisableStep(u *storage.User) adminConfirm {
	return adminConfirm{Heading: "admin.users.disable_heading", Subject: u.Username, Button: "admin.users.disable",
		Action: h.path("adminUserDisable", "id", strconv.FormatInt(u.ID, 10)), Back: h.path("adminUsers"),
		Notes: []refusal.Field{note("admin.users.disable_ends_access"), note("admin.users.disable_jobs_go_on"), note("admin.users.disable_undo")}}
}

// confirmUserDisable says what disabling a user does: their sessions and
// API tokens end at once, their running jobs go on.
func (h *Handler) confirmUserDisable(w http.ResponseWriter, r *http.Request) {
	h.confirmUserStep(w, r, "admin.users.disable", h.userDisableStep)
}

func (h *Handler) disableUser(w http.ResponseWriter, r *http.Request) {
	u, ok := h.adminUser(w, r)
	if !ok {
		return
	}
	err := h.accounts.SetDisabled(r.Context(), u.ID, true, visitorOf(r).User.ID)
	if h.adminConflict(w, r, err, h.userStepRefused(w, r, "admin.users.disable", h.userDisableStep(u))) {
		return
	}
	h.log.Info("user disabled", "user", u.Username, "by", visitorOf(r).User.Username)
	h.redirect(w, r, "adminUsers", flashInfo, "flash.user_disabled")
}

// enableUser lets a disabled user log in again; nothing to confirm.
func (h *Handler) enableUser(w http.ResponseWriter, r *http.Request) {
	u, ok := h.adminUser(w, r)
	if !ok {
		return
	}
	if h.failed(w, r, h.accounts.SetDisabled(r.Context(), u.ID, false, visitorOf(r).User.ID), nil) {
		return
	}
	h.log.Info("user enabled", "user", u.Username, "by", visitorOf(r).User.Username)
	h.redirect(w, r, "adminUsers", flashInfo, "flash.user_enabled")
}
