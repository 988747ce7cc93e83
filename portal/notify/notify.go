// Package notify tells users that their jobs ended. The poller records the
// ending and, in the same statement, a message per chosen channel in the
// outbox (storage/notification.go); Sender drains that outbox on its own
// goroutine, by e-mail (SMTP) and Slack-compatible webhook, retrying with
// back-off, so a slow or broken mail server never holds the poller up.
package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/smtp"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"kqi/portal/config"
	"kqi/portal/i18n"
	"kqi/portal/secret"
	"kqi/storage"
)

// Sender drains the outbox.
type Sender struct {
	Store   *storage.Store
	SMTP    config.SMTP
	BaseURL string         // links in the messages point here
	Sealer  *secret.Sealer // opens webhook URLs
	Guard   Guard          // keeps webhooks off internal addresses
	Log     *slog.Logger
	// Backoff is the wait after the nth failed attempt, 0 to give up;
	// nil: retryAfter. Tests shorten it.
	Backoff func(n int) time.Duration
}

const (
	batch       = 20
	lease       = 2 * time.Minute // a claimed message is not claimed again before this
	maxAttempts = 8
	sendTimeout = 20 * time.Second
)

// retryAfter is the back-off after the nth failed attempt (1-based):
// 30 s, 1 min, 2 min … at most an hour; 0 once the message is given up.
func retryAfter(n int) time.Duration {
	if n >= maxAttempts {
		return 0
	}
	return min(30*time.Second<<(n-1), time.Hour)
}

// Run drains the outbox every interval until ctx ends.
func (s *Sender) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := s.Drain(ctx); err != nil && ctx.Err() == nil {
			s.Log.Warn("notifications", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Drain sends what is due now.
func (s *Sender) Drain(ctx context.Context) error {
	due, err := s.Store.DueNotifications(ctx, batch, lease)
	if err != nil {
		return err
	}
	for _, n := range due {
		err := s.send(ctx, n)
		if err == nil {
			if err := s.Store.NotificationSent(ctx, n.ID); err != nil {
				return err
			}
			continue
		}
		backoff := s.Backoff
		if backoff == nil {
			backoff = retryAfter
		}
		retry := backoff(n.Attempts + 1)
		s.Log.Warn("notification not sent", "job", n.JobID, "channel", n.Channel, "attempt", n.Attempts+1, "retry_in", retry, "error", err)
		if err := s.Store.NotificationFailed(ctx, n.ID, err.Error(), retry); err != nil {
			return err
		}
	}
	return nil
}

// message is one ending, told in the user's language.
type message struct {
	Subject, Text string
}

func (s *Sender) compose(ctx context.Context, n storage.Notification) (message, error) {
	j, err := s.Store.JobByID(ctx, n.TenantID, n.JobID)
	if err != nil {
		return message{}, err
	}
	lang := i18n.Default
	if u, err := s.Store.UserByID(ctx, n.UserID); err == nil {
		lang = u.Language
	}
	kind := i18n.T(lang, "home.kind_"+j.Kind)
	status := i18n.T(lang, "status."+j.Status)
	m := message{Subject: i18n.T(lang, "notify.subject", kind, j.ID, j.Name, status)}
	var b strings.Builder
	b.WriteString(i18n.T(lang, "notify.ended", kind, j.ID, j.Name, status))
	if reason := i18n.Cause(lang, j.Reason, j.ReasonArg); reason != "" {
		b.WriteString(" (" + reason + ")")
	}
	b.WriteString("\n")
	if j.StartedAt != nil && j.EndedAt != nil {
		b.WriteString(i18n.T(lang, "notify.ran", j.EndedAt.Sub(*j.StartedAt).Round(time.Second).String()) + "\n")
	}
	if link := s.link(j); link != "" {
		b.WriteString("\n" + link + "\n")
	}
	m.Text = b.String()
	return m, nil
}

// link is the job's page (a preprocessing run's: the preprocessing list).
func (s *Sender) link(j *storage.Job) string {
	switch j.Kind {
	case "training", "inference":
		return s.BaseURL + "/" + j.Kind + "s/" + strconv.FormatInt(j.ID, 10)
	case "preprocess":
		return s.BaseURL + "/preprocessing"
	}
	return ""
}

func (s *Sender) send(ctx context.Context, n storage.Notification) error {
	m, err := s.compose(ctx, n)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, sendTimeout)
	defer cancel()
	switch n.Channel {
	case "email":
		return s.mail(ctx, n.Target, m)
	case "webhook":
		hook, err := s.Sealer.Open(n.Sealed, Label(n.UserID))
		if err != nil {
			return fmt.Errorf("notify: webhook URL: %w", err)
		}
		return s.webhook(ctx, hook, m)
	}
	return fmt.Errorf("notify: unknown channel %q", n.Channel)
}

// mail delivers m to one address through the site's mail server, with
// STARTTLS when the server offers it and AUTH PLAIN when configured.
func (s *Sender) mail(ctx context.Context, to string, m message) error {
	if s.SMTP.Addr == "" {
		return errors.New("notify: no mail server configured (KQI_SMTP_ADDR)")
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.SMTP.Addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	host, _, _ := net.SplitHostPort(s.SMTP.Addr)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello("localhost"); err != nil {
		return err
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(&tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}); err != nil {
			return err
		}
	}
	if s.SMTP.Username != "" {
		pw, err := os.ReadFile(s.SMTP.PasswordFile)
		if err != nil {
			return fmt.Errorf("notify: SMTP password: %w", err)
		}
		if err := c.Auth(smtp.PlainAuth("", s.SMTP.Username, strings.TrimSpace(string(pw)), host)); err != nil {
			return err
		}
	}
	if err := c.Mail(s.SMTP.From); err != nil {
		return err
	}
	if err := c.Rcpt(to); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(rfc5322(s.SMTP.From, to, m)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// rfc5322 is the message as mail servers take it: CRLF lines, a Subject
// encoded for non-ASCII, UTF-8 text. from and to were checked as single
// addresses, so no header can be smuggled through them.
func rfc5322(from, to string, m message) []byte {
	id := make([]byte, 12)
	rand.Read(id)
	var b bytes.Buffer
	hdr := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	hdr("From", from)
	hdr("To", to)
	hdr("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	hdr("Date", time.Now().Format(time.RFC1123Z))
	hdr("Message-ID", "<"+hex.EncodeToString(id)+"@kqi>")
	hdr("MIME-Version", "1.0")
	hdr("Content-Type", "text/plain; charset=utf-8")
	hdr("Content-Transfer-Encoding", "8bit")
	b.WriteString("\r\n")
	b.WriteString(strings.ReplaceAll(strings.ReplaceAll(m.Text, "\r\n", "\n"), "\n", "\r\n"))
	return b.Bytes()
}

// webhook posts m as Slack's incoming webhooks take it ({"text": …});
// Mattermost, Rocket.Chat and Teams' Slack-compatible hooks read the same.
// The guard checks the address it dials, whatever the name resolved to
// when the URL was saved.
func (s *Sender) webhook(ctx context.Context, hook string, m message) error {
	body, _ := json.Marshal(map[string]string{"text": m.Subject + "\n" + m.Text})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hook, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.Guard.Client().Do(req)
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("notify: webhook: %w", ue.Err) // not the URL: it is the hook's secret
	}
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("notify: webhook answered %s", resp.Status)
	}
	return nil
}
