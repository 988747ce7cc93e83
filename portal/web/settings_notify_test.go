package web_test

import (
	"context"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"kqi/portal/portaltest"
)

func TestNotificationSettingsStates(t *testing.T) {
	env := portaltest.New(t)
	u := env.User(t, "alice", pw, false)
	b := env.Browser(t)
	b.Login("alice", pw)

	// Never set, no mail server: empty fields and the hint.
	p := b.Get("/settings")
	for _, want := range []string{`id="notify-email" value=""`, `id="notify-no-mail"`, `placeholder="you@example.org"`} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("fresh settings lack %q", want)
		}
	}
	// Refused: the form shows again with what was typed, nothing saved.
	p = b.Submit("/settings", "/settings/notifications", url.Values{"notify_email": {"Alice <a@example.org>"}, "notify_webhook": {"ftp://x"}})
	if p.Status != http.StatusUnprocessableEntity {
		t.Fatalf("status %d", p.Status)
	}
	for _, want := range []string{`value="Alice &lt;a@example.org&gt;"`, `value="ftp://x"`, "Enter one e-mail address", "http:// or https://"} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("the refused form lacks %q", want)
		}
	}
	if n, _ := env.Store.NotificationSettingsOf(context.Background(), u.ID); n.Email != "" || n.WebhookSealed != nil {
		t.Fatalf("a refused form saved %+v", n)
	}
	// Saved: shown again, and a mail server configured hides the hint.
	env.Config.SMTP.Addr = "127.0.0.1:25"
	if p := b.Submit("/settings", "/settings/notifications", url.Values{"notify_email": {"a@example.org"}}); p.Status != http.StatusSeeOther {
		t.Fatalf("status %d", p.Status)
	}
	p = b.Get("/settings")
	if !strings.Contains(p.Body, `id="notify-email" value="a@example.org"`) || strings.Contains(p.Body, `id="notify-no-mail"`) {
		t.Fatalf("saved settings:\n%s", p.Body)
	}
}

// A webhook to an internal address is refused without the site's allow
// setting; with it, it is saved sealed and shown only by its host, an
// empty field keeps it and the box removes it.
func TestNotificationWebhookStates(t *testing.T) {
	env := portaltest.New(t)
	u := env.User(t, "alice", pw, false)
	b := env.Browser(t)
	b.Login("alice", pw)
	hook := "http://127.0.0.1:8125/services/T0/SECRET"
	p := b.Submit("/settings", "/settings/notifications", url.Values{"notify_email": {"a@example.org"}, "notify_webhook": {hook}})
	if p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Body, "inside the site") || !strings.Contains(p.Body, `value="a@example.org"`) {
		t.Fatalf("an internal webhook without the allow setting: %d\n%s", p.Status, p.Body)
	}
	if n, _ := env.Store.NotificationSettingsOf(context.Background(), u.ID); n.WebhookSealed != nil || n.Email != "" {
		t.Fatalf("a refused form saved %+v", n)
	}
	env.Config.WebhookAllow = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	if p := b.Submit("/settings", "/settings/notifications", url.Values{"notify_webhook": {hook}}); p.Status != http.StatusSeeOther {
		t.Fatalf("allowed: %d\n%s", p.Status, p.Body)
	}
	p = b.Get("/settings")
	if !strings.Contains(p.Body, `id="notify-webhook-set"`) || !strings.Contains(p.Body, "127.0.0.1:8125") || strings.Contains(p.Body, "SECRET") || !strings.Contains(p.Body, `id="notify-webhook-drop"`) {
		t.Fatalf("the saved webhook is not shown by its host alone:\n%s", p.Body)
	}
	if p := b.Submit("/settings", "/settings/notifications", url.Values{"notify_email": {"a@example.org"}}); p.Status != http.StatusSeeOther {
		t.Fatalf("keep: %d", p.Status)
	}
	if n, _ := env.Store.NotificationSettingsOf(context.Background(), u.ID); n.WebhookSealed == nil || n.Email != "a@example.org" {
		t.Fatalf("an empty field dropped the webhook: %+v", n)
	}
	if p := b.Submit("/settings", "/settings/notifications", url.Values{"notify_webhook_drop": {"on"}}); p.Status != http.StatusSeeOther {
		t.Fatalf("drop: %d", p.Status)
	}
	if n, _ := env.Store.NotificationSettingsOf(context.Background(), u.ID); n.WebhookSealed != nil {
		t.Fatalf("the box kept the webhook: %+v", n)
	}
	if p := b.Get("/settings"); strings.Contains(p.Body, `id="notify-webhook-set"`) {
		t.Fatal("a dropped webhook still shows")
	}
}
