-- The shell into running jobs (SPEC §7): the SSH public keys users log in
-- to the portal's SSH endpoint with, and the record of every shell session.

-- A key belongs to one user: its fingerprint (SHA256:…, as ssh-keygen -l
-- prints it) is unique across all users, so a key names exactly one person.
CREATE TABLE ssh_keys (
    id           BIGSERIAL PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT NOT NULL CHECK (name <> ''),
    public_key   TEXT NOT NULL,
    fingerprint  TEXT NOT NULL UNIQUE,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at TIMESTAMPTZ,
    UNIQUE (user_id, name)
);

-- One row per shell, open while ended_at is NULL. The user is kept by name
-- too, so the log still says who after the account is gone.
CREATE TABLE shell_sessions (
    id          BIGSERIAL PRIMARY KEY,
    tenant_id   BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    job_id      BIGINT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    user_id     BIGINT REFERENCES users(id) ON DELETE SET NULL,
    username    TEXT NOT NULL,
    via         TEXT NOT NULL CHECK (via IN ('web', 'ssh')),
    remote_addr TEXT NOT NULL,
    interactive BOOLEAN NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    ended_at    TIMESTAMPTZ,
    exit_code   INTEGER,
    end_reason  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX shell_sessions_job_idx ON shell_sessions (job_id, started_at DESC);
CREATE INDEX shell_sessions_open_idx ON shell_sessions (user_id) WHERE ended_at IS NULL;
