package storage

import (
	"context"
	"fmt"
)

// JobChoice is a job as a choice list shows it (a list holds hundreds;
// a whole Job is half a kilobyte).
type JobChoice struct {
	ID   int64
	Name string
	Kind string
}

// JobChoices are the newest limit jobs of kind in the tenant: the forms'
// parent choices and the inference list's parent filter, from the index
// that holds their names too (jobs_tenant_kind_choices_idx), with the
// limit written in the statement as the list pages do. Prepared with
// LIMIT $3 and read from the table, the statement's generic plan walked
// the primary key backwards past every newer job of the other kinds (4 ms
// for the trainings with 10k inferences after them).
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
