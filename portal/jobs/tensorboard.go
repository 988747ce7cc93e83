package jobs

import (
	"context"
	"slices"
	"strconv"

	"kqi/portal/refusal"
	"kqi/slurm"
	"kqi/storage"
)

// TensorBoard runs the site's TensorBoard over one or more trainings'
// outputs, mounted read-only at /kqi/parent (one) or /kqi/parent/{id}
// (several), as a small job reached through the portal's proxy (SPEC §7).
// Its trainings may be deleted while it runs: the link goes, and the
// poller stops the TensorBoard (see reapTensorBoards).
var TensorBoard Kind = tensorBoard{}

type tensorBoard struct{}

func (tensorBoard) Name() string       { return "tensorboard" }
func (tensorBoard) IDVariable() string { return "TENSORBOARD_ID" }
func (tensorBoard) KeepsParents() bool { return false }

func (tensorBoard) Check(ctx context.Context, s *Service, tenantID int64, req *Request, bad *refusal.Fields) error {
	switch {
	case len(req.ParentIDs) == 0:
		bad.Add("training_ids", "tensorboard.training_required")
		return nil
	case len(req.ParentIDs) > maxParents:
		bad.Add("training_ids", "tensorboard.too_many_trainings", strconv.Itoa(maxParents))
		return nil
	}
	return checkParents(ctx, s, TensorBoard, tenantID, req.ParentIDs, bad, Training)
}

// Stage records the set of trainings, before Slurm has the job, so the
// poller can tell when one of them is gone and a second request for the
// same set finds this one.
func (tensorBoard) Stage(ctx context.Context, s *Service, j *storage.Job) (Staged, error) {
	ids := slices.Clone(j.ParentIDs)
	slices.Sort(ids)
	return Staged{}, s.Store.CreateTensorBoard(ctx, j.ID, ids, s.now())
}

func (tensorBoard) Ended(context.Context, *Service, *storage.Job, *slurm.Outcome) error { return nil }
