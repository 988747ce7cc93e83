-- Preprocessing (SPEC §3): definitions, and one history entry for each
-- (preprocess, datum) it ran on, with the data the run produced.

-- A preprocess run on N data is one Slurm job array: one jobs row per task.
-- array_id is the row whose id the array's --comment carries (task 0's),
-- array_index the task's index, array_limit how many of its tasks run at
-- once (0 = no limit; the quota counts that many).
ALTER TABLE jobs ADD COLUMN array_id BIGINT;
ALTER TABLE jobs ADD COLUMN array_index INTEGER;
ALTER TABLE jobs ADD COLUMN array_limit INTEGER NOT NULL DEFAULT 0;

CREATE TABLE preprocesses (
    id             BIGSERIAL PRIMARY KEY,
    tenant_id      BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    command        TEXT NOT NULL DEFAULT '',
    memo           TEXT NOT NULL DEFAULT '',
    image          TEXT NOT NULL DEFAULT '',
    git_repository TEXT NOT NULL DEFAULT '',
    git_branch     TEXT NOT NULL DEFAULT '',
    git_commit     TEXT NOT NULL DEFAULT '',
    cpu            INTEGER NOT NULL DEFAULT 0,
    memory_gb      INTEGER NOT NULL DEFAULT 0,
    gpu            INTEGER NOT NULL DEFAULT 0,
    created_by     BIGINT REFERENCES users(id) ON DELETE SET NULL,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX preprocesses_tenant_idx ON preprocesses (tenant_id, id DESC);

-- An in-cluster run has a job (its status is the job's); an entry of the
-- external workflow has none and is open until the user completes it.
-- Deleting a preprocess with history is refused (RESTRICT).
CREATE TABLE preprocess_histories (
    id              BIGSERIAL PRIMARY KEY,
    tenant_id       BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    preprocess_id   BIGINT NOT NULL REFERENCES preprocesses(id),
    data_id         BIGINT NOT NULL REFERENCES data(id) ON DELETE CASCADE,
    job_id          BIGINT UNIQUE REFERENCES jobs(id) ON DELETE CASCADE,
    external_status TEXT CHECK (external_status IN ('open', 'completed')),
    dir             TEXT NOT NULL DEFAULT '', -- an external entry's uploads
    registered_at   TIMESTAMPTZ,              -- when its outputs became data
    created_by      BIGINT REFERENCES users(id) ON DELETE SET NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (preprocess_id, data_id),
    CHECK ((job_id IS NULL) = (external_status IS NOT NULL))
);
CREATE INDEX preprocess_histories_data_idx ON preprocess_histories (data_id);

CREATE TABLE preprocess_outputs (
    history_id BIGINT NOT NULL REFERENCES preprocess_histories(id) ON DELETE CASCADE,
    data_id    BIGINT NOT NULL UNIQUE REFERENCES data(id) ON DELETE CASCADE,
    PRIMARY KEY (history_id, data_id)
);
