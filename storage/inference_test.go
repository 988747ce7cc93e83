package storage_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"kqi/storage"
	"kqi/storage/storagetest"
)

// Output values: recorded while the job is active only, sorted with the
// jobs that have none last either way; lists filter by parent; a parent
// that a child of a lineage-keeping kind was made from cannot be deleted.
func TestJobOutputValueParentsAndLineage(t *testing.T) {
	st, _ := storagetest.NewStore(t)
	ctx := context.Background()
	lab, _ := st.CreateTenant(ctx, "lab")
	other, _ := st.CreateTenant(ctx, "other")
	mk := func(tenantID int64, kind, name string, parents ...int64) *storage.Job {
		t.Helper()
		j, err := st.CreateJob(ctx, storage.NewJob{TenantID: tenantID, Kind: kind, Name: name, ParentIDs: parents,
			Image: "host", Command: "true", CPU: 1, MemoryGB: 1, Partition: "cpu"})
		if err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
		return j
	}
	end := func(j *storage.Job, value *float64) {
		t.Helper()
		if err := st.SetJobOutputValue(ctx, j.ID, value); err != nil {
			t.Fatal(err)
		}
		if err := st.UpdateJobState(ctx, j.ID, storage.JobState{Status: "completed"}); err != nil {
			t.Fatal(err)
		}
	}
	num := func(v float64) *float64 { return &v }

	base := mk(lab.ID, "training", "base")
	second := mk(lab.ID, "training", "second")
	end(base, nil)
	end(second, nil)
	low := mk(lab.ID, "inference", "low", base.ID)
	high := mk(lab.ID, "inference", "high", base.ID, second.ID)
	none := mk(lab.ID, "inference", "none", second.ID)
	end(low, num(-0.5))
	end(high, num(42))
	end(none, nil)

	// Once final, the value stays.
	if err := st.SetJobOutputValue(ctx, high.ID, num(1)); err != nil {
		t.Fatal(err)
	}
	got, _ := st.JobByID(ctx, lab.ID, high.ID)
	if got.OutputValue == nil || *got.OutputValue != 42 {
		t.Fatalf("value after a late set: %v", got.OutputValue)
	}
	if got, _ := st.JobByID(ctx, lab.ID, none.ID); got.OutputValue != nil {
		t.Fatalf("no value recorded, yet %v", *got.OutputValue)
	}

	ids := func(f storage.JobFilter) []int64 {
		t.Helper()
		f.Kind = "inference"
		list, _, err := st.ListJobs(ctx, lab.ID, f)
		if err != nil {
			t.Fatal(err)
		}
		out := []int64{}
		for _, j := range list {
			out = append(out, j.ID)
		}
		return out
	}
	for _, c := range []struct {
		name string
		f    storage.JobFilter
		want []int64
	}{
		{"by value", storage.JobFilter{Sort: "value"}, []int64{low.ID, high.ID, none.ID}},
		{"by value, descending", storage.JobFilter{Sort: "value", Desc: true}, []int64{high.ID, low.ID, none.ID}},
		{"from base", storage.JobFilter{ParentID: base.ID}, []int64{low.ID, high.ID}},
		{"from second", storage.JobFilter{ParentID: second.ID, Sort: "value", Desc: true}, []int64{high.ID, none.ID}},
		{"from an inference", storage.JobFilter{ParentID: low.ID}, []int64{}},
	} {
		if got := ids(c.f); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}

	// Another tenant's job cannot be a parent, nor can one named twice.
	theirs := mk(other.ID, "training", "theirs")
	for _, parents := range [][]int64{{theirs.ID}, {base.ID, base.ID}} {
		_, err := st.CreateJob(ctx, storage.NewJob{TenantID: lab.ID, Kind: "inference", Name: "x", ParentIDs: parents,
			Image: "host", Command: "true", CPU: 1, MemoryGB: 1, Partition: "cpu"})
		if !errors.Is(err, storage.ErrUnknownParent) {
			t.Errorf("parents %v: %v", parents, err)
		}
	}

	// Inferences keep their parents; a training child does not.
	child := mk(lab.ID, "training", "child", base.ID)
	end(child, nil)
	var inUse *storage.InUseError
	if err := st.DeleteJob(ctx, lab.ID, base.ID, "inference"); !errors.As(err, &inUse) || !reflect.DeepEqual(inUse.By, []int64{low.ID, high.ID}) {
		t.Fatalf("deleting a parent of inferences: %v", err)
	}
	if err := st.DeleteJob(ctx, other.ID, base.ID, "inference"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("another tenant deleting it: %v", err)
	}
	for _, j := range []*storage.Job{low, high} {
		if err := st.DeleteJob(ctx, lab.ID, j.ID, "inference"); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.DeleteJob(ctx, lab.ID, base.ID, "inference"); err != nil {
		t.Fatalf("deleting it once its inferences are gone: %v", err)
	}
	if got, _ := st.JobByID(ctx, lab.ID, child.ID); len(got.ParentIDs) != 0 {
		t.Fatalf("the training child still links to the deleted parent: %v", got.ParentIDs)
	}
	running := mk(lab.ID, "inference", "running", second.ID)
	if err := st.DeleteJob(ctx, lab.ID, running.ID, "inference"); !errors.Is(err, storage.ErrActive) {
		t.Fatalf("deleting an active job: %v", err)
	}
}
