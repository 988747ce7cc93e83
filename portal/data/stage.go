package data

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strconv"

	"kqi/storage"
	"kqi/storage/files"
)

// A job sees its inputs at /kqi/input, laid out by hard links to the data's
// own files: no bytes are copied, however big the data.
//
// A dataset is staged once, not once per job. A job's row freezes its
// dataset, and a frozen dataset never changes and is never deleted (only
// with its tenant). So the first job of a dataset links its files into its
// own directory and then moves that tree to DatasetInputDir, where every
// later job binds it: a job then makes no link at all, where each would
// otherwise make one per file (on a shared filesystem, one metadata round
// trip each).

// DatasetInputDir is where a frozen dataset's files are laid out once for
// every job that reads it, as {area}/{dataId}/{file}.
func DatasetInputDir(tenantID, datasetID int64) string {
	return "tenants/" + strconv.FormatInt(tenantID, 10) + "/datasets/" + strconv.FormatInt(datasetID, 10) + "/input"
}

// StagedDataset returns DatasetInputDir if a job has staged the dataset
// there already, or "" if none has. The tree appears whole or not at all
// (StageDatasetOnce), so its presence is the sign it is complete.
func (s *Service) StagedDataset(ctx context.Context, tenantID, datasetID int64) (string, error) {
	dir := DatasetInputDir(tenantID, datasetID)
	fi, err := s.Files.Stat(ctx, dir)
	switch {
	case errors.Is(err, files.ErrNotExist):
		return "", nil
	case err != nil:
		return "", err
	case !fi.IsDir:
		return "", fmt.Errorf("data: staged dataset %s is not a directory", dir)
	}
	return dir, nil
}

// StageDatasetOnce stages the dataset of a job whose row froze it, and
// returns the directory (relative to the store's root) the job binds at
// /kqi/input. Its files (list, or read now if nil) are linked into
// scratch, a directory of the job, which then moves to DatasetInputDir in
// one rename, for every later job to bind.
//
// The job keeps scratch when another job's tree got there first (two
// first jobs at once) or the move failed: it reads its own copy, as good.
// A dataset without files, or not frozen, is staged into scratch for this
// job alone.
func (s *Service) StageDatasetOnce(ctx context.Context, tenantID, datasetID int64, list []storage.StagedFile, scratch string) (string, files.StageStats, error) {
	if list == nil {
		var frozen bool
		var err error
		if list, frozen, err = s.Store.FrozenDatasetFiles(ctx, tenantID, datasetID); err != nil {
			return "", files.StageStats{}, err
		}
		if !frozen {
			stats, err := s.StageDataset(ctx, tenantID, datasetID, scratch)
			return scratch, stats, err
		}
	}
	stats, err := s.StageFiles(ctx, tenantID, list, scratch)
	if err != nil {
		return "", stats, err
	}
	shared := DatasetInputDir(tenantID, datasetID)
	err = s.Files.MkdirAll(ctx, path.Dir(shared))
	if err == nil {
		err = s.Files.RenameDir(ctx, scratch, shared)
	}
	if err == nil {
		return shared, stats, nil
	}
	if _, serr := s.Files.Stat(ctx, scratch); serr == nil {
		if dir, _ := s.StagedDataset(ctx, tenantID, datasetID); dir == "" {
			// Not a lost race: later jobs will stage their own too.
			s.Log.Warn("a staged dataset could not be kept for later jobs", "dataset", datasetID, "error", err)
		}
		return scratch, stats, nil
	}
	// scratch is gone: the move went through but its answer was lost.
	if dir, serr := s.StagedDataset(ctx, tenantID, datasetID); serr == nil && dir != "" {
		return dir, stats, nil
	}
	return "", stats, fmt.Errorf("data: stage dataset %d: %w", datasetID, err)
}

// StageDataset lays out a dataset's files for a job as
// {inputDir}/{area}/{dataId}/{file}: hard links, no bytes copied. inputDir
// is relative to the file store's root.
func (s *Service) StageDataset(ctx context.Context, tenantID, datasetID int64, inputDir string) (files.StageStats, error) {
	list, err := s.Store.DatasetFiles(ctx, tenantID, datasetID)
	if err != nil {
		return files.StageStats{}, err
	}
	return s.StageFiles(ctx, tenantID, list, inputDir)
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
	return s.StageFiles(ctx, tenantID, list, inputDir)
}

// StageFiles lays out files of the tenant's data, as StageDataset (files
// with an area) or StageData (without) would.
func (s *Service) StageFiles(ctx context.Context, tenantID int64, list []storage.StagedFile, inputDir string) (files.StageStats, error) {
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
