package jobs

import (
	"context"
	"errors"
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
	dirs, err := files.StaleIDDirs(ctx, s.Files, "jobs", time.Now().Add(-olderThan))
	if err != nil {
		return removed, err
	}
	for _, d := range dirs {
		if _, err := s.Store.JobByID(ctx, d.Tenant, d.ID); !errors.Is(err, storage.ErrNotFound) {
			continue // recorded (or the database is not answering: keep)
		}
		s.Log.Info("removing the directory of a job that was never recorded", "tenant", d.Tenant, "job", d.ID)
		if err := s.Files.RemoveAll(ctx, d.Path); err != nil {
			return removed, err
		}
		removed++
	}
	return removed, nil
}
