package jobs

import (
	"context"
	"errors"
	"unicode/utf8"

	"kqi/portal/input"
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

// MaxStatusIDs is how many jobs one status poll may ask about.
const MaxStatusIDs = 200

// Jobs returns the tenant's jobs of kind among ids (at most MaxStatusIDs
// of them are looked up, in one query).
func (s *Service) Jobs(ctx context.Context, tenantID int64, kind Kind, ids []int64) ([]storage.Job, error) {
	if len(ids) > MaxStatusIDs {
		ids = ids[:MaxStatusIDs]
	}
	return s.Store.JobsByIDs(ctx, tenantID, kind.Name(), ids)
}

// List returns one page of the tenant's jobs of kind and the total.
func (s *Service) List(ctx context.Context, tenantID int64, kind Kind, f storage.JobFilter) ([]storage.Job, int, error) {
	f.Kind = kind.Name()
	return s.Store.ListJobs(ctx, tenantID, f)
}

// Page is List with the cursors either side (JobFilter.After, Before).
func (s *Service) Page(ctx context.Context, tenantID int64, kind Kind, f storage.JobFilter) (storage.Page[storage.Job], error) {
	f.Kind = kind.Name()
	return s.Store.JobsPage(ctx, tenantID, f)
}

// Parents returns the job's parents that still exist, in its order.
func (s *Service) Parents(ctx context.Context, j *storage.Job) ([]storage.Job, error) {
	var out []storage.Job
	for _, id := range j.ParentIDs {
		p, err := s.Store.JobByID(ctx, j.TenantID, id)
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, *p)
	}
	return out, nil
}

// UpdateNotes changes what the user may edit at any time.
func (s *Service) UpdateNotes(ctx context.Context, tenantID int64, kind Kind, id int64, memo string, tags []string, favorite bool) error {
	if _, err := s.Job(ctx, tenantID, kind, id); err != nil {
		return err
	}
	var bad refusal.Fields
	if utf8.RuneCountInString(memo) > input.MaxMemo {
		bad.Add("memo", "data.memo_too_long")
	}
	if len(tags) > input.MaxTags {
		bad.Add("tags", "data.too_many_tags")
	}
	for _, t := range tags {
		if utf8.RuneCountInString(t) > input.MaxTag {
			bad.Add("tags", "data.tag_too_long", t)
		}
	}
	if err := bad.Err(); err != nil {
		return err
	}
	return s.Store.UpdateJobNotes(ctx, tenantID, id, memo, tags, favorite)
}

// Choices are what a job form offers: the tenant's datasets, the jobs that
// may be parents, the cluster's partitions and the default image.
type Choices struct {
	Datasets     []storage.Dataset
	Parents      []storage.JobChoice // newest first, of each parent kind in turn
	Partitions   []slurm.Partition   // nil when the cluster did not answer
	DefaultImage string
}

// FormChoices lists the choices of a form whose parents are of
// parentKinds. A cluster that does not answer leaves Partitions empty (the
// form still shows, and says so) rather than failing.
func (s *Service) FormChoices(ctx context.Context, tenantID int64, parentKinds ...Kind) (Choices, error) {
	c := Choices{DefaultImage: s.Cfg.DefaultImage}
	var err error
	if c.Datasets, _, err = s.Store.ListDatasets(ctx, tenantID, storage.DatasetFilter{Sort: "id", Desc: true, PerPage: 1000}); err != nil {
		return c, err
	}
	if c.Parents, err = s.ParentChoices(ctx, tenantID, parentKinds...); err != nil {
		return c, err
	}
	if c.Partitions, err = s.Partitions(ctx); err != nil {
		s.Log.Warn("listing partitions", "error", err)
	}
	return c, nil
}

// ParentChoices are the jobs a form or a list filter offers as parents:
// the newest 200 of each kind.
func (s *Service) ParentChoices(ctx context.Context, tenantID int64, kinds ...Kind) ([]storage.JobChoice, error) {
	var out []storage.JobChoice
	for _, k := range kinds {
		parents, err := s.Store.JobChoices(ctx, tenantID, k.Name(), 200)
		if err != nil {
			return nil, err
		}
		out = append(out, parents...)
	}
	return out, nil
}

// Kept counts the jobs a bulk delete left: still active, or parents that
// jobs keeping their lineage were made from.
type Kept struct {
	Active, InUse int
}

// Bulk applies one action to the tenant's jobs of kind: "tag" and
// "untag" edit tags, "delete" deletes those it may (see Delete) and counts
// the others. Unknown ids are skipped.
func (s *Service) Bulk(ctx context.Context, tenantID int64, kind Kind, ids []int64, action string, tags []string) (kept Kept, err error) {
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
			err = s.Delete(ctx, tenantID, kind, id)
			if e, ok := refusal.Of(err); ok && e.Kind == refusal.Conflict {
				if j.Active() {
					kept.Active++
				} else {
					kept.InUse++
				}
				err = nil
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
