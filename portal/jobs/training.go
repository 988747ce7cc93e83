package jobs

import (
	"context"

	"kqi/portal/refusal"
	"kqi/slurm"
	"kqi/storage"
)

// Training is a user's command on a dataset, optionally continuing from a
// parent training whose outputs it reads at /kqi/parent (SPEC §5).
var Training Kind = training{}

type training struct{}

func (training) Name() string       { return "training" }
func (training) IDVariable() string { return "TRAINING_ID" }
func (training) KeepsParents() bool { return false }

func (training) Check(ctx context.Context, s *Service, tenantID int64, req *Request, bad *refusal.Fields) error {
	checkDataset(req, bad)
	if len(req.ParentIDs) > 1 {
		bad.Add("parent_id", "training.one_parent")
		return nil
	}
	return checkParents(ctx, s, Training, tenantID, req.ParentIDs, bad, Training)
}

// Stage has nothing to add: the Service stages the dataset.
func (training) Stage(context.Context, *Service, *storage.Job) (Staged, error) { return Staged{}, nil }

func (training) Ended(context.Context, *Service, *storage.Job, *slurm.Outcome) error { return nil }
