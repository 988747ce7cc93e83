package storage

import (
	"context"
	"fmt"

	"github.com/lib/pq"
)

// JobsByIDs returns the tenant's jobs of kind among ids, in one query;
// ids of anything else are left out.
func (s *Store) JobsByIDs(ctx context.Context, tenantID int64, kind string, ids []int64) ([]Job, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+jobColumns+jobFrom+` WHERE j.tenant_id = $1 AND j.kind = $2 AND j.id = ANY($3)`,
		tenantID, kind, pq.Array(ids))
	if err != nil {
		return nil, fmt.Errorf("storage: jobs by ids: %w", err)
	}
	return scanJobs(rows)
}
