package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lib/pq"
)

// Training statuses. Submitting is KQI's own; the others mirror the job.
const (
	StatusSubmitting = "submitting"
	StatusQueued     = "queued"
	StatusRunning    = "running"
	StatusCompleted  = "completed"
	StatusFailed     = "failed"
	StatusKilled     = "killed"
	StatusError      = "error"
)

// ActiveStatuses are those the poller watches.
var ActiveStatuses = []string{StatusSubmitting, StatusQueued, StatusRunning}

// EnvPair is one user environment variable, kept in the order given.
type EnvPair struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Training is one training (or inference) run and the Slurm job behind it.
type Training struct {
	ID            int64
	TenantID      int64
	Kind          string
	Name          string
	ParentID      *int64
	DatasetID     int64
	Image         string
	GitRepository string
	GitBranch     string
	GitCommit     string
	Command       string
	CPU           int
	MemoryGB      int
	GPU           int
	Partition     string
	Env           []EnvPair
	SbatchOptions []string
	TimeLimitMin  int
	Memo          string
	Tags          []string
	Favorite      bool
	Status        string
	Reason        string
	ExitCode      *int
	SlurmJobID    string
	Node          string
	JobDir        string
	StopRequested bool
	CreatedBy     string
	CreatedByID   int64
	CreatedAt     time.Time
	QueuedAt      *time.Time
	StartedAt     *time.Time
	EndedAt       *time.Time
}

// Active reports whether the job may still change.
func (t *Training) Active() bool {
	for _, s := range ActiveStatuses {
		if t.Status == s {
			return true
		}
	}
	return false
}

const trainingColumns = `t.id, t.tenant_id, t.kind, t.name, t.parent_id, t.dataset_id, t.image, t.git_repository, t.git_branch, t.git_commit,
	t.command, t.cpu, t.memory_gb, t.gpu, t.partition, t.env, t.sbatch_options, t.time_limit_minutes, t.memo, t.tags, t.favorite,
	t.status, t.reason, t.exit_code, t.slurm_job_id, t.node, t.job_dir, t.stop_requested, COALESCE(u.username, ''), COALESCE(t.created_by, 0),
	t.created_at, t.queued_at, t.started_at, t.ended_at`

const trainingFrom = ` FROM trainings t LEFT JOIN users u ON u.id = t.created_by`

func scanTraining(row interface{ Scan(...any) error }) (*Training, error) {
	var t Training
	var parent sql.NullInt64
	var exit sql.NullInt32
	var env []byte
	var queued, started, ended sql.NullTime
	err := row.Scan(&t.ID, &t.TenantID, &t.Kind, &t.Name, &parent, &t.DatasetID, &t.Image, &t.GitRepository, &t.GitBranch, &t.GitCommit,
		&t.Command, &t.CPU, &t.MemoryGB, &t.GPU, &t.Partition, &env, pq.Array(&t.SbatchOptions), &t.TimeLimitMin, &t.Memo, pq.Array(&t.Tags), &t.Favorite,
		&t.Status, &t.Reason, &exit, &t.SlurmJobID, &t.Node, &t.JobDir, &t.StopRequested, &t.CreatedBy, &t.CreatedByID,
		&t.CreatedAt, &queued, &started, &ended)
	if err != nil {
		return nil, err
	}
	if parent.Valid {
		t.ParentID = &parent.Int64
	}
	if exit.Valid {
		c := int(exit.Int32)
		t.ExitCode = &c
	}
	if err := json.Unmarshal(env, &t.Env); err != nil {
		return nil, fmt.Errorf("storage: training env: %w", err)
	}
	t.QueuedAt, t.StartedAt, t.EndedAt = nullTime(queued), nullTime(started), nullTime(ended)
	return &t, nil
}

func nullTime(n sql.NullTime) *time.Time {
	if !n.Valid {
		return nil
	}
	return &n.Time
}

// NewTraining is a training to record before its job is submitted.
type NewTraining struct {
	TenantID      int64
	Kind          string
	Name          string
	ParentID      *int64
	DatasetID     int64
	Image         string
	GitRepository string
	GitBranch     string
	GitCommit     string
	Command       string
	CPU           int
	MemoryGB      int
	GPU           int
	Partition     string
	Env           []EnvPair
	SbatchOptions []string
	TimeLimitMin  int
	Memo          string
	CreatedBy     int64
}

