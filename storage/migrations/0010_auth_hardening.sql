-- A session's CSRF token is derived from its id (portal/auth.CSRFToken),
-- which the database keeps only hashed; the token itself is no longer
-- stored.
ALTER TABLE sessions DROP COLUMN csrf_token;
