package jobs

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"kqi/storage"
	"kqi/storage/files"
)

// SweepUnrecorded removes job directories whose row was never recorded: a
// submit makes its directory's skeleton while the row is being written, so
// a crash between the two leaves one behind (empty: nothing is put in it
// before the row exists). Only directories untouched for olderThan go, so
// a submit still at work is never hit.
func (s *Service) SweepUnrecorded(ctx context.Context, olderThan time.Duration) (int, error) {
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
		base := jobDirPrefix(tenantID)
		dirs, err := s.Files.List(ctx, strings.TrimSuffix(base, "/"))
		if errors.Is(err, files.ErrNotExist) {
			continue // a tenant that never ran a job
		}
		if err != nil {
			return removed, err
		}
		for _, d := range dirs {
			id, err := strconv.ParseInt(d.Name, 10, 64)
			if err != nil || !d.IsDir || d.ModTime.After(cutoff) {
				continue
			}
			if _, err := s.Store.JobByID(ctx, tenantID, id); !errors.Is(err, storage.ErrNotFound) {
				continue // recorded (or the database is not answering: keep)
			}
			s.Log.Info("removing the directory of a job that was never recorded", "tenant", tenantID, "job", id)
			if err := s.Files.RemoveAll(ctx, base+d.Name); err != nil {
				return removed, err
			}
			removed++
		}
	}
	return removed, nil
}
