package data

import (
	"context"
	"errors"
	"strings"
	"unicode/utf8"

	"kqi/storage"
	"kqi/storage/files"
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

// Validate checks the name, memo and areas.
func (f DatasetForm) Validate() error {
	name := strings.TrimSpace(f.Name)
	switch {
	case name == "":
		return invalid("dataset.name_required")
	case utf8.RuneCountInString(name) > MaxNameLen:
		return invalid("data.name_too_long")
	case utf8.RuneCountInString(f.Memo) > MaxMemoLen:
		return invalid("data.memo_too_long")
	}
	for _, e := range f.Entries {
		if !storage.ValidArea(e.Area) {
			return invalid("dataset.bad_area", e.Area)
		}
	}
	return nil
}

// CreateDataset validates and creates a dataset.
func (s *Service) CreateDataset(ctx context.Context, who Actor, f DatasetForm) (int64, error) {
	if err := f.Validate(); err != nil {
		return 0, err
	}
	id, err := s.Store.CreateDataset(ctx, storage.NewDataset{
		TenantID: who.TenantID, Name: strings.TrimSpace(f.Name), Memo: f.Memo, CreatedBy: who.UserID, Entries: f.Entries,
	})
	return id, datasetErr(err)
}

// UpdateDataset validates and saves a dataset; refused once frozen.
func (s *Service) UpdateDataset(ctx context.Context, tenantID, id int64, f DatasetForm) error {
	if err := f.Validate(); err != nil {
		return err
	}
	return datasetErr(s.Store.UpdateDataset(ctx, tenantID, id, strings.TrimSpace(f.Name), f.Memo, f.Entries))
}

func datasetErr(err error) error {
	switch {
	case errors.Is(err, storage.ErrUnknownData):
		return invalid("dataset.unknown_data")
	case errors.Is(err, storage.ErrConflict):
		return invalid("dataset.duplicate_data")
	}
	return err
}

// CopyDataset copies a dataset (frozen or not) to a new editable one named
// "<name> (copy)" unless a name is given.
func (s *Service) CopyDataset(ctx context.Context, who Actor, id int64, name string) (int64, error) {
	if utf8.RuneCountInString(name) > MaxNameLen {
		return 0, invalid("data.name_too_long")
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

// StageDataset lays out a dataset's files for a job as
// {inputDir}/{area}/{dataId}/{file}: hard links, no bytes copied. inputDir
// is relative to the file store's root.
func (s *Service) StageDataset(ctx context.Context, tenantID, datasetID int64, inputDir string) (files.StageStats, error) {
	list, err := s.Store.DatasetFiles(ctx, tenantID, datasetID)
	if err != nil {
		return files.StageStats{}, err
	}
	return s.stage(ctx, tenantID, list, inputDir)
}

// StageData lays out one datum's files as {inputDir}/{dataId}/{file}, for
// preprocessing.
func (s *Service) StageData(ctx context.Context, tenantID, dataID int64, inputDir string) (files.StageStats, error) {
	d, err := s.Store.DataByID(ctx, tenantID, dataID)
	if err != nil {
		return files.StageStats{}, err
	}
	list := make([]storage.StagedFile, len(d.Files))
	for i, f := range d.Files {
		list[i] = storage.StagedFile{DataID: dataID, FileName: f.Name}
	}
	return s.stage(ctx, tenantID, list, inputDir)
}

func (s *Service) stage(ctx context.Context, tenantID int64, list []storage.StagedFile, inputDir string) (files.StageStats, error) {
	in := make([]files.InputFile, 0, len(list))
	for _, f := range list {
		from, err := FilePath(tenantID, f.DataID, f.FileName)
		if err != nil {
			return files.StageStats{}, err
		}
		in = append(in, files.InputFile{Area: f.Area, DataID: f.DataID, Name: f.FileName, Path: from})
	}
	links, err := files.InputLinks(inputDir, in)
	if err != nil {
		return files.StageStats{}, err
	}
	return files.Stage(ctx, s.Files, links)
}
