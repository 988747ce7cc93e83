package storage_test

import (
	"context"
	"testing"

	"kqi/storage"
	"kqi/storage/storagetest"
)

// Migration 5 turns trainings into jobs: existing rows keep everything,
// their parent becomes a job_parents row, English reasons become the
// argument of the "text" cause, and job tokens stay tied to their job.
func TestJobsMigrationKeepsTrainings(t *testing.T) {
	st, _ := storagetest.NewEmptyStore(t)
	ctx := context.Background()
	if _, err := st.MigrateTo(ctx, 4); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO tenants (id, name) VALUES (1, 'lab')`,
		`INSERT INTO users (id, username, password_hash) VALUES (1, 'alice', 'x')`,
		`INSERT INTO memberships (user_id, tenant_id, role) VALUES (1, 1, 'user')`,
		`INSERT INTO datasets (id, tenant_id, name) VALUES (1, 1, 'ds')`,
		`INSERT INTO trainings (id, tenant_id, name, dataset_id, image, command, cpu, memory_gb, gpu, partition, status, reason, created_by)
			VALUES (1, 1, 'base', 1, 'host', 'true', 1, 1, 0, 'cpu', 'killed', 'stopped by a user', 1)`,
		`INSERT INTO trainings (id, tenant_id, name, parent_id, dataset_id, image, command, cpu, memory_gb, gpu, partition, status, slurm_job_id)
			VALUES (2, 1, 'child', 1, 1, 'host', 'true', 2, 3, 0, 'cpu', 'running', '77')`,
		`SELECT setval('trainings_id_seq', 2)`,
		`INSERT INTO api_tokens (token_hash, user_id, tenant_id, training_id, expires_at) VALUES ('\x01', 1, 1, 2, now() + interval '1 hour')`,
	} {
		if err := st.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	base, err := st.JobByID(ctx, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if base.Kind != "training" || base.Status != "killed" || base.Reason != "text" || base.ReasonArg != "stopped by a user" || base.CreatedBy != "alice" || len(base.ParentIDs) != 0 {
		t.Fatalf("base after migration: %+v", base)
	}
	child, err := st.JobByID(ctx, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(child.ParentIDs) != 1 || child.ParentIDs[0] != 1 || child.DatasetID != 1 || child.SlurmJobID != "77" || child.CPU != 2 || child.MemoryGB != 3 {
		t.Fatalf("child after migration: %+v", child)
	}
	active, err := st.ActiveJobs(ctx)
	if err != nil || len(active) != 1 || active[0].ID != 2 {
		t.Fatalf("active after migration: %+v, %v", active, err)
	}
	// New rows continue the old sequence and may have no dataset.
	j, err := st.CreateJob(ctx, storage.NewJob{TenantID: 1, Kind: "tensorboard", Name: "tb", ParentIDs: []int64{1, 2}, Image: "host", Command: "tb", CPU: 1, MemoryGB: 1, Partition: "cpu"})
	if err != nil {
		t.Fatal(err)
	}
	if j.ID != 3 || j.DatasetID != 0 || len(j.ParentIDs) != 2 || j.ParentIDs[1] != 2 {
		t.Fatalf("new job: %+v", j)
	}
	// The job token is tied to its job and goes with it.
	if err := st.DeleteJobTokens(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteJob(ctx, 1, 1); err != nil {
		t.Fatal(err)
	}
	if child, _ := st.JobByID(ctx, 1, 2); len(child.ParentIDs) != 0 {
		t.Fatalf("a deleted parent is still linked: %+v", child.ParentIDs)
	}
}
