package web

import (
	"net/http"

	"kqi/portal/notify"
	"kqi/portal/refusal"
	"kqi/storage"
)

// setNotifications records how the visitor hears of their jobs' endings;
// a refused form shows again with what was typed.
func (h *Handler) setNotifications(w http.ResponseWriter, r *http.Request) {
	v := visitorOf(r)
	typed := storage.NotificationSettings{Email: r.PostFormValue("notify_email"), WebhookURL: r.PostFormValue("notify_webhook")}
	err := withEdge(r, nil)
	if err == nil {
		err = notify.Save(r.Context(), h.jobs.Store, v.User.ID, typed.Email, typed.WebhookURL)
	}
	if h.failed(w, r, err, func(e *refusal.Error) {
		h.renderSettings(w, r, http.StatusUnprocessableEntity, settingsData{NotifyRefusal: e, Notify: &typed})
	}) {
		return
	}
	h.redirect(w, r, "settings", flashInfo, "flash.notifications_saved")
}
