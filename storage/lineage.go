package storage

import (
	"context"
	"fmt"

	"github.com/lib/pq"
)

// LineageKey names one thing of a lineage graph: Type "data", "run" (a
// preprocessing history entry), "dataset" or "job" (a training or
// inference), and its id.
type LineageKey struct {
	Type string
	ID   int64
}

// LineageEdge says From was used to make To.
type LineageEdge struct{ From, To LineageKey }

// lineageEdges is every "used to make" relation of a tenant: datum → run
// of a preprocess on it → the data it made; datum → dataset holding it;
// dataset → training or inference on it; job → child job.
const lineageEdges = `
	SELECT 'data' AS ft, h.data_id AS fid, 'run' AS tt, h.id AS tid FROM preprocess_histories h WHERE h.tenant_id = $1
	UNION ALL SELECT 'run', o.history_id, 'data', o.data_id FROM preprocess_outputs o JOIN preprocess_histories h ON h.id = o.history_id WHERE h.tenant_id = $1
	UNION ALL SELECT 'data', e.data_id, 'dataset', e.dataset_id FROM dataset_entries e JOIN datasets s ON s.id = e.dataset_id WHERE s.tenant_id = $1
	UNION ALL SELECT 'dataset', j.dataset_id, 'job', j.id FROM jobs j WHERE j.tenant_id = $1 AND j.dataset_id IS NOT NULL AND j.kind IN ('training', 'inference')
	UNION ALL SELECT 'job', p.parent_id, 'job', p.job_id FROM job_parents p JOIN jobs j ON j.id = p.job_id WHERE j.tenant_id = $1 AND j.kind IN ('training', 'inference')`

// LineageStep returns the edges of the tenant that end at one of keys
// (forward false: where they came from) or start at one (forward true:
// what was made from them).
func (s *Store) LineageStep(ctx context.Context, tenantID int64, keys []LineageKey, forward bool) ([]LineageEdge, error) {
	types, ids := make([]string, len(keys)), make([]int64, len(keys))
	for i, k := range keys {
		types[i], ids[i] = k.Type, k.ID
	}
	side := "e.tt, e.tid"
	if forward {
		side = "e.ft, e.fid"
	}
	rows, err := s.db.QueryContext(ctx, `SELECT e.ft, e.fid, e.tt, e.tid FROM (`+lineageEdges+`) e
		WHERE (`+side+`) IN (SELECT * FROM unnest($2::text[], $3::bigint[]))`, tenantID, pq.Array(types), pq.Array(ids))
	if err != nil {
		return nil, fmt.Errorf("storage: lineage: %w", err)
	}
	defer rows.Close()
	var out []LineageEdge
	for rows.Next() {
		var e LineageEdge
		if err := rows.Scan(&e.From.Type, &e.From.ID, &e.To.Type, &e.To.ID); err != nil {
			return nil, fmt.Errorf("storage: lineage: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// LineageNode is what a lineage picture shows of one thing.
type LineageNode struct {
	LineageKey
	Name   string
	Kind   string // a job's kind; "" for others
	Status string // a job's or run's status; "" for others
	// Preprocess is a run's preprocess, whose page lists its runs.
	Preprocess int64
}

// LineageNodes describes the tenant's things among keys; another tenant's
// or a deleted one is left out.
func (s *Store) LineageNodes(ctx context.Context, tenantID int64, keys []LineageKey) (map[LineageKey]LineageNode, error) {
	byType := map[string][]int64{}
	for _, k := range keys {
		byType[k.Type] = append(byType[k.Type], k.ID)
	}
	queries := map[string]string{
		"data":    `SELECT id, name, '', '', 0 FROM data WHERE tenant_id = $1 AND id = ANY ($2)`,
		"dataset": `SELECT id, name, '', '', 0 FROM datasets WHERE tenant_id = $1 AND id = ANY ($2)`,
		"job":     `SELECT id, name, kind, status, 0 FROM jobs WHERE tenant_id = $1 AND id = ANY ($2)`,
		"run": `SELECT h.id, p.name, '', COALESCE(j.status, h.external_status), h.preprocess_id FROM preprocess_histories h
			JOIN preprocesses p ON p.id = h.preprocess_id LEFT JOIN jobs j ON j.id = h.job_id WHERE h.tenant_id = $1 AND h.id = ANY ($2)`,
	}
	out := map[LineageKey]LineageNode{}
	for typ, ids := range byType {
		q, ok := queries[typ]
		if !ok {
			continue
		}
		rows, err := s.db.QueryContext(ctx, q, tenantID, pq.Array(ids))
		if err != nil {
			return nil, fmt.Errorf("storage: lineage nodes: %w", err)
		}
		for rows.Next() {
			n := LineageNode{LineageKey: LineageKey{Type: typ}}
			if err := rows.Scan(&n.ID, &n.Name, &n.Kind, &n.Status, &n.Preprocess); err != nil {
				rows.Close()
				return nil, fmt.Errorf("storage: lineage nodes: %w", err)
			}
			out[n.LineageKey] = n
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("storage: lineage nodes: %w", err)
		}
	}
	return out, nil
}
