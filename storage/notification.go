package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// enqueueEnding follows UpdateJobState's CTE u (the row it changed, if
// any): when the job has just ended, one outbox row per channel its
// creator chose. Array tasks are left out (a preprocessing run of a
// thousand data would be a thousand mails), and so are TensorBoards,
// which end by being stopped.
const enqueueEnding = `
	INSERT INTO notifications (job_id, user_id, channel, target, target_sealed)
	SELECT u.id, u.created_by, c.channel, c.target, c.sealed
	FROM u JOIN notification_settings ns ON ns.user_id = u.created_by
	CROSS JOIN LATERAL (VALUES ('email', ns.email, NULL::bytea), ('webhook', ns.webhook_host, ns.webhook_sealed)) c (channel, target, sealed)
	WHERE c.target <> '' AND (c.channel = 'email' OR c.sealed IS NOT NULL)
	AND NOT (u.status = ANY ($9)) AND u.kind IN ('training', 'inference', 'preprocess') AND u.array_id IS NULL
	ON CONFLICT (job_id, channel) DO NOTHING`

// NotificationSettings is how a user wants to hear that a job ended;
// empty fields are channels not used. The webhook URL is a secret: only
// sealed (portal/notify seals and opens it), with its host readable.
type NotificationSettings struct {
	Email         string
	WebhookSealed []byte // nil: no webhook
	WebhookHost   string // the URL's host, for the settings page
}

// NotificationSettingsOf returns the user's choice (none when never set).
func (s *Store) NotificationSettingsOf(ctx context.Context, userID int64) (NotificationSettings, error) {
	var n NotificationSettings
	err := s.db.QueryRowContext(ctx, `SELECT email, webhook_sealed, webhook_host FROM notification_settings WHERE user_id = $1`, userID).
		Scan(&n.Email, &n.WebhookSealed, &n.WebhookHost)
	if errors.Is(err, sql.ErrNoRows) {
		return NotificationSettings{}, nil
	}
	if err != nil {
		return n, fmt.Errorf("storage: notification settings: %w", err)
	}
	return n, nil
}

