package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lib/pq"
)

// TensorBoard is a TensorBoard job's own record: the trainings it was
// started for and when it was last reached.
type TensorBoard struct {
	JobID         int64
	TrainingIDs   []int64 // sorted, as asked; job_parents keeps only those still there
	LastRequestAt time.Time
}

// CreateTensorBoard records a TensorBoard job's set of trainings.
func (s *Store) CreateTensorBoard(ctx context.Context, jobID int64, trainingIDs []int64, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO tensorboards (job_id, training_ids, last_request_at) VALUES ($1, $2, $3)
		ON CONFLICT (job_id) DO NOTHING`, jobID, pq.Array(trainingIDs), at)
	return wrap("create tensorboard", err)
}

// TensorBoardOf returns the record of the tenant's TensorBoard job, or
// ErrNotFound.
func (s *Store) TensorBoardOf(ctx context.Context, tenantID, jobID int64) (*TensorBoard, error) {
	var tb TensorBoard
	err := s.db.QueryRowContext(ctx, `SELECT t.job_id, t.training_ids, t.last_request_at FROM tensorboards t
		JOIN jobs j ON j.id = t.job_id WHERE j.tenant_id = $1 AND t.job_id = $2`, tenantID, jobID).
		Scan(&tb.JobID, pq.Array(&tb.TrainingIDs), &tb.LastRequestAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("storage: tensorboard: %w", err)
	}
	return &tb, nil
}

// FindTensorBoard returns the user's TensorBoard job for exactly this set
// of trainings (sorted) that is still active and not being stopped, or
// ErrNotFound.
func (s *Store) FindTensorBoard(ctx context.Context, tenantID, userID int64, trainingIDs []int64) (*Job, error) {
	var id int64
	err := s.db.QueryRowContext(ctx, `SELECT j.id FROM jobs j JOIN tensorboards t ON t.job_id = j.id
		WHERE j.tenant_id = $1 AND j.created_by = $2 AND j.kind = 'tensorboard' AND t.training_ids = $3
			AND j.status = ANY ($4) AND NOT j.stop_requested
		ORDER BY j.id DESC LIMIT 1`, tenantID, userID, pq.Array(trainingIDs), activeStatuses).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("storage: find tensorboard: %w", err)
	}
	return s.JobByID(ctx, tenantID, id)
}

// TouchTensorBoard records a request reaching a TensorBoard at at; a
// record less than every old is left as it is (no write).
func (s *Store) TouchTensorBoard(ctx context.Context, jobID int64, at time.Time, every time.Duration) error {
	_, err := s.db.ExecContext(ctx, `UPDATE tensorboards SET last_request_at = $2
		WHERE job_id = $1 AND last_request_at < $2::timestamptz - make_interval(secs => $3)`, jobID, at, every.Seconds())
	return wrap("touch tensorboard", err)
}

// LiveTensorBoard is an active TensorBoard job as the reaper sees it.
type LiveTensorBoard struct {
	JobID, TenantID int64
	// Since is when it was last reached, or started (or created) when
	// later: idle time counts from there.
	Since time.Time
	// Lost reports whether a training of its set has been deleted.
	Lost bool
}

// LiveTensorBoards lists every active TensorBoard job not already being
// stopped, of every tenant (for the poller, which spans tenants). A job
// without its record (a crash between insert and record) counts from its
// creation and its current parents.
func (s *Store) LiveTensorBoards(ctx context.Context) ([]LiveTensorBoard, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT j.id, j.tenant_id,
			GREATEST(COALESCE(t.last_request_at, j.created_at), COALESCE(j.started_at, j.created_at)),
			COALESCE(cardinality(t.training_ids), 0) > (SELECT count(*) FROM job_parents p WHERE p.job_id = j.id)
		FROM jobs j LEFT JOIN tensorboards t ON t.job_id = j.id
		WHERE j.kind = 'tensorboard' AND j.status = ANY ($1) AND NOT j.stop_requested
		ORDER BY j.id`, activeStatuses)
	if err != nil {
		return nil, fmt.Errorf("storage: live tensorboards: %w", err)
	}
	defer rows.Close()
	var out []LiveTensorBoard
	for rows.Next() {
		var l LiveTensorBoard
		if err := rows.Scan(&l.JobID, &l.TenantID, &l.Since, &l.Lost); err != nil {
			return nil, fmt.Errorf("storage: live tensorboards: %w", err)
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// EndedTensorBoards lists TensorBoard jobs of every tenant that ended
// before before, for the poller to clear away.
func (s *Store) EndedTensorBoards(ctx context.Context, before time.Time) ([]Job, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+jobColumns+jobFrom+`
		WHERE j.kind = 'tensorboard' AND NOT (j.status = ANY ($1)) AND j.ended_at < $2 ORDER BY j.id LIMIT 100`, activeStatuses, before)
	if err != nil {
		return nil, fmt.Errorf("storage: ended tensorboards: %w", err)
	}
	return scanJobs(rows)
}
