-- Admin actions (issue 14): a user can be disabled (their sessions and
-- API tokens end; their running jobs go on), and an administrator's
-- password reset sets a temporary password the user must change at their
-- next login.
ALTER TABLE users
    ADD COLUMN disabled_at          TIMESTAMPTZ,
    ADD COLUMN must_change_password BOOLEAN NOT NULL DEFAULT false;

-- A webhook URL is a secret (Slack's carries its token in the path): it is
-- kept sealed with the portal's key (portal/secret), like Git tokens, and
-- only its host is kept readable, for the settings page. The outbox copies
-- the sealed value. Rows written before this are sealed by the portal at
-- start (notify.SealPlainWebhooks), which then empties webhook_url.
ALTER TABLE notification_settings
    ADD COLUMN webhook_sealed BYTEA,
    ADD COLUMN webhook_host   TEXT NOT NULL DEFAULT '';
ALTER TABLE notifications ADD COLUMN target_sealed BYTEA;
