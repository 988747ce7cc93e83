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
// parent choices and the inference list's parent filter, from the
// (tenant, kind, id) index that holds their names too. The limit is
// written in the statement, as the list pages do: as a parameter, the
// prepared statement's generic plan, not knowing how few rows are asked
// for, walked the primary key backwards past every newer job of the other
// kinds instead.
func (s *Store) JobChoices(ctx context.Context, tenantID int64, kind string, limit int) ([]JobChoice, error) {
	q := fmt.Sprintf(`SELECT id, name, kind FROM jobs WHERE tenant_id = $1 AND kind = $2 ORDER BY id DESC LIMIT %d`, limit)
	s.explain(ctx, q, []any{tenantID, kind})
	rows, err := s.db.QueryContext(ctx, q, tenantID, kind)
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
