package notify

import (
	"context"
	"errors"
	"net/mail"
	"net/url"
	"strconv"
	"strings"

	"kqi/portal/refusal"
	"kqi/portal/secret"
	"kqi/storage"
)

// Book keeps users' notification settings. A webhook URL is a secret
// (Slack's carries its token in the path): it is checked by the guard and
// sealed, like Git tokens, and never shown again, only its host.
type Book struct {
	Store  *storage.Store
	Sealer *secret.Sealer
	Guard  Guard
}

// Label binds a sealed webhook URL to its user; the settings row and the
// outbox rows copied from it share it.
func Label(userID int64) string { return "webhook:user:" + strconv.FormatInt(userID, 10) }

// Save checks and records how a user wants to hear of their jobs' endings:
// one plain address (no display name: it goes into a header as is), or ""
// for no mail; a new http(s) webhook URL, or "" to keep the one saved
// (dropHook drops it).
func (b *Book) Save(ctx context.Context, userID int64, email, hook string, dropHook bool) error {
	email, hook = strings.TrimSpace(email), strings.TrimSpace(hook)
	var bad refusal.Fields
	if email != "" {
		a, err := mail.ParseAddress(email)
		if err != nil || a.Address != email || a.Name != "" || len(email) > 254 {
			bad.Add("notify_email", "notify.bad_email")
		}
	}
	var u *url.URL
	if hook != "" {
		var err error
		u, err = url.Parse(hook)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.User != nil || len(hook) > 2048 {
			bad.Add("notify_webhook", "notify.bad_webhook")
		} else {
			switch err := b.Guard.CheckHost(ctx, u.Hostname()); {
			case errors.Is(err, ErrInternal):
				bad.Add("notify_webhook", "notify.webhook_internal")
			case errors.Is(err, ErrUnresolvable):
				bad.Add("notify_webhook", "notify.webhook_unresolvable")
			}
		}
	}
	if err := bad.Err(); err != nil {
		return err
	}
	n, err := b.Store.NotificationSettingsOf(ctx, userID)
	if err != nil {
		return err
	}
	n.Email = email
	switch {
	case hook != "":
		n.WebhookSealed, n.WebhookHost = b.Sealer.Seal(hook, Label(userID)), u.Host
	case dropHook:
		n.WebhookSealed, n.WebhookHost = nil, ""
	}
	return b.Store.SetNotificationSettings(ctx, userID, n)
}

// SealPlainWebhooks seals the webhook URLs stored in plain text before
// they were sealed (settings, and messages not yet sent), once at start.
func SealPlainWebhooks(ctx context.Context, st *storage.Store, sealer *secret.Sealer) (int, error) {
	plain, err := st.PlainWebhooks(ctx)
	if err != nil {
		return 0, err
	}
	for _, p := range plain {
		host := ""
		if u, err := url.Parse(p.URL); err == nil {
			host = u.Host
		}
		if err := st.SealWebhook(ctx, p, sealer.Seal(p.URL, Label(p.UserID)), host); err != nil {
			return 0, err
		}
	}
	return len(plain), nil
}
