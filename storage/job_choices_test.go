package storage_test

import (
	"context"
	"fmt"
	"testing"

	"kqi/storage"
	"kqi/storage/storagetest"
)

// A choice list holds the tenant's newest jobs of the kind asked, no more
// than the limit, and none of another tenant or kind.
func TestJobChoices(t *testing.T) {
	st, _ := storagetest.NewStore(t)
	ctx := context.Background()
	var tenants []int64
	for _, name := range []string{"lab", "other"} {
		tn, err := st.CreateTenant(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		tenants = append(tenants, tn.ID)
	}
	u, err := st.CreateUser(ctx, storage.NewUser{Username: "ann", PasswordHash: "x"},
		storage.TenantRole{TenantID: tenants[0], Role: storage.RoleUser}, storage.TenantRole{TenantID: tenants[1], Role: storage.RoleUser})
	if err != nil {
		t.Fatal(err)
	}
	var mine []int64
	for i := range 5 {
		for _, c := range []struct {
			tenant int64
			kind   string
		}{{tenants[0], "training"}, {tenants[1], "training"}, {tenants[0], "inference"}} {
			j, err := st.CreateJob(ctx, storage.NewJob{TenantID: c.tenant, Kind: c.kind, Name: fmt.Sprintf("%s-%d", c.kind, i),
				Image: "host", Command: "true", CPU: 1, MemoryGB: 1, Partition: "cpu", CreatedBy: u.ID})
			if err != nil {
				t.Fatal(err)
			}
			if c.tenant == tenants[0] && c.kind == "training" {
				mine = append(mine, j.ID)
			}
		}
	}
	got, err := st.JobChoices(ctx, tenants[0], "training", 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("got %d choices, want 3", len(got))
	}
	for i, j := range got {
		want := mine[len(mine)-1-i]
		if j.ID != want || j.Kind != "training" || j.Name != fmt.Sprintf("training-%d", 4-i) {
			t.Errorf("choice %d = #%d %q %s, want #%d training-%d of tenant %d", i, j.ID, j.Name, j.Kind, want, 4-i, tenants[0])
		}
	}
}
