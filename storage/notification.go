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
	INSERT INTO notifications (job_id, user_id, channel, target)
	SELECT u.id, u.created_by, c.channel, c.target
	FROM u JOIN notification_settings ns ON ns.user_id = u.created_by
	CROSS JOIN LATERAL (VALUES ('email', ns.email), ('webhook', ns.webhook_url)) c (channel, target)
	WHERE c.target <> '' AND NOT (u.status = ANY ($9)) AND u.kind IN ('training', 'inference', 'preprocess') AND u.array_id IS NULL
	ON CONFLICT (job_id, channel) DO NOTHING`

// NotificationSettings is how a user wants to hear that a job ended;
// empty fields are channels not used.
type NotificationSettings struct {
	Email      string
	WebhookURL string
}

// NotificationSettingsOf returns the user's choice (none when never set).
func (s *Store) NotificationSettingsOf(ctx context.Context, userID int64) (NotificationSettings, error) {
	var n NotificationSettings
	err := s.db.QueryRowContext(ctx, `SELECT email, webhook_url FROM notification_settings WHERE user_id = $1`, userID).Scan(&n.Email, &n.WebhookURL)
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
	_, err := s.db.ExecContext(ctx, `INSERT INTO notification_settings (user_id, email, webhook_url) VALUES ($1, $2, $3)
		ON CONFLICT (user_id) DO UPDATE SET email = EXCLUDED.email, webhook_url = EXCLUDED.webhook_url`, userID, n.Email, n.WebhookURL)
	return wrap("set notification settings", err)
}

// Notification is one message of the outbox.
type Notification struct {
	ID       int64
	JobID    int64
	TenantID int64
	UserID   int64
	Channel  string // "email" or "webhook"
	Target   string
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
		RETURNING n.id, n.job_id, j.tenant_id, n.user_id, n.channel, n.target, n.attempts`, limit, lease.Seconds())
	if err != nil {
		return nil, fmt.Errorf("storage: due notifications: %w", err)
	}
	defer rows.Close()
	var out []Notification
	for rows.Next() {
		var n Notification
		if err := rows.Scan(&n.ID, &n.JobID, &n.TenantID, &n.UserID, &n.Channel, &n.Target, &n.Attempts); err != nil {
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
