package storage

import "context"

// These are the operator's aggregates for /metrics, across tenants by
// design: no page or API answer shows them.

// JobCount is how many jobs of one kind are in one status.
type JobCount struct {
	Kind, Status string
	Count        int
}

// JobCounts counts every tenant's jobs by kind and status.
func (s *Store) JobCounts(ctx context.Context) ([]JobCount, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT kind, status, count(*) FROM jobs GROUP BY kind, status ORDER BY kind, status`)
	if err != nil {
		return nil, wrap("job counts", err)
	}
	defer rows.Close()
	var out []JobCount
	for rows.Next() {
		var c JobCount
		if err := rows.Scan(&c.Kind, &c.Status, &c.Count); err != nil {
			return nil, wrap("job counts", err)
		}
		out = append(out, c)
	}
	return out, wrap("job counts", rows.Err())
}

// TenantGPUs is how many GPUs one tenant's running jobs hold.
type TenantGPUs struct {
	Tenant string
	GPUs   int
}

// GPUsInUse sums the GPUs of running jobs per tenant; tenants with none
// are listed with 0, so their series drop to 0 rather than vanish.
func (s *Store) GPUsInUse(ctx context.Context) ([]TenantGPUs, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT t.name, COALESCE(SUM(j.gpu) FILTER (WHERE j.status = 'running'), 0)
		FROM tenants t LEFT JOIN jobs j ON j.tenant_id = t.id
		GROUP BY t.name ORDER BY t.name`)
	if err != nil {
		return nil, wrap("gpus in use", err)
	}
	defer rows.Close()
	var out []TenantGPUs
	for rows.Next() {
		var g TenantGPUs
		if err := rows.Scan(&g.Tenant, &g.GPUs); err != nil {
			return nil, wrap("gpus in use", err)
		}
		out = append(out, g)
	}
	return out, wrap("gpus in use", rows.Err())
}
