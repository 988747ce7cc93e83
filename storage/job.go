package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"
)

// activeStatuses are the statuses of a job that may still change, as the
// jobs table's CHECK constraint names them (the status type itself is
// slurm.Status; storage only needs to know which rows are live).
var activeStatuses = pq.Array([]string{"submitting", "queued", "running"})

// EnvPair is one user environment variable, kept in the order given.
type EnvPair struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Job is one run of any kind (training, inference, preprocess,
// tensorboard) and the Slurm job behind it.
type Job struct {
	ID            int64
	TenantID      int64
	Kind          string
	Name          string
	ParentIDs     []int64 // in the order given; their outputs are mounted read-only
	DatasetID     int64   // 0 = none
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
	Status        string // a slurm.Status
	Reason        string // why it waits or ended: a cause code (slurm.Cause), "" for none
	ReasonArg     string // the cause's argument, such as Slurm's own reason
	ExitCode      *int
	SlurmJobID    string
	Node          string
	JobDir        string
	StopRequested bool
	OutputValue   *float64 // the number the job left as its result, nil for none
	ArrayID       int64    // a task of a job array: the row whose id the array's comment carries; 0 = a single job
	ArrayIndex    int      // the task's index in its array
	CreatedBy     string
	CreatedByID   int64
	CreatedAt     time.Time
	QueuedAt      *time.Time
	StartedAt     *time.Time
	EndedAt       *time.Time
}

// Active reports whether the job may still change.
func (j *Job) Active() bool {
	switch j.Status {
	case "submitting", "queued", "running":
		return true
	}
	return false
}

// ParentID is the first parent, or nil: a training has at most one.
func (j *Job) ParentID() *int64 {
	if len(j.ParentIDs) == 0 {
		return nil
	}
	return &j.ParentIDs[0]
}

const jobColumns = `j.id, j.tenant_id, j.kind, j.name,
	ARRAY(SELECT p.parent_id FROM job_parents p WHERE p.job_id = j.id ORDER BY p.position),
	COALESCE(j.dataset_id, 0), j.image, j.git_repository, j.git_branch, j.git_commit,
	j.command, j.cpu, j.memory_gb, j.gpu, j.partition, j.env, j.sbatch_options, j.time_limit_minutes, j.memo, j.tags, j.favorite,
	j.status, j.reason, j.reason_arg, j.exit_code, j.slurm_job_id, j.node, j.job_dir, j.stop_requested, j.output_value,
	COALESCE(j.array_id, 0), COALESCE(j.array_index, 0), COALESCE(u.username, ''), COALESCE(j.created_by, 0),
	j.created_at, j.queued_at, j.started_at, j.ended_at`

const jobFrom = ` FROM jobs j LEFT JOIN users u ON u.id = j.created_by`

func scanJob(row interface{ Scan(...any) error }) (*Job, error) {
	var j Job
	var exit sql.NullInt32
	var value sql.NullFloat64
	var env []byte
	var queued, started, ended sql.NullTime
	err := row.Scan(&j.ID, &j.TenantID, &j.Kind, &j.Name, pq.Array(&j.ParentIDs), &j.DatasetID, &j.Image, &j.GitRepository, &j.GitBranch, &j.GitCommit,
		&j.Command, &j.CPU, &j.MemoryGB, &j.GPU, &j.Partition, &env, pq.Array(&j.SbatchOptions), &j.TimeLimitMin, &j.Memo, pq.Array(&j.Tags), &j.Favorite,
		&j.Status, &j.Reason, &j.ReasonArg, &exit, &j.SlurmJobID, &j.Node, &j.JobDir, &j.StopRequested, &value,
		&j.ArrayID, &j.ArrayIndex, &j.CreatedBy, &j.CreatedByID,
		&j.CreatedAt, &queued, &started, &ended)
	if err != nil {
		return nil, err
	}
	if exit.Valid {
		c := int(exit.Int32)
		j.ExitCode = &c
	}
	if value.Valid {
		j.OutputValue = &value.Float64
	}
	if err := json.Unmarshal(env, &j.Env); err != nil {
		return nil, fmt.Errorf("storage: job env: %w", err)
	}
	j.QueuedAt, j.StartedAt, j.EndedAt = nullTime(queued), nullTime(started), nullTime(ended)
	return &j, nil
}

func nullTime(n sql.NullTime) *time.Time {
	if !n.Valid {
		return nil
	}
	return &n.Time
}

// NewJob is a job to record before it is submitted.
type NewJob struct {
	// ID is one NextJobID gave (0 = the next): a submit names the job's
	// directory before the row is recorded.
	ID            int64
	TenantID      int64
	Kind          string
	Name          string
	ParentIDs     []int64
	DatasetID     int64 // 0 = none
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
	// JobDirPrefix followed by the new id is the job's directory ("" =
	// none yet): recorded with the row, not by a commit of its own.
	JobDirPrefix string
	// Token, when set, is stored as the job's KQI_TOKEN (CreatedBy's,
	// until TokenExpires) in the same statement as the row.
	Token        string
	TokenExpires time.Time
}

// ErrUnknownDataset and ErrUnknownParent name references that are not the
// tenant's.
var (
	ErrUnknownDataset = errors.New("storage: unknown dataset")
	ErrUnknownParent  = errors.New("storage: unknown parent")
)

// QuotaError refuses a job that would take the tenant's jobs beyond its
// quota of a resource ("cpu", "memory_gb" or "gpu").
type QuotaError struct {
	Resource string
	InUse    int // by the tenant's active jobs
	Asked    int
	Limit    int
}

func (e *QuotaError) Error() string {
	return fmt.Sprintf("storage: %s quota: %d in use + %d asked > %d", e.Resource, e.InUse, e.Asked, e.Limit)
}

// checkQuota compares active use plus the request with each quota of a
// tenant that has one, under a lock of the tenant row (so concurrent
// submits queue up here). A tenant without quotas is not locked: its
// submits do not wait on each other.
func checkQuota(ctx context.Context, tx *sql.Tx, n NewJob) error {
	var qc, qm, qg sql.NullInt32
	err := tx.QueryRowContext(ctx, `SELECT quota_cpu, quota_memory_gb, quota_gpu FROM tenants WHERE id = $1`, n.TenantID).Scan(&qc, &qm, &qg)
	if err != nil {
		return fmt.Errorf("storage: quota: %w", err)
	}
	if !qc.Valid && !qm.Valid && !qg.Valid {
		return nil
	}
	// Read again under the lock: a quota set meanwhile counts.
	err = tx.QueryRowContext(ctx, `SELECT quota_cpu, quota_memory_gb, quota_gpu FROM tenants WHERE id = $1 FOR UPDATE`, n.TenantID).Scan(&qc, &qm, &qg)
	if err != nil {
		return fmt.Errorf("storage: quota: %w", err)
	}
	u, err := usage(ctx, tx, n.TenantID)
	if err != nil {
		return err
	}
	for _, q := range []struct {
		name         string
		limit        sql.NullInt32
		inUse, asked int
	}{{"cpu", qc, u.CPU, n.CPU}, {"memory_gb", qm, u.MemoryGB, n.MemoryGB}, {"gpu", qg, u.GPU, n.GPU}} {
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

// CreateJob checks the tenant's quota and that the dataset (if any) and
// parents belong to the tenant, freezes the dataset and inserts the job as
// submitting, all at once. The common job (a tenant without quotas, no
// parents) is one statement, so one round trip and its commit; any other,
// or one that statement did not insert, takes the transaction that says
// why.
func (s *Store) CreateJob(ctx context.Context, n NewJob) (*Job, error) {
	env, err := jsonEnv(n.Env)
	if err != nil {
		return nil, err
	}
	if len(n.ParentIDs) == 0 {
		j, err := insertJob(ctx, s.db, n, env, fastCreate, "(SELECT free FROM q) AND (SELECT ok FROM d)")
		if !errors.Is(err, sql.ErrNoRows) {
			return j, wrap("create job", err)
		}
	}
	var j *Job
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if err := checkQuota(ctx, tx, n); err != nil {
			return err
		}
		if n.DatasetID != 0 {
			var ok bool
			err := tx.QueryRowContext(ctx, `WITH `+freezeDataset("true")+` SELECT ok FROM d`, n.TenantID, n.DatasetID).Scan(&ok)
			if err != nil {
				return fmt.Errorf("storage: freeze dataset: %w", err)
			}
			if !ok {
				return ErrUnknownDataset
			}
		}
		if len(n.ParentIDs) > 0 {
			// The parents are locked against deletion until the links exist
			// (DeleteJob locks the row it deletes).
			rows, err := tx.QueryContext(ctx, `SELECT id FROM jobs WHERE tenant_id = $1 AND id = ANY ($2) FOR KEY SHARE`,
				n.TenantID, pq.Array(n.ParentIDs))
			if err != nil {
				return fmt.Errorf("storage: job parents: %w", err)
			}
			mine := 0
			for rows.Next() {
				mine++
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("storage: job parents: %w", err)
			}
			if mine != len(n.ParentIDs) {
				return ErrUnknownParent // another tenant's, missing, or named twice
			}
		}
		var err error
		j, err = insertJob(ctx, tx, n, env, "", "true")
		if err != nil {
			return fmt.Errorf("storage: create job: %w", err)
		}
		if len(n.ParentIDs) > 0 {
			if _, err := tx.ExecContext(ctx, `INSERT INTO job_parents (job_id, parent_id, position)
				SELECT $1, p.id, p.n - 1 FROM unnest($2::bigint[]) WITH ORDINALITY p (id, n)`, j.ID, pq.Array(n.ParentIDs)); err != nil {
				return fmt.Errorf("storage: job parents: %w", err)
			}
			j.ParentIDs = slices.Clone(n.ParentIDs)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return j, nil
}

// freezeDataset is d(ok): whether dataset $2 (0 = none) is the tenant's
// ($1), freezing it if cond holds. Only the first job's freeze writes the
// row: later submits of the same dataset take a key-share lock that keeps
// it from being deleted, and do not wait on each other.
func freezeDataset(cond string) string {
	return `
	f AS (UPDATE datasets SET frozen_at = now() WHERE tenant_id = $1 AND id = $2 AND frozen_at IS NULL AND ` + cond + ` RETURNING id),
	d AS (SELECT $2::bigint = 0 OR EXISTS (SELECT FROM f)
		OR EXISTS (SELECT FROM datasets WHERE tenant_id = $1 AND id = $2 FOR KEY SHARE) AS ok)`
}

// fastCreate checks what the transaction would, for a job without
// parents: q(free) says the tenant has no quota (a quota needs the
// transaction's lock and second read), d(ok) that the dataset is the
// tenant's. The dataset is frozen, and the job inserted, only when both
// hold. A quota is read without a lock, as checkQuota's first read does.
var fastCreate = `
	q AS (SELECT quota_cpu IS NULL AND quota_memory_gb IS NULL AND quota_gpu IS NULL AS free FROM tenants WHERE id = $1),` +
	freezeDataset("(SELECT free FROM q)") + `,`

// insertJob inserts the row as submitting, with its directory and token
// when given, and returns it as JobByID would (parents aside: they are
// linked after). The insert runs only if cond holds, which may refer to
// the CTEs in with (each ending in a comma); sql.ErrNoRows when it did not.
func insertJob(ctx context.Context, db rowQuerier, n NewJob, env, with, cond string) (*Job, error) {
	var token []byte
	if n.Token != "" {
		token = secretHash(n.Token)
	}
	return scanJob(db.QueryRowContext(ctx, `
		WITH `+with+`
		j AS (
			INSERT INTO jobs (id, tenant_id, kind, name, dataset_id, image, git_repository, git_branch, git_commit,
				command, cpu, memory_gb, gpu, partition, env, sbatch_options, time_limit_minutes, memo, status, created_by, job_dir)
			SELECT n.id, $1, $3, $4, NULLIF($2::bigint, 0), $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, 'submitting', NULLIF($18, 0),
				CASE WHEN $19 = '' THEN '' ELSE $19 || n.id END
			FROM (SELECT CASE WHEN $22::bigint = 0 THEN nextval('jobs_id_seq') ELSE $22::bigint END AS id) n
			WHERE `+cond+`
			RETURNING *),
		t AS (
			INSERT INTO api_tokens (token_hash, user_id, tenant_id, job_id, expires_at)
			SELECT $20, j.created_by, j.tenant_id, j.id, $21 FROM j WHERE $20::bytea IS NOT NULL)
		SELECT `+jobColumns+` FROM j LEFT JOIN users u ON u.id = j.created_by`,
		n.TenantID, n.DatasetID, n.Kind, n.Name, n.Image, n.GitRepository, n.GitBranch, n.GitCommit,
		n.Command, n.CPU, n.MemoryGB, n.GPU, n.Partition, env, pq.Array(nonNil(n.SbatchOptions)), n.TimeLimitMin, n.Memo, n.CreatedBy,
		n.JobDirPrefix, token, n.TokenExpires, n.ID))
}

func nonNilEnv(e []EnvPair) []EnvPair {
	if e == nil {
		return []EnvPair{}
	}
	return e
}

// NextJobID takes a job id from the sequence, for NewJob.ID.
func (s *Store) NextJobID(ctx context.Context) (int64, error) {
	var id int64
	if err := s.db.QueryRowContext(ctx, `SELECT nextval('jobs_id_seq')`).Scan(&id); err != nil {
		return 0, fmt.Errorf("storage: next job id: %w", err)
	}
	return id, nil
}

// JobByID returns a job of the tenant, of any kind, or ErrNotFound.
func (s *Store) JobByID(ctx context.Context, tenantID, id int64) (*Job, error) {
	j, err := scanJob(s.db.QueryRowContext(ctx, `SELECT `+jobColumns+jobFrom+` WHERE j.tenant_id = $1 AND j.id = $2`, tenantID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("storage: job: %w", err)
	}
	return j, nil
}

// JobScript is the batch script kept with a job of the tenant (QueueJob);
// ErrNotFound when there is no such job or it has none kept.
func (s *Store) JobScript(ctx context.Context, tenantID, id int64) (string, error) {
	var script sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT script FROM jobs WHERE tenant_id = $1 AND id = $2`, tenantID, id).Scan(&script)
	switch {
	case errors.Is(err, sql.ErrNoRows), err == nil && !script.Valid:
		return "", ErrNotFound
	case err != nil:
		return "", fmt.Errorf("storage: job script: %w", err)
	}
	return script.String, nil
}

// JobFilter narrows and orders a list of one kind of job.
type JobFilter struct {
	Kind     string // required
	Name     string
	Status   string
	Tag      string
	Favorite bool
	ParentID int64 // 0 = any; else only jobs made from that job
	From, To time.Time
	Sort     string // "id", "name", "status", "created_at", "value" (jobs without one last)
	Desc     bool
	Page     int
	PerPage  int
	// After and Before are cursors (Page.Next, Page.Prev) of the same
	// sort: the page starts past them, and Page is ignored.
	After, Before string
}

var jobSorts = map[string]sortCol{"id": {"j.id", byID}, "name": {"j.name", byText}, "status": {"j.status", byText},
	"created_at": {"j.created_at", byTime}, "value": {"j.output_value", byFloat}}

// jobKey is a job's place in the sort: its sort value as a cursor keeps it.
func jobKey(sort string) func(*Job) (string, int64) {
	return func(j *Job) (string, int64) {
		switch sort {
		case "name":
			return j.Name, j.ID
		case "status":
			return j.Status, j.ID
		case "created_at":
			return timeKey(j.CreatedAt), j.ID
		case "value":
			if j.OutputValue == nil {
				return "", j.ID
			}
			return strconv.FormatFloat(*j.OutputValue, 'g', -1, 64), j.ID
		}
		return "", j.ID
	}
}

// ListJobs returns one page of the tenant's jobs of one kind and the total.
func (s *Store) ListJobs(ctx context.Context, tenantID int64, f JobFilter) ([]Job, int, error) {
	p, err := s.JobsPage(ctx, tenantID, f)
	return p.Items, p.Total, err
}

// JobsPage returns one page of the tenant's jobs of one kind, the total
// and the cursors either side; ErrBadCursor for a cursor it did not give.
func (s *Store) JobsPage(ctx context.Context, tenantID int64, f JobFilter) (Page[Job], error) {
	where := []string{"j.tenant_id = $1", "j.kind = $2"}
	args := []any{tenantID, f.Kind}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	add := func(cond string, v any) { where = append(where, strings.ReplaceAll(cond, "?", arg(v))) }
	if f.Name != "" {
		add(`j.name ILIKE ?`, "%"+likeEscape(f.Name)+"%")
	}
	if f.Status != "" {
		add(`j.status = ?`, f.Status)
	}
	if f.Tag != "" {
		add(`j.tags @> ARRAY[?]::text[]`, f.Tag) // the GIN index serves @>, not = ANY
	}
	if f.Favorite {
		where = append(where, "j.favorite")
	}
	if f.ParentID != 0 {
		add(`EXISTS (SELECT 1 FROM job_parents p WHERE p.job_id = j.id AND p.parent_id = ?)`, f.ParentID)
	}
	if !f.From.IsZero() {
		add(`j.created_at >= ?`, f.From)
	}
	if !f.To.IsZero() {
		add(`j.created_at < ?`, f.To)
	}
	sort := f.Sort
	if _, ok := jobSorts[sort]; !ok {
		sort = "id"
	}
	k, err := newKeyset(sort, jobSorts[sort], f.Desc, f.Page, f.PerPage, f.After, f.Before)
	if err != nil {
		return Page[Job]{}, err
	}
	l := listSQL{table: "jobs", alias: "j", columns: jobColumns, joins: " LEFT JOIN users u ON u.id = j.created_by",
		cond: strings.Join(where, " AND "), args: args, narrow: f.Name != "" || f.Tag != ""}
	out, total, err := listPage(ctx, s, l, k, deref(scanJob))
	if err != nil {
		return Page[Job]{}, fmt.Errorf("storage: list jobs: %w", err)
	}
	return pageOf(k, out, total, jobKey(sort)), nil
}

func scanJobs(rows *sql.Rows) ([]Job, error) {
	defer rows.Close()
	var out []Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, fmt.Errorf("storage: jobs: %w", err)
		}
		out = append(out, *j)
	}
	return out, rows.Err()
}

// ActiveJobs lists every job of every tenant and kind that is not final
// (the poller's view, as EachActiveJob).
func (s *Store) ActiveJobs(ctx context.Context) ([]Job, error) {
	var out []Job
	err := s.EachActiveJob(ctx, func(j *Job) error {
		out = append(out, *j)
		return nil
	})
	return out, err
}

// EachActiveJob calls fn with every job of every tenant and kind that is
// not final, by id, one at a time as the rows arrive: the poller (the one
// reader that spans tenants) holds no list of thousands of rows. Only what
// the poller reads of a live job is filled in (ids, kind, state, Slurm
// job, node, directory, image, memory, array task, stop request, creation
// and start times); the rest is zero: JobByID reads a job that ended. fn
// may use the store meanwhile; its error stops the walk.
func (s *Store) EachActiveJob(ctx context.Context, fn func(*Job) error) error {
	rows, err := s.db.QueryContext(ctx, `
		SELECT id, tenant_id, kind, status, reason, reason_arg, slurm_job_id, node, job_dir, image, memory_gb,
			COALESCE(array_id, 0), COALESCE(array_index, 0), stop_requested, created_at, started_at
		FROM jobs WHERE status = ANY ($1) ORDER BY id`, activeStatuses)
	if err != nil {
		return fmt.Errorf("storage: active jobs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var j Job
		var started sql.NullTime
		if err := rows.Scan(&j.ID, &j.TenantID, &j.Kind, &j.Status, &j.Reason, &j.ReasonArg, &j.SlurmJobID, &j.Node, &j.JobDir, &j.Image, &j.MemoryGB,
			&j.ArrayID, &j.ArrayIndex, &j.StopRequested, &j.CreatedAt, &started); err != nil {
			return fmt.Errorf("storage: active jobs: %w", err)
		}
		j.StartedAt = nullTime(started)
		if err := fn(&j); err != nil {
			return err
		}
	}
	return rows.Err()
}

// ActiveRef is what the poller's Slurm query needs of a live job.
type ActiveRef struct {
	ID         int64
	Kind       string
	SlurmJobID string // "" while submitting
	ArrayID    int64  // 0 = a single job
}

// ActiveRefs lists every job that is not final as an ActiveRef, by id.
func (s *Store) ActiveRefs(ctx context.Context) ([]ActiveRef, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, kind, slurm_job_id, COALESCE(array_id, 0) FROM jobs WHERE status = ANY ($1) ORDER BY id`, activeStatuses)
	if err != nil {
		return nil, fmt.Errorf("storage: active jobs: %w", err)
	}
	defer rows.Close()
	var out []ActiveRef
	for rows.Next() {
		var r ActiveRef
		if err := rows.Scan(&r.ID, &r.Kind, &r.SlurmJobID, &r.ArrayID); err != nil {
			return nil, fmt.Errorf("storage: active jobs: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// SetJobDir records where the job's directory is.
func (s *Store) SetJobDir(ctx context.Context, id int64, dir string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE jobs SET job_dir = $2, updated_at = now() WHERE id = $1`, id, dir)
	return wrap("set job dir", err)
}

// SetJobQueued records the Slurm job id of a submitted job. It reports
// false when the row had already left submitting (the poller gave up on
// it), so the caller cancels the job instead of leaving an orphan.
func (s *Store) SetJobQueued(ctx context.Context, id int64, slurmJobID string) (bool, error) {
	j, err := s.QueueJob(ctx, id, slurmJobID, "")
	return j != nil, err
}

// QueueJob is SetJobQueued returning the row as changed, in the same
// statement; nil when the row had already left submitting. A script that
// is not "" is kept with the row, for JobScript.
//
// Its commit does not wait for the disk (synchronous_commit off, for this
// statement's transaction only): a crash may lose it, and the row is then
// submitting again, which the reconcile settles from the job's comment as
// it does for any submit a crash cut short. A submit waited 0.6 ms on it.
func (s *Store) QueueJob(ctx context.Context, id int64, slurmJobID, script string) (*Job, error) {
	j, err := scanJob(s.db.QueryRowContext(ctx, `
		WITH j AS (
			UPDATE jobs SET status = 'queued', slurm_job_id = $2, queued_at = now(), updated_at = now(), script = NULLIF($3, '')
			FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async
			WHERE id = $1 AND status = 'submitting'
			RETURNING jobs.*)
		SELECT `+jobColumns+` FROM j LEFT JOIN users u ON u.id = j.created_by`, id, slurmJobID, script))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, wrap("set queued", err)
	}
	return j, nil
}

// JobState is what the poller learned about a job.
type JobState struct {
	Status    string
	Reason    string // cause code
	ReasonArg string
	ExitCode  *int
	Node      string
	StartedAt *time.Time
	EndedAt   *time.Time
}

// UpdateJobState records a job's state. A final status is never
// overwritten, so a late poll cannot resurrect an ended job. Slurm's times
// are whole seconds, cut down, while queued_at is the portal's clock: a job
// that starts at once would seem to start before it was queued, so the
// times are kept in order (queued ≤ started ≤ ended).
//
// The same statement puts the notifications of a job's ending in the
// outbox (notification.go), so an ending is told once and never lost.
func (s *Store) UpdateJobState(ctx context.Context, id int64, st JobState) error {
	_, err := s.db.ExecContext(ctx, `
		WITH u AS (
			UPDATE jobs SET status = $2, reason = $3, reason_arg = $4, exit_code = $5, node = CASE WHEN $6 = '' THEN node ELSE $6 END,
				started_at = CASE WHEN $7::timestamptz IS NULL THEN started_at ELSE GREATEST($7, queued_at) END,
				ended_at = CASE WHEN $8::timestamptz IS NULL THEN ended_at ELSE GREATEST($8, $7, started_at, queued_at) END,
				updated_at = now()
			WHERE id = $1 AND status = ANY ($9)
			RETURNING id, kind, status, created_by, array_id)`+enqueueEnding,
		id, st.Status, st.Reason, st.ReasonArg, st.ExitCode, st.Node, st.StartedAt, st.EndedAt, activeStatuses)
	return wrap("update state", err)
}

// RequestStop marks a job to be stopped; ErrNotFound for another tenant's.
func (s *Store) RequestStop(ctx context.Context, tenantID, id int64) error {
	res, err := s.db.ExecContext(ctx, `UPDATE jobs SET stop_requested = true, updated_at = now() WHERE tenant_id = $1 AND id = $2`, tenantID, id)
	return oneRow("request stop", res, err)
}

// UpdateJobNotes changes what the user may edit at any time.
func (s *Store) UpdateJobNotes(ctx context.Context, tenantID, id int64, memo string, tags []string, favorite bool) error {
	res, err := s.db.ExecContext(ctx, `UPDATE jobs SET memo = $3, tags = $4, favorite = $5, updated_at = now() WHERE tenant_id = $1 AND id = $2`,
		tenantID, id, memo, pq.Array(nonNil(tags)), favorite)
	return oneRow("update notes", res, err)
}

// ErrActive refuses deleting a job that may still run.
var ErrActive = errors.New("storage: job is still active")

// InUseError refuses deleting a job that jobs of a kind keeping its
// lineage were made from, while they exist.
type InUseError struct {
	By []int64 // those jobs, by id
}

func (e *InUseError) Error() string {
	return fmt.Sprintf("storage: job is the parent of %v", e.By)
}

// DeleteJob removes a final job of the tenant. Children of the kinds in
// keptBy refuse it (an *InUseError); others keep running but lose the link.
func (s *Store) DeleteJob(ctx context.Context, tenantID, id int64, keptBy ...string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var status string
		err := tx.QueryRowContext(ctx, `SELECT status FROM jobs WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, tenantID, id).Scan(&status)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return wrap("delete job", err)
		}
		if (&Job{Status: status}).Active() {
			return ErrActive
		}
		if len(keptBy) > 0 {
			rows, err := tx.QueryContext(ctx, `SELECT c.id FROM job_parents p JOIN jobs c ON c.id = p.job_id
				WHERE p.parent_id = $1 AND c.kind = ANY ($2) ORDER BY c.id`, id, pq.Array(keptBy))
			if err != nil {
				return wrap("delete job", err)
			}
			var by []int64
			for rows.Next() {
				var c int64
				if err := rows.Scan(&c); err != nil {
					rows.Close()
					return wrap("delete job", err)
				}
				by = append(by, c)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return wrap("delete job", err)
			}
			if len(by) > 0 {
				return &InUseError{By: by}
			}
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM jobs WHERE tenant_id = $1 AND id = $2`, tenantID, id)
		return wrap("delete job", err)
	})
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

// CreateJobToken stores an API token limited to one job.
func (s *Store) CreateJobToken(ctx context.Context, token string, userID, tenantID, jobID int64, expires time.Time) error {
	_, err := s.db.ExecContext(ctx,
		`INSERT INTO api_tokens (token_hash, user_id, tenant_id, job_id, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		secretHash(token), userID, tenantID, jobID, expires)
	return wrap("create job token", err)
}

// FailSubmitting puts a job still submitting, with no Slurm job, in error
// with a cause. A row a submit has meanwhile moved on is left alone.
func (s *Store) FailSubmitting(ctx context.Context, id int64, cause, arg string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE jobs SET status = 'error', reason = $2, reason_arg = $3, ended_at = now(), updated_at = now()
		WHERE id = $1 AND status = 'submitting' AND slurm_job_id = ''`, id, cause, arg)
	return wrap("fail submitting", err)
}

// DeleteJobTokens revokes the KQI_TOKEN of a job.
func (s *Store) DeleteJobTokens(ctx context.Context, jobID int64) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM api_tokens WHERE job_id = $1`, jobID)
	return wrap("delete job tokens", err)
}
