package notify

import (
	"context"
	"net/mail"
	"net/url"
	"strings"

	"kqi/portal/refusal"
	"kqi/storage"
)

// Save checks and records how a user wants to hear of their jobs' endings:
// one plain address (no display name: it goes into a header as is) and an
// http(s) webhook URL; either may be empty.
func Save(ctx context.Context, st *storage.Store, userID int64, email, hook string) error {
	email, hook = strings.TrimSpace(email), strings.TrimSpace(hook)
	var bad refusal.Fields
	if email != "" {
		a, err := mail.ParseAddress(email)
		if err != nil || a.Address != email || a.Name != "" || len(email) > 254 {
			bad.Add("notify_email", "notify.bad_email")
		}
	}
	if hook != "" {
		u, err := url.Parse(hook)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || len(hook) > 2048 {
			bad.Add("notify_webhook", "notify.bad_webhook")
		}
	}
	if err := bad.Err(); err != nil {
		return err
	}
	return st.SetNotificationSettings(ctx, userID, storage.NotificationSettings{Email: email, WebhookURL: hook})
}
