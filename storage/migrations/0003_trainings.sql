-- Git servers and container registries (registered by system administrators),
-- users' credentials for them (sealed with the portal's key), and trainings.
CREATE TABLE git_servers (
    id         BIGSERIAL PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    url        TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE registries (
    id         BIGSERIAL PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    host       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE user_credentials (
    user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('git', 'registry')),
    server_id  BIGINT NOT NULL,
    username   TEXT NOT NULL DEFAULT '',
    sealed     BYTEA NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, kind, server_id)
);

CREATE TABLE trainings (
    id                 BIGSERIAL PRIMARY KEY,
    tenant_id          BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    kind               TEXT NOT NULL DEFAULT 'training' CHECK (kind IN ('training', 'inference')),
    name               TEXT NOT NULL,
    parent_id          BIGINT REFERENCES trainings(id) ON DELETE SET NULL,
    dataset_id         BIGINT NOT NULL REFERENCES datasets(id),
    image              TEXT NOT NULL,
    git_repository     TEXT NOT NULL DEFAULT '',
    git_branch         TEXT NOT NULL DEFAULT '',
    git_commit         TEXT NOT NULL DEFAULT '',
    command            TEXT NOT NULL,
    cpu                INTEGER NOT NULL,
    memory_gb          INTEGER NOT NULL,
    gpu                INTEGER NOT NULL,
    partition          TEXT NOT NULL,
    env                JSONB NOT NULL DEFAULT '[]',
    sbatch_options     TEXT[] NOT NULL DEFAULT '{}',
    time_limit_minutes INTEGER NOT NULL DEFAULT 0,
    memo               TEXT NOT NULL DEFAULT '',
    tags               TEXT[] NOT NULL DEFAULT '{}',
    favorite           BOOLEAN NOT NULL DEFAULT false,
    status             TEXT NOT NULL CHECK (status IN ('submitting', 'queued', 'running', 'completed', 'failed', 'killed', 'error')),
    reason             TEXT NOT NULL DEFAULT '',
    exit_code          INTEGER,
    slurm_job_id       TEXT NOT NULL DEFAULT '',
    node               TEXT NOT NULL DEFAULT '',
    job_dir            TEXT NOT NULL DEFAULT '',
    stop_requested     BOOLEAN NOT NULL DEFAULT false,
    created_by         BIGINT REFERENCES users(id) ON DELETE SET NULL,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    queued_at          TIMESTAMPTZ,
    started_at         TIMESTAMPTZ,
    ended_at           TIMESTAMPTZ,
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX trainings_tenant_idx ON trainings (tenant_id, id DESC);
CREATE INDEX trainings_active_idx ON trainings (status) WHERE status IN ('submitting', 'queued', 'running');

-- A job's KQI_TOKEN is an API token limited to its own training.
ALTER TABLE api_tokens ADD COLUMN training_id BIGINT REFERENCES trainings(id) ON DELETE CASCADE;

-- A random id of this installation, carried in every job's --comment, so
-- that two portals (or test databases) sharing a cluster never adopt each
-- other's jobs.
CREATE TABLE instance (id TEXT NOT NULL);
INSERT INTO instance (id) VALUES (substr(md5(random()::text || clock_timestamp()::text), 1, 12));
