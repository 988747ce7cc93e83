package storage

import (
	"context"
	"fmt"
)

// InstanceID is the random id this database was given when it was created.
// It never changes, so it is read once (every submit and poll asks).
func (s *Store) InstanceID(ctx context.Context) (string, error) {
	if id := s.instance.Load(); id != nil {
		return *id, nil
	}
	var id string
	if err := s.db.QueryRowContext(ctx, `SELECT id FROM instance`).Scan(&id); err != nil {
		return "", fmt.Errorf("storage: instance id: %w", err)
	}
	s.instance.Store(&id)
	return id, nil
}
