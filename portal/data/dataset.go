package data

import (
	"context"
	"errors"
	"strings"
	"unicode/utf8"

	"kqi/portal/refusal"
	"kqi/storage"
)

// DatasetForm is a dataset as typed: name, memo and the area of each datum.
type DatasetForm struct {
	Name    string
	Memo    string
	Entries []storage.Entry
}

// AreaOf returns the area a datum is in on the form, or "".
func (f DatasetForm) AreaOf(dataID int64) string {
	for _, e := range f.Entries {
		if e.DataID == dataID {
			return e.Area
		}
	}
	return ""
}

func (f DatasetForm) check() error {
	var bad refusal.Fields
	checkNameMemo(&bad, f.Name, f.Memo, "dataset.name_required")
	for _, e := range f.Entries {
		if !storage.ValidArea(e.Area) {
			bad.Add("entries", "dataset.bad_area", e.Area)
		}
	}
	return bad.Err()
}

// Dataset returns one dataset of the tenant with its entries.
func (s *Service) Dataset(ctx context.Context, tenantID, id int64) (*storage.Dataset, error) {
	return s.Store.DatasetByID(ctx, tenantID, id)
}

// Datasets returns one page of the tenant's datasets and how many match.
func (s *Service) Datasets(ctx context.Context, tenantID int64, f storage.DatasetFilter) ([]storage.Dataset, int, error) {
	return s.Store.ListDatasets(ctx, tenantID, f)
}

// DatasetPage is Datasets with the cursors either side.
func (s *Service) DatasetPage(ctx context.Context, tenantID int64, f storage.DatasetFilter) (storage.Page[storage.Dataset], error) {
	return s.Store.DatasetsPage(ctx, tenantID, f)
}

// choiceLimit caps the data a dataset form offers.
const choiceLimit = 500

// Choices are the data a dataset form offers: the tenant's newest 500
// (truncated says there are more) and every datum the form already holds,
// however old.
func (s *Service) Choices(ctx context.Context, tenantID int64, f DatasetForm) (items []storage.Data, truncated bool, err error) {
	items, total, err := s.Store.ListData(ctx, tenantID, storage.DataFilter{Sort: "id", Desc: true, PerPage: choiceLimit})
	if err != nil {
		return nil, false, err
	}
	listed := map[int64]bool{}
	for _, it := range items {
		listed[it.ID] = true
	}
	for _, e := range f.Entries {
		if !listed[e.DataID] {
			if extra, err := s.Store.DataByID(ctx, tenantID, e.DataID); err == nil {
				items = append(items, *extra)
			}
		}
	}
	return items, total > choiceLimit, nil
}

// CreateDataset validates and creates a dataset.
func (s *Service) CreateDataset(ctx context.Context, who Actor, f DatasetForm) (int64, error) {
	if err := f.check(); err != nil {
		return 0, err
	}
	id, err := s.Store.CreateDataset(ctx, storage.NewDataset{
		TenantID: who.TenantID, Name: strings.TrimSpace(f.Name), Memo: f.Memo, CreatedBy: who.UserID, Entries: f.Entries,
	})
	return id, datasetErr(err)
}

// UpdateDataset validates and saves a dataset; refused once frozen.
func (s *Service) UpdateDataset(ctx context.Context, tenantID, id int64, f DatasetForm) error {
	if err := f.check(); err != nil {
		return err
	}
	return datasetErr(s.Store.UpdateDataset(ctx, tenantID, id, strings.TrimSpace(f.Name), f.Memo, f.Entries))
}

// DeleteDataset deletes a dataset; refused once frozen.
func (s *Service) DeleteDataset(ctx context.Context, tenantID, id int64) error {
	return datasetErr(s.Store.DeleteDataset(ctx, tenantID, id))
}

func datasetErr(err error) error {
	switch {
	case errors.Is(err, storage.ErrUnknownData):
		return refusal.Invalidf("entries", "dataset.unknown_data")
	case errors.Is(err, storage.ErrConflict):
		return refusal.Invalidf("entries", "dataset.duplicate_data")
	}
	return frozen(err, "dataset.frozen")
}

// CopyDataset copies a dataset (frozen or not) to a new editable one named
// "<name> (copy)" unless a name is given.
func (s *Service) CopyDataset(ctx context.Context, who Actor, id int64, name string) (int64, error) {
	if utf8.RuneCountInString(name) > MaxNameLen {
		return 0, refusal.Invalidf("name", "data.name_too_long")
	}
	if strings.TrimSpace(name) == "" {
		src, err := s.Store.DatasetByID(ctx, who.TenantID, id)
		if err != nil {
			return 0, err
		}
		name = src.Name + " (copy)"
		if utf8.RuneCountInString(name) > MaxNameLen {
			name = string([]rune(name)[:MaxNameLen])
		}
	}
	return s.Store.CopyDataset(ctx, who.TenantID, id, strings.TrimSpace(name), who.UserID)
}
