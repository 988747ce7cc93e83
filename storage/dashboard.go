package storage

import (
	"context"
	"database/sql"
	"fmt"
)

// Usage is what a tenant's active jobs hold of its quota.
type Usage struct {
	CPU, MemoryGB, GPU int
}

// usageQuery sums the resources of a tenant's active jobs; a job array
// counts as many of its live tasks as may run at once.
const usageQuery = `SELECT COALESCE(sum(cpu * n), 0), COALESCE(sum(memory_gb * n), 0), COALESCE(sum(gpu * n), 0)
	FROM (SELECT max(cpu) AS cpu, max(memory_gb) AS memory_gb, max(gpu) AS gpu,
			CASE WHEN max(array_limit) > 0 THEN LEAST(count(*), max(array_limit)) ELSE count(*) END AS n
		FROM jobs WHERE tenant_id = $1 AND status = ANY ($2) GROUP BY COALESCE(array_id, id)) g`

type rowQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func usage(ctx context.Context, q rowQuerier, tenantID int64) (Usage, error) {
	var u Usage
	if err := q.QueryRowContext(ctx, usageQuery, tenantID, activeStatuses).Scan(&u.CPU, &u.MemoryGB, &u.GPU); err != nil {
		return Usage{}, fmt.Errorf("storage: quota use: %w", err)
	}
	return u, nil
}

// TenantUsage is what the tenant's active jobs hold now, the quota check's
// own sum.
func (s *Store) TenantUsage(ctx context.Context, tenantID int64) (Usage, error) {
	return usage(ctx, s.db, tenantID)
}

// HomeJob is a job of any kind as the home page lists it, with the
// preprocess a preprocessing run belongs to (0 for other kinds), since its
// page is that preprocess's history.
type HomeJob struct {
	Job
	PreprocessID int64
}

// UserJobs lists the jobs of every kind userID started in the tenant:
// the active ones (newest first) when active, else the last ended ones.
func (s *Store) UserJobs(ctx context.Context, tenantID, userID int64, active bool, limit int) ([]HomeJob, error) {
	cond, order := `NOT (j.status = ANY ($3))`, `j.ended_at DESC NULLS LAST, j.id DESC`
	if active {
		cond, order = `j.status = ANY ($3)`, `j.id DESC`
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+jobColumns+`, COALESCE(h.preprocess_id, 0)`+jobFrom+`
		LEFT JOIN preprocess_histories h ON h.job_id = j.id
		WHERE j.tenant_id = $1 AND j.created_by = $2 AND `+cond+` ORDER BY `+order+fmt.Sprintf(` LIMIT %d`, limit),
		tenantID, userID, activeStatuses)
	if err != nil {
		return nil, fmt.Errorf("storage: user jobs: %w", err)
	}
	defer rows.Close()
	var out []HomeJob
	for rows.Next() {
		var hj HomeJob
		j, err := scanJob(scanTail{rows, &hj.PreprocessID})
		if err != nil {
			return nil, fmt.Errorf("storage: user jobs: %w", err)
		}
		hj.Job = *j
		out = append(out, hj)
	}
	return out, rows.Err()
}

// scanTail scans a job row followed by more columns.
type scanTail struct {
	rows *sql.Rows
	more any
}

func (s scanTail) Scan(dest ...any) error { return s.rows.Scan(append(dest, s.more)...) }