// ErrUnknownDataset and ErrUnknownParent name references that are not the
// tenant's.
var (
	ErrUnknownDataset = errors.New("storage: unknown dataset")
	ErrUnknownParent  = errors.New("storage: unknown parent")
)

// QuotaError refuses a training that would take the tenant's jobs beyond
// its quota of a resource ("cpu", "memory_gb" or "gpu").
type QuotaError struct {
	Resource string
	InUse    int // by the tenant's active trainings
	Asked    int
	Limit    int
}

func (e *QuotaError) Error() string {
	return fmt.Sprintf("storage: %s quota: %d in use + %d asked > %d", e.Resource, e.InUse, e.Asked, e.Limit)
}

// checkQuota locks the tenant row (so concurrent submits queue up here)
// and compares active use plus the request with each quota.
func checkQuota(ctx context.Context, tx *sql.Tx, n NewTraining) error {
	var qc, qm, qg sql.NullInt32
	err := tx.QueryRowContext(ctx, `SELECT quota_cpu, quota_memory_gb, quota_gpu FROM tenants WHERE id = $1 FOR UPDATE`, n.TenantID).Scan(&qc, &qm, &qg)
	if err != nil {
		return fmt.Errorf("storage: quota: %w", err)
	}
	if !qc.Valid && !qm.Valid && !qg.Valid {
		return nil
	}
	var cpu, mem, gpu int
	err = tx.QueryRowContext(ctx, `SELECT COALESCE(sum(cpu), 0), COALESCE(sum(memory_gb), 0), COALESCE(sum(gpu), 0)
		FROM trainings WHERE tenant_id = $1 AND status = ANY ($2)`, n.TenantID, pq.Array(ActiveStatuses)).Scan(&cpu, &mem, &gpu)
	if err != nil {
		return fmt.Errorf("storage: quota: %w", err)
	}
	for _, q := range []struct {
		name         string
		limit        sql.NullInt32
		inUse, asked int
	}{{"cpu", qc, cpu, n.CPU}, {"memory_gb", qm, mem, n.MemoryGB}, {"gpu", qg, gpu, n.GPU}} {
		if q.limit.Valid && q.inUse+q.asked > int(q.limit.Int32) {
			return &QuotaError{Resource: q.name, InUse: q.inUse, Asked: q.asked, Limit: int(q.limit.Int32)}
		}
	}
	return nil
}

// SetTenantQuota sets a tenant's quotas; nil means no limit.
func (s *Store) SetTenantQuota(ctx context.Context, tenantID int64, cpu, memoryGB, gpu *int) error {
	res, err := s.db.ExecContext(ctx, `UPDATE tenants SET quota_cpu = $2, quota_memory_gb = $3, quota_gpu = $4 WHERE id = $1`,
		tenantID, cpu, memoryGB, gpu)
	return oneRow("set quota", res, err)
}

