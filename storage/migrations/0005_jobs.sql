-- Every run is a job of a kind (SPEC §7): trainings become rows of one
-- jobs table that inferences, preprocessing runs and TensorBoard share.
ALTER TABLE trainings RENAME TO jobs;
ALTER SEQUENCE trainings_id_seq RENAME TO jobs_id_seq;
ALTER INDEX trainings_pkey RENAME TO jobs_pkey;
ALTER INDEX trainings_tenant_idx RENAME TO jobs_tenant_idx;
ALTER INDEX trainings_active_idx RENAME TO jobs_active_idx;

ALTER TABLE jobs DROP CONSTRAINT trainings_kind_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_kind_check CHECK (kind IN ('training', 'inference', 'preprocess', 'tensorboard'));
ALTER TABLE jobs RENAME CONSTRAINT trainings_status_check TO jobs_status_check;
-- Only some kinds read a dataset (a preprocessing run reads one datum).
ALTER TABLE jobs ALTER COLUMN dataset_id DROP NOT NULL;
-- Lists are per kind.
DROP INDEX jobs_tenant_idx;
CREATE INDEX jobs_tenant_kind_idx ON jobs (tenant_id, kind, id DESC);

-- A job may take several parents (an inference of many trainings,
-- TensorBoard over runs to compare); their outputs are mounted read-only.
CREATE TABLE job_parents (
    job_id    BIGINT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    parent_id BIGINT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    position  INTEGER NOT NULL,
    PRIMARY KEY (job_id, parent_id)
);
CREATE INDEX job_parents_parent_idx ON job_parents (parent_id);
INSERT INTO job_parents (job_id, parent_id, position) SELECT id, parent_id, 0 FROM jobs WHERE parent_id IS NOT NULL;
ALTER TABLE jobs DROP COLUMN parent_id;

-- Why a job waits or ended is a code and its argument, translated when
-- shown. Earlier rows keep their English text as the argument of 'text'.
ALTER TABLE jobs ADD COLUMN reason_arg TEXT NOT NULL DEFAULT '';
UPDATE jobs SET reason_arg = reason, reason = 'text' WHERE reason <> '';

-- A job's KQI_TOKEN is tied to the job, whatever its kind.
ALTER TABLE api_tokens RENAME COLUMN training_id TO job_id;
