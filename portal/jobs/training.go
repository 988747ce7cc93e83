package jobs

import (
	"context"
	"errors"

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

func (training) Check(ctx context.Context, s *Service, tenantID int64, req *Request, bad *refusal.Fields) error {
	if _, err := s.Store.DatasetByID(ctx, tenantID, req.DatasetID); errors.Is(err, storage.ErrNotFound) {
		bad.Add("dataset_id", "training.unknown_dataset")
	} else if err != nil {
		return err
	}
	if len(req.ParentIDs) > 1 {
		bad.Add("parent_id", "training.one_parent")
		return nil
	}
	for _, id := range req.ParentIDs {
		p, err := s.Store.JobByID(ctx, tenantID, id)
		if errors.Is(err, storage.ErrNotFound) || (err == nil && p.Kind != Training.Name()) {
			bad.Add("parent_id", "training.unknown_parent")
		} else if err != nil {
			return err
		}
	}
	return nil
}

func (training) Stage(ctx context.Context, s *Service, j *storage.Job) (Staged, error) {
	stats, err := s.Data.StageDataset(ctx, j.TenantID, j.DatasetID, j.JobDir+"/"+slurm.InputDir)
	if err != nil {
		return Staged{}, err
	}
	s.Log.Info("dataset staged", "job", j.ID, "links", stats.Links, "duration", stats.Duration)
	return Staged{}, nil
}

func (training) Ended(context.Context, *Service, *storage.Job, *slurm.Outcome) error { return nil }
