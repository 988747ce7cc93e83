package portaltest

import (
	"context"
	"fmt"
	"testing"

	"kqi/slurm"
	"kqi/storage"
)

// Chain is one of every step of a lineage, from raw data to an inference.
type Chain struct {
	Raw, Processed                     int64 // data
	Preprocess                         int64
	Run                                int64 // the history entry
	Dataset                            int64
	Training, ChildTraining, Inference *storage.Job
}

// LineageChain records raw data → preprocessing (an external entry) →
// processed data → dataset → training → child training → inference in the
// tenant, as the portal's own steps leave them.
func (e *Env) LineageChain(t testing.TB, tenantID, userID int64) Chain {
	t.Helper()
	ctx := context.Background()
	var c Chain
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	var err error
	c.Raw, err = e.Store.NextDataID(ctx)
	must(err)
	must(e.Store.CreateData(ctx, storage.NewData{ID: c.Raw, TenantID: tenantID, Name: "raw-scans", CreatedBy: userID}))
	p, err := e.Store.CreatePreprocess(ctx, tenantID, userID, storage.PreprocessFields{Name: "denoise", Command: "true", CPU: 1, MemoryGB: 1})
	must(err)
	c.Preprocess = p.ID
	h, err := e.Store.OpenHistory(ctx, tenantID, userID, p.ID, c.Raw, func(id int64) string { return fmt.Sprintf("tenants/%d/histories/%d", tenantID, id) })
	must(err)
	c.Run = h.ID
	c.Processed, err = e.Store.NextDataID(ctx)
	must(err)
	_, err = e.Store.RegisterOutputs(ctx, h.ID, []storage.NewData{{ID: c.Processed, TenantID: tenantID, Name: "clean-scans", CreatedBy: userID}})
	must(err)
	c.Dataset, err = e.Store.CreateDataset(ctx, storage.NewDataset{TenantID: tenantID, Name: "scans-split", CreatedBy: userID,
		Entries: []storage.Entry{{DataID: c.Processed, Area: "training"}}})
	must(err)
	job := func(kind, name string, parents ...int64) *storage.Job {
		j, err := e.Store.CreateJob(ctx, storage.NewJob{TenantID: tenantID, Kind: kind, Name: name, DatasetID: c.Dataset, ParentIDs: parents,
			Image: slurm.HostImage, Command: "true", CPU: 1, MemoryGB: 1, Partition: "cpu", CreatedBy: userID})
		must(err)
		return j
	}
	c.Training = job("training", "unet")
	c.ChildTraining = job("training", "unet-finetune", c.Training.ID)
	c.Inference = job("inference", "unet-eval", c.ChildTraining.ID)
	return c
}
