package storage

import (
	"context"
	"fmt"
)

// InstanceID is the random id this database was given when it was created.
func (s *Store) InstanceID(ctx context.Context) (string, error) {
	var id string
	if err := s.db.QueryRowContext(ctx, `SELECT id FROM instance`).Scan(&id); err != nil {
		return "", fmt.Errorf("storage: instance id: %w", err)
	}
	return id, nil
}