// CreateTraining checks the tenant's quota and that the dataset and
// parent belong to the tenant, freezes the dataset and inserts the
// training as submitting, all in one transaction.
func (s *Store) CreateTraining(ctx context.Context, n NewTraining) (*Training, error) {
	if n.Kind == "" {
		n.Kind = "training"
	}
	env, err := json.Marshal(nonNilEnv(n.Env))
	if err != nil {
		return nil, err
	}
	var id int64
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if err := checkQuota(ctx, tx, n); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx,
			`UPDATE datasets SET frozen_at = COALESCE(frozen_at, now()) WHERE tenant_id = $1 AND id = $2`, n.TenantID, n.DatasetID)
		if err != nil {
			return fmt.Errorf("storage: freeze dataset: %w", err)
		}
		if k, _ := res.RowsAffected(); k == 0 {
			return ErrUnknownDataset
		}
		if n.ParentID != nil {
			var ok bool
			if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM trainings WHERE tenant_id = $1 AND id = $2)`,
				n.TenantID, *n.ParentID).Scan(&ok); err != nil {
				return err
			}
			if !ok {
				return ErrUnknownParent
			}
		}
		return tx.QueryRowContext(ctx, `
			INSERT INTO trainings (tenant_id, kind, name, parent_id, dataset_id, image, git_repository, git_branch, git_commit,
				command, cpu, memory_gb, gpu, partition, env, sbatch_options, time_limit_minutes, memo, status, created_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, 'submitting', NULLIF($19, 0))
			RETURNING id`,
			n.TenantID, n.Kind, n.Name, n.ParentID, n.DatasetID, n.Image, n.GitRepository, n.GitBranch, n.GitCommit,
			n.Command, n.CPU, n.MemoryGB, n.GPU, n.Partition, env, pq.Array(nonNil(n.SbatchOptions)), n.TimeLimitMin, n.Memo, n.CreatedBy).Scan(&id)
	})
	if err != nil {
		return nil, err
	}
	return s.TrainingByID(ctx, n.TenantID, id)
}

func nonNilEnv(e []EnvPair) []EnvPair {
	if e == nil {
		return []EnvPair{}
	}
	return e
}

// TrainingByID returns a training of the tenant, or ErrNotFound.
func (s *Store) TrainingByID(ctx context.Context, tenantID, id int64) (*Training, error) {
	t, err := scanTraining(s.db.QueryRowContext(ctx, `SELECT `+trainingColumns+trainingFrom+` WHERE t.tenant_id = $1 AND t.id = $2`, tenantID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("storage: training: %w", err)
	}
	return t, nil
}

// TrainingFilter narrows and orders a training list.
type TrainingFilter struct {
	Kind     string
	Name     string
	Status   string
	Tag      string
	Favorite bool
	From, To time.Time
	Sort     string // "id", "name", "status", "created_at"
	Desc     bool
	Page     int
	PerPage  int
}

var trainingSorts = map[string]string{"id": "t.id", "name": "t.name", "status": "t.status", "created_at": "t.created_at"}

// ListTrainings returns one page of the tenant's trainings and the total.
func (s *Store) ListTrainings(ctx context.Context, tenantID int64, f TrainingFilter) ([]Training, int, error) {
	if f.Kind == "" {
		f.Kind = "training"
	}
	where := []string{"t.tenant_id = $1", "t.kind = $2"}
	args := []any{tenantID, f.Kind}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "?", fmt.Sprintf("$%d", len(args))))
	}
	if f.Name != "" {
		add(`t.name ILIKE ?`, "%"+likeEscape(f.Name)+"%")
	}
	if f.Status != "" {
		add(`t.status = ?`, f.Status)
	}
	if f.Tag != "" {
		add(`? = ANY (t.tags)`, f.Tag)
	}
	if f.Favorite {
		where = append(where, "t.favorite")
	}
	if !f.From.IsZero() {
		add(`t.created_at >= ?`, f.From)
	}
	if !f.To.IsZero() {
		add(`t.created_at < ?`, f.To)
	}
	cond := strings.Join(where, " AND ")
	var total int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM trainings t WHERE `+cond, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("storage: count trainings: %w", err)
	}
	order, ok := trainingSorts[f.Sort]
	if !ok {
		order = "t.id"
	}
	dir := "ASC"
	if f.Desc {
		dir = "DESC"
	}
	limit, offset := pageBounds(f.Page, f.PerPage)
	rows, err := s.db.QueryContext(ctx, `SELECT `+trainingColumns+trainingFrom+` WHERE `+cond+
		fmt.Sprintf(` ORDER BY %s %s, t.id %s LIMIT %d OFFSET %d`, order, dir, dir, limit, offset), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("storage: list trainings: %w", err)
	}
	defer rows.Close()
	var out []Training
	for rows.Next() {
		t, err := scanTraining(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("storage: list trainings: %w", err)
		}
		out = append(out, *t)
	}
	return out, total, rows.Err()
}

// ActiveTrainings lists every training of every tenant that is not final,
// for the poller (the one reader that spans tenants).
func (s *Store) ActiveTrainings(ctx context.Context) ([]Training, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+trainingColumns+trainingFrom+` WHERE t.status = ANY ($1) ORDER BY t.id`, pq.Array(ActiveStatuses))
	if err != nil {
		return nil, fmt.Errorf("storage: active trainings: %w", err)
	}
	defer rows.Close()
	var out []Training
	for rows.Next() {
		t, err := scanTraining(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *t)
	}
	return out, rows.Err()
}

