-- A TensorBoard (a job of kind 'tensorboard', SPEC §7) over a set of
-- trainings: the set as it was asked for, sorted (job_parents loses a link
-- when a training is deleted, and that stops the TensorBoard; the set is
-- also how one is found again for reuse), and when it was last reached
-- through the portal (idle shutdown).
CREATE TABLE tensorboards (
    job_id          BIGINT PRIMARY KEY REFERENCES jobs(id) ON DELETE CASCADE,
    training_ids    BIGINT[] NOT NULL,
    last_request_at TIMESTAMPTZ NOT NULL
);
