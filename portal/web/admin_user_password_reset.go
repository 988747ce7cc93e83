package web

import (
	"net/http"
	"strconv"

	"kqi/portal/refusal"
	"kqi/storage"
)

func (h *Handler) passwordResetStep(u *storage.User) adminConfirm {
	return adminConfirm{Heading: "admin.users.reset_heading", Subject: u.Username, Button: "admin.users.reset",
		Action: h.path("adminUserPasswordReset", "id", strconv.FormatInt(u.ID, 10)), Back: h.path("adminUsers"),
		Notes: []refusal.Field{note("admin.users.reset_temp"), note("admin.users.disable_ends_access"), note("admin.users.disable_jobs_go_on")}}
}

// confirmPasswordReset says what a reset does before it is done.
func (h *Handler) confirmPasswordReset(w http.ResponseWriter, r *http.Request) {
	h.confirmUserStep(w, r, "admin.users.reset", h.passwordResetStep)
}

// resetPassword sets a temporary password and shows it this once, on the
// answer to the POST itself (not stored anywhere a later page could read
// it; the page is not cached). The log names the user, not the password.
func (h *Handler) resetPassword(w http.ResponseWriter, r *http.Request) {
	u, ok := h.adminUser(w, r)
	if !ok {
		return
	}
	temp, err := h.accounts.ResetPassword(r.Context(), u.ID, visitorOf(r).User.ID)
	if h.adminConflict(w, r, err, h.userStepRefused(w, r, "admin.users.reset", h.passwordResetStep(u))) {
		return
	}
	h.log.Info("password reset by an administrator", "user", u.Username, "by", visitorOf(r).User.Username)
	h.renderConfirm(w, r, http.StatusOK, "admin_users", "admin.users.reset", adminConfirm{
		Heading: "admin.users.reset_done", Subject: u.Username, Secret: temp, Back: h.path("adminUsers")})
}