// SetTrainingJobDir records where the job's directory is.
func (s *Store) SetTrainingJobDir(ctx context.Context, id int64, dir string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE trainings SET job_dir = $2, updated_at = now() WHERE id = $1`, id, dir)
	return wrap("set job dir", err)
}

// SetTrainingQueued records the Slurm job id of a submitted training. It
// reports false when the row had already left submitting (the poller gave
// up on it), so the caller cancels the job instead of leaving an orphan.
func (s *Store) SetTrainingQueued(ctx context.Context, id int64, jobID string) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE trainings SET status = 'queued', slurm_job_id = $2, queued_at = now(), updated_at = now()
		WHERE id = $1 AND status = 'submitting'`, id, jobID)
	if err != nil {
		return false, wrap("set queued", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// JobState is what the poller learned about a job.
type JobState struct {
	Status    string
	Reason    string
	ExitCode  *int
	Node      string
	StartedAt *time.Time
	EndedAt   *time.Time
}

// UpdateTrainingState records a job's state. A final status is never
// overwritten, so a late poll cannot resurrect an ended training. Slurm's
// times are whole seconds, cut down, while queued_at is the portal's clock:
// a job that starts at once would seem to start before it was queued, so
// the times are kept in order (queued ≤ started ≤ ended).
func (s *Store) UpdateTrainingState(ctx context.Context, id int64, st JobState) error {
	_, err := s.db.ExecContext(ctx, `
		UPDATE trainings SET status = $2, reason = $3, exit_code = $4, node = CASE WHEN $5 = '' THEN node ELSE $5 END,
			started_at = CASE WHEN $6::timestamptz IS NULL THEN started_at ELSE GREATEST($6, queued_at) END,
			ended_at = CASE WHEN $7::timestamptz IS NULL THEN ended_at ELSE GREATEST($7, $6, started_at, queued_at) END,
			updated_at = now()
		WHERE id = $1 AND status = ANY ($8)`,
		id, st.Status, st.Reason, st.ExitCode, st.Node, st.StartedAt, st.EndedAt, pq.Array(ActiveStatuses))
	return wrap("update state", err)
}

// RequestStop marks an active training to be stopped; ErrNotFound for
// another tenant's.
func (s *Store) RequestStop(ctx context.Context, tenantID, id int64) error {
	res, err := s.db.ExecContext(ctx, `UPDATE trainings SET stop_requested = true, updated_at = now() WHERE tenant_id = $1 AND id = $2`, tenantID, id)
	return oneRow("request stop", res, err)
}

// UpdateTrainingNotes changes what the user may edit at any time.
func (s *Store) UpdateTrainingNotes(ctx context.Context, tenantID, id int64, memo string, tags []string, favorite bool) error {
	res, err := s.db.ExecContext(ctx, `UPDATE trainings SET memo = $3, tags = $4, favorite = $5, updated_at = now() WHERE tenant_id = $1 AND id = $2`,
		tenantID, id, memo, pq.Array(nonNil(tags)), favorite)
	return oneRow("update notes", res, err)
}

// ErrActive refuses deleting a training whose job may still run.
var ErrActive = errors.New("storage: training is still active")

// DeleteTraining removes a final training of the tenant; its children keep
// running but lose the link.
func (s *Store) DeleteTraining(ctx context.Context, tenantID, id int64) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM trainings WHERE tenant_id = $1 AND id = $2 AND NOT (status = ANY ($3))`,
		tenantID, id, pq.Array(ActiveStatuses))
	if err != nil {
		return wrap("delete training", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := s.TrainingByID(ctx, tenantID, id); err != nil {
			return err
		}
		return ErrActive
	}
	return nil
}

func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("storage: %s: %w", what, err)
}

// oneRow is the outcome of an UPDATE or DELETE of one row by id: the
// wrapped error, or ErrNotFound when no row matched (another tenant's
// included).
func oneRow(what string, res sql.Result, err error) error {
	if err != nil {
		return wrap(what, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// CreateJobToken stores an API token limited to one training.
func (s *Store) CreateJobToken(ctx context.Context, token string, userID, tenantID, trainingID int64, expires time.Time) error {
	_, err := s.db.ExecContext(ctx,
		`INSERT INTO api_tokens (token_hash, user_id, tenant_id, training_id, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		secretHash(token), userID, tenantID, trainingID, expires)
	return wrap("create job token", err)
}

// FailSubmitting puts a training still submitting, with no Slurm job, in
// error. A row a submit has meanwhile moved on is left alone.
func (s *Store) FailSubmitting(ctx context.Context, id int64, cause string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE trainings SET status = 'error', reason = $2, ended_at = now(), updated_at = now()
		WHERE id = $1 AND status = 'submitting' AND slurm_job_id = ''`, id, cause)
	return wrap("fail submitting", err)
}

// DeleteJobTokens revokes the KQI_TOKEN of a training's job.
func (s *Store) DeleteJobTokens(ctx context.Context, trainingID int64) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM api_tokens WHERE training_id = $1`, trainingID)
	return wrap("delete job tokens", err)
}
