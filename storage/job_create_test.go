package storage_test

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"testing"
	"time"

	"kqi/storage"
	"kqi/storage/storagetest"
)

// A submit's row is recorded with its directory and token in one
// statement, and CreateJob and QueueJob return the row as JobByID reads
// it, so the submit path need not read it again.
func TestCreateJobRecordsDirAndToken(t *testing.T) {
	st, lab, other, ds := datasetFixture(t)
	ctx := context.Background()
	ann, err := st.CreateUser(ctx, storage.NewUser{Username: "ann", PasswordHash: "x"}, storage.TenantRole{TenantID: lab.ID, Role: storage.RoleUser})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		tenant, id int64
		want       bool
	}{{lab.ID, ds, true}, {other.ID, ds, false}, {lab.ID, ds + 1000, false}} {
		if ok, err := st.HasDataset(ctx, c.tenant, c.id); err != nil || ok != c.want {
			t.Errorf("HasDataset(%d, %d) = %v, %v; want %v", c.tenant, c.id, ok, err, c.want)
		}
	}

	base := storage.NewJob{TenantID: lab.ID, Kind: "training", Name: "base", Image: "host", Command: "true", CPU: 1, MemoryGB: 1, Partition: "cpu", CreatedBy: ann.ID}
	p1, err := st.CreateJob(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	if p1.JobDir != "" {
		t.Errorf("a job created without a directory prefix has directory %q", p1.JobDir)
	}
	p2, err := st.CreateJob(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	n := storage.NewJob{TenantID: lab.ID, Kind: "inference", Name: "eval", DatasetID: ds, ParentIDs: []int64{p2.ID, p1.ID},
		Image: "host", Command: "true", CPU: 2, MemoryGB: 3, Partition: "cpu", Env: []storage.EnvPair{{Name: "A", Value: "1"}},
		SbatchOptions: []string{"--nice=1"}, CreatedBy: ann.ID,
		JobDirPrefix: "tenants/" + strconv.FormatInt(lab.ID, 10) + "/jobs/", Token: "job-secret", TokenExpires: time.Now().Add(time.Hour)}
	j, err := st.CreateJob(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	if want := n.JobDirPrefix + strconv.FormatInt(j.ID, 10); j.JobDir != want {
		t.Errorf("job dir %q, want %q", j.JobDir, want)
	}
	read, err := st.JobByID(ctx, lab.ID, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(j, read) {
		t.Errorf("CreateJob returned\n%+v\nJobByID reads\n%+v", j, read)
	}
	tok, err := st.APITokenByValue(ctx, "job-secret")
	if err != nil {
		t.Fatalf("the job's token: %v", err)
	}
	if tok.JobID == nil || *tok.JobID != j.ID || tok.UserID != ann.ID || tok.TenantID != lab.ID {
		t.Errorf("token %+v, want job %d of user %d in tenant %d", tok, j.ID, ann.ID, lab.ID)
	}

	if _, err := st.JobScript(ctx, lab.ID, j.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("JobScript before the job is queued: %v, want ErrNotFound", err)
	}
	q, err := st.QueueJob(ctx, j.ID, "4242", "#!/bin/bash\n#SBATCH --job-name=j\n")
	if err != nil || q == nil {
		t.Fatalf("QueueJob = %v, %v", q, err)
	}
	if read, err = st.JobByID(ctx, lab.ID, j.ID); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(q, read) || q.Status != "queued" || q.SlurmJobID != "4242" || q.QueuedAt == nil {
		t.Errorf("QueueJob returned\n%+v\nJobByID reads\n%+v", q, read)
	}
	if again, err := st.QueueJob(ctx, j.ID, "4243", "#!/bin/bash\n# another\n"); err != nil || again != nil {
		t.Errorf("QueueJob of a row no longer submitting = %v, %v; want nil, nil", again, err)
	}
	// The script is the first queue's, and only the job's tenant reads it.
	if script, err := st.JobScript(ctx, lab.ID, j.ID); err != nil || script != "#!/bin/bash\n#SBATCH --job-name=j\n" {
		t.Errorf("JobScript = %q, %v; want the script QueueJob kept", script, err)
	}
	stranger, err := st.CreateTenant(ctx, "other-lab")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ tenant, id int64 }{{stranger.ID, j.ID}, {lab.ID, j.ID + 1000}} {
		if script, err := st.JobScript(ctx, c.tenant, c.id); !errors.Is(err, storage.ErrNotFound) || script != "" {
			t.Errorf("JobScript(tenant %d, job %d) = %q, %v; want ErrNotFound", c.tenant, c.id, script, err)
		}
	}
}

// Jobs of one dataset do not wait on each other: only the first freezes
// the row (a write, locking it until its commit); later ones take a
// key-share lock, which a lock held on the row by another submit in
// flight does not block. Another tenant's dataset, or none, is refused.
func TestSubmitsOfOneDatasetDoNotQueue(t *testing.T) {
	st, lab, other, ds := datasetFixture(t)
	ctx := context.Background()
	job := storage.NewJob{TenantID: lab.ID, Kind: "training", Name: "j", Image: "host", Command: "true", CPU: 1, MemoryGB: 1, Partition: "cpu", DatasetID: ds}
	if _, err := st.CreateJob(ctx, job); err != nil {
		t.Fatal(err)
	}
	d, err := st.DatasetByID(ctx, lab.ID, ds)
	if err != nil || d.FrozenAt == nil {
		t.Fatalf("the first job's dataset: %+v, %v; want it frozen", d, err)
	}

	// A submit in flight holds the row as the old freeze (an UPDATE) did.
	tx, err := st.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SELECT 1 FROM datasets WHERE id = $1 FOR NO KEY UPDATE`, ds); err != nil {
		t.Fatal(err)
	}
	quick, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if _, err := st.CreateJob(quick, job); err != nil {
		t.Errorf("a second job of a frozen dataset waited on another submit's lock: %v", err)
	}
	tx.Rollback()

	for _, c := range []struct {
		name     string
		tenant   int64
		datasets int64
	}{{"another tenant's", other.ID, ds}, {"a missing", lab.ID, ds + 1000}} {
		j := job
		j.TenantID, j.DatasetID = c.tenant, c.datasets
		if _, err := st.CreateJob(ctx, j); !errors.Is(err, storage.ErrUnknownDataset) {
			t.Errorf("a job of %s dataset: %v, want ErrUnknownDataset", c.name, err)
		}
	}
}

// datasetFixture is a store with tenants lab and other, and a dataset of
// one datum in lab.
func datasetFixture(t *testing.T) (st *storage.Store, lab, other *storage.Tenant, ds int64) {
	t.Helper()
	st, _ = storagetest.NewStore(t)
	ctx := context.Background()
	lab, err := st.CreateTenant(ctx, "lab")
	if err != nil {
		t.Fatal(err)
	}
	if other, err = st.CreateTenant(ctx, "other"); err != nil {
		t.Fatal(err)
	}
	id, err := st.NextDataID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateData(ctx, storage.NewData{ID: id, TenantID: lab.ID, Name: "d", Files: []storage.NewFile{{Name: "f", Size: 1}}}); err != nil {
		t.Fatal(err)
	}
	if ds, err = st.CreateDataset(ctx, storage.NewDataset{TenantID: lab.ID, Name: "s", Entries: []storage.Entry{{DataID: id, Area: "training"}}}); err != nil {
		t.Fatal(err)
	}
	return st, lab, other, ds
}

// A job without parents of a tenant without quotas is recorded in one
// statement, any other in a transaction: both record the same row, and
// one refused records nothing (no row, no token, no frozen dataset).
func TestCreateJobRecordsTheSameRowEitherWay(t *testing.T) {
	st, lab, _, ds := datasetFixture(t)
	ctx := context.Background()
	ann, err := st.CreateUser(ctx, storage.NewUser{Username: "ann", PasswordHash: "x"}, storage.TenantRole{TenantID: lab.ID, Role: storage.RoleUser})
	if err != nil {
		t.Fatal(err)
	}
	cpus := 4
	n := storage.NewJob{TenantID: lab.ID, Kind: "training", Name: "j", DatasetID: ds, CreatedBy: ann.ID, Image: "host", Command: "true", CPU: 2, MemoryGB: 1,
		Partition: "cpu", Env: []storage.EnvPair{{Name: "A", Value: "$x"}}, SbatchOptions: []string{"--nice=1"}, TimeLimitMin: 5, Memo: "m",
		JobDirPrefix: "tenants/" + strconv.FormatInt(lab.ID, 10) + "/jobs/", TokenExpires: time.Now().Add(time.Hour)}
	create := func(way string) *storage.Job {
		t.Helper()
		id, err := st.NextJobID(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n.ID, n.Token = id, "token-"+way
		j, err := st.CreateJob(ctx, n)
		if err != nil {
			t.Fatalf("%s: %v", way, err)
		}
		read, err := st.JobByID(ctx, lab.ID, id)
		if err != nil || !reflect.DeepEqual(j, read) || j.Status != "submitting" || j.JobDir != n.JobDirPrefix+strconv.FormatInt(id, 10) {
			t.Errorf("%s: CreateJob returned\n%+v\nJobByID reads\n%+v (%v)", way, j, read, err)
		}
		if tok, err := st.APITokenByValue(ctx, n.Token); err != nil || tok.JobID == nil || *tok.JobID != id {
			t.Errorf("%s: the job's token %+v, %v", way, tok, err)
		}
		return j
	}
	one := create("one statement")
	if err := st.SetTenantQuota(ctx, lab.ID, &cpus, nil, nil); err != nil {
		t.Fatal(err)
	}
	tx := create("transaction")
	if one.Name != tx.Name || !reflect.DeepEqual(one.Env, tx.Env) || !reflect.DeepEqual(one.SbatchOptions, tx.SbatchOptions) ||
		one.DatasetID != tx.DatasetID || one.CPU != tx.CPU || one.TimeLimitMin != tx.TimeLimitMin || one.Memo != tx.Memo {
		t.Errorf("the two ways record different jobs:\n%+v\n%+v", one, tx)
	}

	// Refused by the quota: 2 + 2 + 2 > 4 (both jobs are still active).
	fresh, err := st.CreateDataset(ctx, storage.NewDataset{TenantID: lab.ID, Name: "fresh", Entries: []storage.Entry{{DataID: datumOf(t, st, lab.ID, ds), Area: "training"}}})
	if err != nil {
		t.Fatal(err)
	}
	refused := n
	refused.ID, refused.DatasetID, refused.Token = 0, fresh, "token-refused"
	var quota *storage.QuotaError
	if _, err := st.CreateJob(ctx, refused); !errors.As(err, &quota) || quota.Resource != "cpu" {
		t.Fatalf("a job beyond the quota: %v, want a cpu QuotaError", err)
	}
	if d, err := st.DatasetByID(ctx, lab.ID, fresh); err != nil || d.FrozenAt != nil {
		t.Errorf("the refused job's dataset: %+v, %v; want it not frozen", d, err)
	}
	if _, err := st.APITokenByValue(ctx, "token-refused"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("the refused job's token: %v, want ErrNotFound", err)
	}
	if err := st.SetTenantQuota(ctx, lab.ID, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	refused.Token = "token-unknown"
	refused.DatasetID = ds + 1000
	if _, err := st.CreateJob(ctx, refused); !errors.Is(err, storage.ErrUnknownDataset) {
		t.Errorf("a job of a missing dataset: %v, want ErrUnknownDataset", err)
	}
	if _, err := st.APITokenByValue(ctx, "token-unknown"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("the refused job's token: %v, want ErrNotFound", err)
	}
}

// datumOf is the one datum of a dataset.
func datumOf(t *testing.T, st *storage.Store, tenantID, ds int64) int64 {
	t.Helper()
	d, err := st.DatasetByID(context.Background(), tenantID, ds)
	if err != nil || len(d.Entries) != 1 {
		t.Fatalf("dataset %d: %+v, %v", ds, d, err)
	}
	return d.Entries[0].DataID
}

// A dataset's files are read ahead of a job's row only once it is frozen,
// and then read as DatasetFiles reads them; another tenant's never.
func TestFrozenDatasetFiles(t *testing.T) {
	st, lab, other, ds := datasetFixture(t)
	ctx := context.Background()
	if list, ok, err := st.FrozenDatasetFiles(ctx, lab.ID, ds); err != nil || ok || list != nil {
		t.Fatalf("before any job: %v, %v, %v; want none", list, ok, err)
	}
	if _, err := st.CreateJob(ctx, storage.NewJob{TenantID: lab.ID, Kind: "training", Name: "j", Image: "host", Command: "true",
		CPU: 1, MemoryGB: 1, Partition: "cpu", DatasetID: ds}); err != nil {
		t.Fatal(err)
	}
	want, err := st.DatasetFiles(ctx, lab.ID, ds)
	if err != nil || len(want) != 1 {
		t.Fatalf("DatasetFiles: %v, %v", want, err)
	}
	if list, ok, err := st.FrozenDatasetFiles(ctx, lab.ID, ds); err != nil || !ok || !reflect.DeepEqual(list, want) {
		t.Errorf("once frozen: %v, %v, %v; want %v", list, ok, err, want)
	}
	if list, ok, err := st.FrozenDatasetFiles(ctx, other.ID, ds); err != nil || ok || list != nil {
		t.Errorf("another tenant's: %v, %v, %v; want none", list, ok, err)
	}
}
