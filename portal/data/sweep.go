package data

import (
	"context"
	"errors"
	"time"

	"kqi/storage"
	"kqi/storage/files"
)

// SweepOrphans removes what a crash can leave in the file store: upload
// temporaries, and directories of data ids that were reserved for an upload
// but never recorded. Only things untouched for olderThan go, so a live
// upload (whose file keeps changing) is never hit.
//
// Directories are judged before temporaries are swept: removing a stale
// temporary refreshes its directory's time, which would keep a crashed
// upload's directory for another round.
func (s *Service) SweepOrphans(ctx context.Context, olderThan time.Duration) (int, error) {
	removed := 0
	cutoff := time.Now().Add(-olderThan)
	dirs, err := files.StaleIDDirs(ctx, s.Files, "data", cutoff)
	if err != nil {
		return removed, err
	}
	for _, d := range dirs {
		if fresh, err := s.touchedSince(ctx, d.Path, cutoff); err != nil || fresh {
			continue
		}
		_, err = s.Store.DataByID(ctx, d.Tenant, d.ID)
		if !errors.Is(err, storage.ErrNotFound) {
			continue // recorded (or the database is not answering: keep)
		}
		s.Log.Info("removing files of an upload that was never recorded", "tenant", d.Tenant, "data_id", d.ID)
		if err := s.Files.RemoveAll(ctx, d.Path); err != nil {
			return removed, err
		}
		removed++
	}
	n, err := files.SweepTemp(ctx, s.Files, "tenants", olderThan)
	return removed + n, err
}

func (s *Service) touchedSince(ctx context.Context, dir string, cutoff time.Time) (bool, error) {
	entries, err := s.Files.List(ctx, dir)
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		if e.ModTime.After(cutoff) {
			return true, nil
		}
	}
	return false, nil
}
