package storage

import (
	"context"
	"fmt"
)

// JobChoices are the newest limit jobs of kind in the tenant with only
// what a choice list shows (id, name, kind): the forms' parent choices and
// the inference list's parent filter, read from the (tenant, kind, id)
// index instead of as a whole list page.
func (s *Store) JobChoices(ctx context.Context, tenantID int64, kind string, limit int) ([]Job, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT id, name, kind FROM jobs WHERE tenant_id = $1 AND kind = $2 ORDER BY id DESC LIMIT $3`, tenantID, kind, limit)
	if err != nil {
		return nil, fmt.Errorf("storage: job choices: %w", err)
	}
	defer rows.Close()
	var out []Job
	for rows.Next() {
		j := Job{TenantID: tenantID}
		if err := rows.Scan(&j.ID, &j.Name, &j.Kind); err != nil {
			return nil, fmt.Errorf("storage: job choices: %w", err)
		}
		out = append(out, j)
	}
	return out, rows.Err()
}
