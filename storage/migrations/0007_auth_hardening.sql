-- A session's CSRF token is derived from its id (portal/auth.CSRFToken),
-- which the database keeps only hashed; the token itself is no longer
-- stored.
ALTER TABLE sessions DROP COLUMN csrf_token;

-- What a user's token list shows and the idle expiry reads: where a token
-- was issued to, and when and from where it was last used.
ALTER TABLE api_tokens
    ADD COLUMN created_from   TEXT NOT NULL DEFAULT '',
    ADD COLUMN last_used_at   TIMESTAMPTZ,
    ADD COLUMN last_used_from TEXT NOT NULL DEFAULT '';
