package storage

import (
	"context"
	"fmt"
)

// JobChoice is a job as a choice list shows it. A list of a few hundred
// whole Jobs (half a kilobyte each) was most of what the inference list
// page allocated.
type JobChoice struct {
	ID   int64
	Name string
	Kind string
}

// JobChoices are the newest limit jobs of kind in the tenant: the forms'
// parent choices and the inference list's parent filter. Their ids come
// first from the (tenant, kind, id) index, then their rows, with the limit
// written in the statement, as the list pages do: prepared with a
// parameter for LIMIT and for the whole rows at once, the generic plan
// walked the primary key backwards past every newer job of the other
// kinds (200k rows in the benchmark's tenant for the newest trainings).
func (s *Store) JobChoices(ctx context.Context, tenantID int64, kind string, limit int) ([]JobChoice, error) {
	rows, err := s.db.QueryContext(ctx, fmt.Sprintf(`SELECT j.id, j.name, j.kind FROM (SELECT id FROM jobs
		WHERE tenant_id = $1 AND kind = $2 ORDER BY id DESC LIMIT %d) c JOIN jobs j ON j.id = c.id ORDER BY j.id DESC`, limit), tenantID, kind)
	if err != nil {
		return nil, fmt.Errorf("storage: job choices: %w", err)
	}
	defer rows.Close()
	var out []JobChoice
	for rows.Next() {
		var j JobChoice
		if err := rows.Scan(&j.ID, &j.Name, &j.Kind); err != nil {
			return nil, fmt.Errorf("storage: job choices: %w", err)
		}
		out = append(out, j)
	}
	return out, rows.Err()
}
