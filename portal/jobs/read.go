package jobs

import (
	"context"
	"errors"

	"kqi/portal/refusal"
	"kqi/slurm"
	"kqi/storage"
)

// Job returns the tenant's job of kind; another kind's job is not found,
// like another tenant's.
func (s *Service) Job(ctx context.Context, tenantID int64, kind Kind, id int64) (*storage.Job, error) {
	j, err := s.Store.JobByID(ctx, tenantID, id)
	if err != nil {
		return nil, err
	}
	if j.Kind != kind.Name() {
		return nil, storage.ErrNotFound
	}
	return j, nil
}

// List returns one page of the tenant's jobs of kind and the total.
func (s *Service) List(ctx context.Context, tenantID int64, kind Kind, f storage.JobFilter) ([]storage.Job, int, error) {
	f.Kind = kind.Name()
	return s.Store.ListJobs(ctx, tenantID, f)
}

// UpdateNotes changes what the user may edit at any time.
func (s *Service) UpdateNotes(ctx context.Context, tenantID int64, kind Kind, id int64, memo string, tags []string, favorite bool) error {
	if _, err := s.Job(ctx, tenantID, kind, id); err != nil {
		return err
	}
	return s.Store.UpdateJobNotes(ctx, tenantID, id, memo, tags, favorite)
}

// Choices are what a job form offers: the tenant's datasets, the jobs that
// may be parents, the cluster's partitions and the default image.
type Choices struct {
	Datasets     []storage.Dataset
	Parents      []storage.Job
	Partitions   []slurm.Partition // nil when the cluster did not answer
	DefaultImage string
}

// FormChoices lists the choices of a form whose parents are of parentKind.
// A cluster that does not answer leaves Partitions empty (the form still
// shows, and says so) rather than failing.
func (s *Service) FormChoices(ctx context.Context, tenantID int64, parentKind Kind) (Choices, error) {
	c := Choices{DefaultImage: s.Cfg.DefaultImage}
	var err error
	if c.Datasets, _, err = s.Store.ListDatasets(ctx, tenantID, storage.DatasetFilter{Sort: "id", Desc: true, PerPage: 1000}); err != nil {
		return c, err
	}
	if c.Parents, _, err = s.List(ctx, tenantID, parentKind, storage.JobFilter{Sort: "id", Desc: true, PerPage: 200}); err != nil {
		return c, err
	}
	if c.Partitions, err = s.Partitions(ctx); err != nil {
		s.Log.Warn("listing partitions", "error", err)
	}
	return c, nil
}

// Bulk applies one action to the tenant's jobs of kind: "tag" and
// "untag" edit tags, "delete" deletes ended ones. It reports how many were
// kept because they still run; unknown ids are skipped.
func (s *Service) Bulk(ctx context.Context, tenantID int64, kind Kind, ids []int64, action string, tags []string) (kept int, err error) {
	for _, id := range ids {
		j, err := s.Job(ctx, tenantID, kind, id)
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err != nil {
			return kept, err
		}
		switch action {
		case "tag", "untag":
			err = s.Store.UpdateJobNotes(ctx, tenantID, id, j.Memo, editTags(j.Tags, tags, action == "tag"), j.Favorite)
		case "delete":
			if err = s.Delete(ctx, tenantID, kind, id); isConflict(err) {
				kept, err = kept+1, nil
			}
		}
		if err != nil {
			return kept, err
		}
	}
	return kept, nil
}

// editTags adds or removes tags, keeping order and no duplicates.
func editTags(have, change []string, add bool) []string {
	out := []string{}
	drop := map[string]bool{}
	for _, c := range change {
		drop[c] = !add
	}
	for _, t := range have {
		if !drop[t] {
			out = append(out, t)
		}
	}
	if add {
		for _, c := range change {
			found := false
			for _, t := range out {
				found = found || t == c
			}
			if !found {
				out = append(out, c)
			}
		}
	}
	return out
}

func isConflict(err error) bool {
	e, ok := refusal.Of(err)
	return ok && e.Kind == refusal.Conflict
}
