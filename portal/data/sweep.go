package data

import (
	"context"
	"errors"
	"strconv"
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
	tenants, err := s.Files.List(ctx, "tenants")
	if err != nil {
		return removed, err
	}
	for _, t := range tenants {
		tenantID, err := strconv.ParseInt(t.Name, 10, 64)
		if err != nil || !t.IsDir {
			continue
		}
		base := "tenants/" + t.Name + "/data"
		dirs, err := s.Files.List(ctx, base)
		if err != nil {
			return removed, err
		}
		for _, d := range dirs {
			id, err := strconv.ParseInt(d.Name, 10, 64)
			if err != nil || !d.IsDir || d.ModTime.After(cutoff) {
				continue
			}
			if fresh, err := s.touchedSince(ctx, base+"/"+d.Name, cutoff); err != nil || fresh {
				continue
			}
			_, err = s.Store.DataByID(ctx, tenantID, id)
			if !errors.Is(err, storage.ErrNotFound) {
				continue // recorded (or the database is not answering: keep)
			}
			s.Log.Info("removing files of an upload that was never recorded", "tenant", tenantID, "data_id", id)
			if err := s.Files.RemoveAll(ctx, base+"/"+d.Name); err != nil {
				return removed, err
			}
			removed++
		}
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
