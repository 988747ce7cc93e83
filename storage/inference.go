package storage

import "context"

// SetJobOutputValue records the number a job left as its result (nil for
// none) while the job is still active: the poller sets it just before it
// records the final state, and a late poll cannot change it afterwards.
func (s *Store) SetJobOutputValue(ctx context.Context, id int64, value *float64) error {
	_, err := s.db.ExecContext(ctx, `UPDATE jobs SET output_value = $2, updated_at = now() WHERE id = $1 AND status = ANY ($3)`,
		id, value, activeStatuses)
	return wrap("set output value", err)
}
