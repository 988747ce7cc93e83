package jobs

import (
	"context"
	"errors"
	"strconv"

	"kqi/portal/refusal"
	"kqi/slurm"
	"kqi/storage"
)

// Kind is what one kind of job adds to the lifecycle every job shares.
// The Service validates, records, lays out, renders, submits, polls,
// stops and deletes; a kind names itself and supplies its inputs.
type Kind interface {
	// Name is stored in the job's row and starts its Slurm job name
	// ({name}-{job name}-{id}) and comment: "training", "inference", …
	// It also starts the catalog keys of the kind's own messages
	// ({name}.not_active, {name}.delete_active, {name}.unknown_parent, …).
	Name() string
	// IDVariable is the read-only variable holding the job's id, such as
	// TRAINING_ID.
	IDVariable() string
	// Check validates what only this kind takes (its dataset, parents,
	// source data), adding refusals to bad; an error is a server error.
	Check(ctx context.Context, s *Service, tenantID int64, req *Request, bad *refusal.Fields) error
	// Stage lays the kind's inputs into the job directory j.JobDir (below
	// slurm.InputDir, by hard links: no bytes copied) and returns further
	// read-only binds and variables. The job's dataset (j.DatasetID) is
	// staged, and its parents bound, by the Service; a job with a dataset
	// may bind the dataset's shared tree at /kqi/input, so a kind that
	// takes a dataset stages nothing below slurm.InputDir.
	Stage(ctx context.Context, s *Service, j *storage.Job) (Staged, error)
	// Ended runs once the poller has decided a final outcome, before it is
	// recorded. It may change the outcome (a result it cannot register
	// makes the job an error); an error means "try again next poll", so it
	// must be for passing faults only.
	Ended(ctx context.Context, s *Service, j *storage.Job, out *slurm.Outcome) error
	// KeepsParents reports whether the job's parents must outlive it: a
	// parent is not deleted while a job of this kind was made from it.
	KeepsParents() bool
}

// kinds lists every kind the portal runs; a new kind is one line here and
// its own file.
var kinds = []Kind{Training, Inference, Preprocess, TensorBoard}

// KindOf returns the kind named name.
func KindOf(name string) (Kind, bool) {
	for _, k := range kinds {
		if k.Name() == name {
			return k, true
		}
	}
	return nil, false
}

// parentKeepers names the kinds whose jobs keep their parents.
func parentKeepers() []string {
	var out []string
	for _, k := range kinds {
		if k.KeepsParents() {
			out = append(out, k.Name())
		}
	}
	return out
}

// The steps below are shared by the kinds that read a dataset and take
// parents (trainings, inferences).

// checkDataset requires a dataset. That it is the tenant's is the
// Service's check (checkDatasetOwned), or the row's own.
func checkDataset(req *Request, bad *refusal.Fields) {
	if req.DatasetID <= 0 {
		bad.Add("dataset_id", "training.unknown_dataset")
	}
}

// checkParents requires each parent to be a job of the tenant of one of
// the allowed kinds, named once; the refusals are k's
// ({name}.unknown_parent, {name}.duplicate_parent).
func checkParents(ctx context.Context, s *Service, k Kind, tenantID int64, ids []int64, bad *refusal.Fields, allowed ...Kind) error {
	seen := map[int64]bool{}
	for _, id := range ids {
		if seen[id] {
			bad.Add("parent_id", k.Name()+".duplicate_parent", strconv.FormatInt(id, 10))
			continue
		}
		seen[id] = true
		p, err := s.Store.JobByID(ctx, tenantID, id)
		if errors.Is(err, storage.ErrNotFound) || (err == nil && !isKind(p, allowed)) {
			bad.Add("parent_id", k.Name()+".unknown_parent", strconv.FormatInt(id, 10))
		} else if err != nil {
			return err
		}
	}
	return nil
}

func isKind(j *storage.Job, allowed []Kind) bool {
	for _, k := range allowed {
		if j.Kind == k.Name() {
			return true
		}
	}
	return false
}