// SetNotificationSettings records the user's choice. Jobs already ended
// keep the targets they were queued with.
func (s *Store) SetNotificationSettings(ctx context.Context, userID int64, n NotificationSettings) error {
	if n.WebhookSealed == nil {
		n.WebhookHost = ""
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO notification_settings (user_id, email, webhook_sealed, webhook_host) VALUES ($1, $2, $3, $4)
		ON CONFLICT (user_id) DO UPDATE SET email = EXCLUDED.email, webhook_sealed = EXCLUDED.webhook_sealed,
		webhook_host = EXCLUDED.webhook_host, webhook_url = ''`, userID, n.Email, n.WebhookSealed, n.WebhookHost)
	return wrap("set notification settings", err)
}

// PlainWebhook is a webhook URL stored in plain text before URLs were
// sealed (schema 13): in a user's settings, or in an unsent message of the
// outbox (Outbox set).
type PlainWebhook struct {
	ID     int64 // the user's id, or the outbox row's with Outbox
	UserID int64
	URL    string
	Outbox bool
}

// PlainWebhooks lists the webhook URLs still stored in plain text.
func (s *Store) PlainWebhooks(ctx context.Context) ([]PlainWebhook, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT user_id, user_id, webhook_url, false FROM notification_settings WHERE webhook_url <> ''
		UNION ALL
		SELECT id, user_id, target, true FROM notifications WHERE channel = 'webhook' AND target_sealed IS NULL AND target LIKE '%://%'`)
	if err != nil {
		return nil, fmt.Errorf("storage: plain webhooks: %w", err)
	}
	defer rows.Close()
	var out []PlainWebhook
	for rows.Next() {
		var p PlainWebhook
		if err := rows.Scan(&p.ID, &p.UserID, &p.URL, &p.Outbox); err != nil {
			return nil, fmt.Errorf("storage: plain webhooks: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// SealWebhook replaces a plain-text webhook URL by its sealed value and
// host.
func (s *Store) SealWebhook(ctx context.Context, p PlainWebhook, sealed []byte, host string) error {
	q := `UPDATE notification_settings SET webhook_sealed = $2, webhook_host = $3, webhook_url = '' WHERE user_id = $1`
	if p.Outbox {
		q = `UPDATE notifications SET target_sealed = $2, target = $3 WHERE id = $1`
	}
	_, err := s.db.ExecContext(ctx, q, p.ID, sealed, host)
	return wrap("seal webhook", err)
}

// Notification is one message of the outbox.
type Notification struct {
	ID       int64
	JobID    int64
	TenantID int64
	UserID   int64
	Channel  string // "email" or "webhook"
	Target   string // the address; a webhook's host
	Sealed   []byte // a webhook's sealed URL
	Attempts int
}

// DueNotifications claims up to limit unsent messages whose time has come,
// moving their next attempt lease ahead, so two senders (two portals)
// never send the same one at once.
func (s *Store) DueNotifications(ctx context.Context, limit int, lease time.Duration) ([]Notification, error) {
	rows, err := s.db.QueryContext(ctx, `
		UPDATE notifications n SET next_at = now() + make_interval(secs => $2::float8)
		FROM jobs j
		WHERE j.id = n.job_id AND n.id IN (
			SELECT id FROM notifications WHERE sent_at IS NULL AND next_at <= now()
			ORDER BY next_at LIMIT $1 FOR UPDATE SKIP LOCKED)
		RETURNING n.id, n.job_id, j.tenant_id, n.user_id, n.channel, n.target, n.target_sealed, n.attempts`, limit, lease.Seconds())
	if err != nil {
		return nil, fmt.Errorf("storage: due notifications: %w", err)
	}
	defer rows.Close()
	var out []Notification
	for rows.Next() {
		var n Notification
		if err := rows.Scan(&n.ID, &n.JobID, &n.TenantID, &n.UserID, &n.Channel, &n.Target, &n.Sealed, &n.Attempts); err != nil {
			return nil, fmt.Errorf("storage: due notifications: %w", err)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// NotificationSent marks a message delivered.
func (s *Store) NotificationSent(ctx context.Context, id int64) error {
	_, err := s.db.ExecContext(ctx, `UPDATE notifications SET sent_at = now(), attempts = attempts + 1, last_error = '' WHERE id = $1`, id)
	return wrap("notification sent", err)
}

// NotificationFailed records a failed attempt and when to try again; a
// zero retry gives the message up (sent_at stays NULL, next_at infinity).
func (s *Store) NotificationFailed(ctx context.Context, id int64, cause string, retry time.Duration) error {
	_, err := s.db.ExecContext(ctx, `UPDATE notifications SET attempts = attempts + 1, last_error = $2,
		next_at = CASE WHEN $3::float8 > 0 THEN now() + make_interval(secs => $3::float8) ELSE 'infinity' END WHERE id = $1`, id, cause, retry.Seconds())
	return wrap("notification failed", err)
}

// NotificationsOfJob lists a job's outbox rows (for tests and the admin).
func (s *Store) NotificationsOfJob(ctx context.Context, jobID int64) ([]NotificationRecord, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT channel, target, attempts, sent_at IS NOT NULL, last_error FROM notifications WHERE job_id = $1 ORDER BY channel`, jobID)
	if err != nil {
		return nil, fmt.Errorf("storage: job notifications: %w", err)
	}
	defer rows.Close()
	var out []NotificationRecord
	for rows.Next() {
		var r NotificationRecord
		if err := rows.Scan(&r.Channel, &r.Target, &r.Attempts, &r.Sent, &r.LastError); err != nil {
			return nil, fmt.Errorf("storage: job notifications: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// NotificationRecord is what became of one message.
type NotificationRecord struct {
	Channel, Target string
	Attempts        int
	Sent            bool
	LastError       string
}
