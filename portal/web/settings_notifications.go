package web

import (
	"net/http"

	"kqi/portal/notify"
	"kqi/portal/refusal"
)

// setNotifications records how the visitor hears of their jobs' endings;
// a refused form shows again with what was typed. An empty webhook field
// keeps the saved webhook (it is never shown again); its box drops it.
func (h *Handler) setNotifications(w http.ResponseWriter, r *http.Request) {
	v := visitorOf(r)
	typed := notifyForm{Email: r.PostFormValue("notify_email"), Webhook: r.PostFormValue("notify_webhook")}
	book := &notify.Book{Store: h.jobs.Store, Sealer: h.sources.Sealer, Guard: notify.GuardFor(h.cfg)}
	err := withEdge(r, nil)
	if err == nil {
		err = book.Save(r.Context(), v.User.ID, typed.Email, typed.Webhook, r.PostFormValue("notify_webhook_drop") == "on")
	}
	if h.failed(w, r, err, func(e *refusal.Error) {
		if n, err := h.jobs.Store.NotificationSettingsOf(r.Context(), v.User.ID); err == nil {
			typed.WebhookHost = n.WebhookHost
		}
		h.renderSettings(w, r, http.StatusUnprocessableEntity, settingsData{NotifyRefusal: e, Notify: &typed})
	}) {
		return
	}
	h.redirect(w, r, "settings", flashInfo, "flash.notifications_saved")
}
