-- Notifications (issue 14): how each user wants to hear that a job of
-- theirs ended, and the outbox of messages to send. A row of the outbox is
-- written in the same transaction as the job's final state, once per job
-- and channel (the primary key), and a separate sender drains it, retrying
-- on failure; the poller never waits for a mail server.
CREATE TABLE notification_settings (
    user_id     BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    email       TEXT NOT NULL DEFAULT '', -- '' = no mail
    webhook_url TEXT NOT NULL DEFAULT ''  -- '' = no webhook
);

CREATE TABLE notifications (
    id         BIGSERIAL PRIMARY KEY,
    job_id     BIGINT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    channel    TEXT NOT NULL CHECK (channel IN ('email', 'webhook')),
    target     TEXT NOT NULL,       -- the address or URL when the job ended
    attempts   INT NOT NULL DEFAULT 0,
    next_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    sent_at    TIMESTAMPTZ,
    last_error TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (job_id, channel)
);
CREATE INDEX notifications_due_idx ON notifications (next_at) WHERE sent_at IS NULL;
