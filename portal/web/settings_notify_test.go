package web_test

import (
	"context"
	"net/http"
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
	if n, _ := env.Store.NotificationSettingsOf(context.Background(), u.ID); n.Email != "" || n.WebhookURL != "" {
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
