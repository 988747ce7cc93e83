package jobs

import (
	"context"

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
	Name() string
	// IDVariable is the read-only variable holding the job's id, such as
	// TRAINING_ID.
	IDVariable() string
	// Check validates what only this kind takes (its dataset, parents,
	// source data), adding refusals to bad; an error is a server error.
	Check(ctx context.Context, s *Service, tenantID int64, req *Request, bad *refusal.Fields) error
	// Stage lays the kind's inputs into the job directory j.JobDir (below
	// slurm.InputDir, by hard links: no bytes copied) and returns further
	// read-only binds and variables. Parents are bound by the Service.
	Stage(ctx context.Context, s *Service, j *storage.Job) (Staged, error)
	// Ended runs once the poller has decided a final outcome, before it is
	// recorded. It may change the outcome (a result it cannot register
	// makes the job an error); an error means "try again next poll", so it
	// must be for passing faults only.
	Ended(ctx context.Context, s *Service, j *storage.Job, out *slurm.Outcome) error
}

// kinds lists every kind the portal runs; a new kind is one line here and
// its own file.
var kinds = []Kind{Training}

// KindOf returns the kind named name.
func KindOf(name string) (Kind, bool) {
	for _, k := range kinds {
		if k.Name() == name {
			return k, true
		}
	}
	return nil, false
}
