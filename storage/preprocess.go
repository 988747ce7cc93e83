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

// Preprocess is a registered preprocessing recipe (SPEC §3).
type Preprocess struct {
	ID        int64
	TenantID  int64
	Fields    PreprocessFields
	Used      bool // it has history: its command, image and model are locked
	CreatedBy string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// PreprocessFields is what a user writes of a preprocess.
type PreprocessFields struct {
	Name          string
	Command       string
	Memo          string
	Image         string
	GitRepository string
	GitBranch     string
	GitCommit     string
	CPU           int
	MemoryGB      int
	GPU           int
}

// Locked reports whether b changes what a preprocess that has run keeps:
// its command, image and model.
func (a PreprocessFields) Locked(b PreprocessFields) bool {
	return a.Command != b.Command || a.Image != b.Image ||
		a.GitRepository != b.GitRepository || a.GitBranch != b.GitBranch || a.GitCommit != b.GitCommit
}

// ErrPreprocessLocked refuses changing the command, image or model of a
// preprocess that has run; ErrPreprocessUsed refuses deleting one.
var (
	ErrPreprocessLocked = errors.New("storage: the preprocess has run: command, image and model are locked")
	ErrPreprocessUsed   = errors.New("storage: the preprocess has history")
)

// Used is from the count a trigger keeps (migration 0014).
const preprocessColumns = `p.id, p.tenant_id, p.name, p.command, p.memo, p.image, p.git_repository, p.git_branch, p.git_commit,
	p.cpu, p.memory_gb, p.gpu, p.history_count > 0,
	COALESCE(u.username, ''), p.created_at, p.updated_at`

const preprocessFrom = ` FROM preprocesses p LEFT JOIN users u ON u.id = p.created_by`

func scanPreprocess(row interface{ Scan(...any) error }) (*Preprocess, error) {
	var p Preprocess
	f := &p.Fields
	err := row.Scan(&p.ID, &p.TenantID, &f.Name, &f.Command, &f.Memo, &f.Image, &f.GitRepository, &f.GitBranch, &f.GitCommit,
		&f.CPU, &f.MemoryGB, &f.GPU, &p.Used, &p.CreatedBy, &p.CreatedAt, &p.UpdatedAt)
	return &p, err
}

// CreatePreprocess records a preprocess of the tenant.
func (s *Store) CreatePreprocess(ctx context.Context, tenantID, userID int64, f PreprocessFields) (*Preprocess, error) {
	var id int64
	err := s.db.QueryRowContext(ctx, `INSERT INTO preprocesses (tenant_id, name, command, memo, image, git_repository, git_branch, git_commit,
			cpu, memory_gb, gpu, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULLIF($12, 0)) RETURNING id`,
		tenantID, f.Name, f.Command, f.Memo, f.Image, f.GitRepository, f.GitBranch, f.GitCommit, f.CPU, f.MemoryGB, f.GPU, userID).Scan(&id)
	if err != nil {
		return nil, wrap("create preprocess", err)
	}
	return s.PreprocessByID(ctx, tenantID, id)
}

// PreprocessByID returns a preprocess of the tenant or ErrNotFound.
func (s *Store) PreprocessByID(ctx context.Context, tenantID, id int64) (*Preprocess, error) {
	p, err := scanPreprocess(s.db.QueryRowContext(ctx, `SELECT `+preprocessColumns+preprocessFrom+` WHERE p.tenant_id = $1 AND p.id = $2`, tenantID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, wrap("preprocess", err)
	}
	return p, nil
}

// PreprocessFilter narrows and orders a list of preprocesses.
type PreprocessFilter struct {
	Name    string
	Sort    string // "id", "name", "created_at"
	Desc    bool
	Page    int
	PerPage int
	// After and Before are cursors (Page.Next, Page.Prev) of the same
	// sort: the page starts past them, and Page is ignored.
	After, Before string
}

var preprocessSorts = map[string]sortCol{"id": {"p.id", byID}, "name": {"p.name", byText}, "created_at": {"p.created_at", byTime}}

func preprocessKey(sort string) func(*Preprocess) (string, int64) {
	return func(p *Preprocess) (string, int64) {
		switch sort {
		case "name":
			return p.Fields.Name, p.ID
		case "created_at":
			return timeKey(p.CreatedAt), p.ID
		}
		return "", p.ID
	}
}

// ListPreprocesses returns one page of the tenant's preprocesses and the total.
func (s *Store) ListPreprocesses(ctx context.Context, tenantID int64, f PreprocessFilter) ([]Preprocess, int, error) {
	p, err := s.PreprocessesPage(ctx, tenantID, f)
	return p.Items, p.Total, err
}

// PreprocessesPage returns one page of the tenant's preprocesses, the
// total and the cursors either side; ErrBadCursor for a cursor it did not
// give.
func (s *Store) PreprocessesPage(ctx context.Context, tenantID int64, f PreprocessFilter) (Page[Preprocess], error) {
	cond, args := "p.tenant_id = $1", []any{tenantID}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if f.Name != "" {
		cond += " AND p.name ILIKE " + arg("%"+likeEscape(f.Name)+"%")
	}
	sort := f.Sort
	if _, ok := preprocessSorts[sort]; !ok {
		sort = "id"
	}
	k, err := newKeyset(sort, preprocessSorts[sort], f.Desc, f.Page, f.PerPage, f.After, f.Before)
	if err != nil {
		return Page[Preprocess]{}, err
	}
	l := listSQL{table: "preprocesses", alias: "p", columns: preprocessColumns, joins: " LEFT JOIN users u ON u.id = p.created_by",
		cond: cond, args: args, narrow: f.Name != ""}
	out, total, err := listPage(ctx, s, l, k, deref(scanPreprocess))
	if err != nil {
		return Page[Preprocess]{}, wrap("list preprocesses", err)
	}
	return pageOf(k, out, total, preprocessKey(sort)), nil
}

// UpdatePreprocess changes a preprocess; ErrPreprocessLocked when it has
// run and f changes its command, image or model.
func (s *Store) UpdatePreprocess(ctx context.Context, tenantID, id int64, f PreprocessFields) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		p, err := scanPreprocess(tx.QueryRowContext(ctx, `SELECT `+preprocessColumns+preprocessFrom+
			` WHERE p.tenant_id = $1 AND p.id = $2 FOR UPDATE OF p`, tenantID, id))
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return wrap("update preprocess", err)
		}
		if p.Used && p.Fields.Locked(f) {
			return ErrPreprocessLocked
		}
		_, err = tx.ExecContext(ctx, `UPDATE preprocesses SET name = $2, command = $3, memo = $4, image = $5, git_repository = $6,
				git_branch = $7, git_commit = $8, cpu = $9, memory_gb = $10, gpu = $11, updated_at = now() WHERE id = $1`,
			id, f.Name, f.Command, f.Memo, f.Image, f.GitRepository, f.GitBranch, f.GitCommit, f.CPU, f.MemoryGB, f.GPU)
		return wrap("update preprocess", err)
	})
}

// DeletePreprocess deletes a preprocess without history; ErrPreprocessUsed
// while it has some.
func (s *Store) DeletePreprocess(ctx context.Context, tenantID, id int64) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM preprocesses p WHERE p.tenant_id = $1 AND p.id = $2
		AND p.history_count = 0`, tenantID, id)
	if err != nil {
		return wrap("delete preprocess", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	if _, err := s.PreprocessByID(ctx, tenantID, id); err != nil {
		return err
	}
	return ErrPreprocessUsed
}

// History is one (preprocess, datum) entry: an in-cluster run (Job is
// set) or an entry of the external workflow.
type History struct {
	ID             int64
	TenantID       int64
	PreprocessID   int64
	PreprocessName string
	DataID         int64
	DataName       string
	Job            *Job   // nil for an external entry
	External       string // "open" or "completed" for an external entry
	Dir            string // an external entry's uploads
	Registered     bool   // its outputs are data
	Outputs        []Data // the data it produced (id and name)
	CreatedBy      string
	CreatedByID    int64
	CreatedAt      time.Time
}

// Status is the entry's status: its job's, or the external entry's.
func (h *History) Status() string {
	if h.Job != nil {
		return h.Job.Status
	}
	return h.External
}

// HistoryExistsError refuses a second entry for a (preprocess, datum).
type HistoryExistsError struct{ DataID int64 }

func (e *HistoryExistsError) Error() string {
	return fmt.Sprintf("storage: datum %d already has a history entry for this preprocess", e.DataID)
}

const historyColumns = `h.id, h.tenant_id, h.preprocess_id, pp.name, h.data_id, d.name, COALESCE(h.job_id, 0), COALESCE(h.external_status, ''),
	h.dir, h.registered_at IS NOT NULL, COALESCE(u.username, ''), COALESCE(h.created_by, 0), h.created_at,
	ARRAY(SELECT o.data_id FROM preprocess_outputs o WHERE o.history_id = h.id ORDER BY o.data_id),
	ARRAY(SELECT od.name FROM preprocess_outputs o JOIN data od ON od.id = o.data_id WHERE o.history_id = h.id ORDER BY o.data_id)`

const historyFrom = ` FROM preprocess_histories h JOIN data d ON d.id = h.data_id JOIN preprocesses pp ON pp.id = h.preprocess_id
	LEFT JOIN users u ON u.id = h.created_by`

func scanHistory(row interface{ Scan(...any) error }) (*History, int64, error) {
	var h History
	var jobID int64
	var ids []int64
	var names []string
	err := row.Scan(&h.ID, &h.TenantID, &h.PreprocessID, &h.PreprocessName, &h.DataID, &h.DataName, &jobID, &h.External,
		&h.Dir, &h.Registered, &h.CreatedBy, &h.CreatedByID, &h.CreatedAt, pq.Array(&ids), pq.Array(&names))
	for i := range ids {
		if i < len(names) {
			h.Outputs = append(h.Outputs, Data{ID: ids[i], Name: names[i], TenantID: h.TenantID})
		}
	}
	return &h, jobID, err
}

// withJobs fills the jobs of in-cluster entries.
func (s *Store) withJobs(ctx context.Context, hs []*History, jobIDs []int64) error {
	var want []int64
	at := map[int64]*History{}
	for i, id := range jobIDs {
		if id != 0 {
			want = append(want, id)
			at[id] = hs[i]
		}
	}
	if len(want) == 0 {
		return nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+jobColumns+jobFrom+` WHERE j.id = ANY ($1)`, pq.Array(want))
	if err != nil {
		return wrap("history jobs", err)
	}
	jobs, err := scanJobs(rows)
	if err != nil {
		return err
	}
	for i := range jobs {
		at[jobs[i].ID].Job = &jobs[i]
	}
	return nil
}

func (s *Store) oneHistory(ctx context.Context, where string, args ...any) (*History, error) {
	h, jobID, err := scanHistory(s.db.QueryRowContext(ctx, `SELECT `+historyColumns+historyFrom+` WHERE `+where, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, wrap("history", err)
	}
	if err := s.withJobs(ctx, []*History{h}, []int64{jobID}); err != nil {
		return nil, err
	}
	return h, nil
}

// HistoryOf returns the tenant's entry of a preprocess for a datum, or
// ErrNotFound.
func (s *Store) HistoryOf(ctx context.Context, tenantID, preprocessID, dataID int64) (*History, error) {
	return s.oneHistory(ctx, `h.tenant_id = $1 AND h.preprocess_id = $2 AND h.data_id = $3`, tenantID, preprocessID, dataID)
}

// HistoryOfJob returns the entry a job runs, for the poller (which spans
// tenants), or ErrNotFound.
func (s *Store) HistoryOfJob(ctx context.Context, jobID int64) (*History, error) {
	return s.oneHistory(ctx, `h.job_id = $1`, jobID)
}

// HistoryFilter narrows a preprocess's history.
type HistoryFilter struct {
	PreprocessID int64 // 0 = every preprocess
	DataID       int64 // 0 = every datum: the entries run on it
	OutputID     int64 // 0 = any: the entry that produced it
	Page         int
	PerPage      int
	// After and Before are cursors (Page.Next, Page.Prev): the page
	// starts past them, and Page is ignored.
	After, Before string
}

// ListHistories returns one page of the tenant's entries, newest first,
// and the total.
func (s *Store) ListHistories(ctx context.Context, tenantID int64, f HistoryFilter) ([]History, int, error) {
	p, err := s.HistoriesPage(ctx, tenantID, f)
	return p.Items, p.Total, err
}

// HistoriesPage returns one page of the tenant's entries, newest first,
// the total and the cursors either side; ErrBadCursor for a cursor it did
// not give.
func (s *Store) HistoriesPage(ctx context.Context, tenantID int64, f HistoryFilter) (Page[History], error) {
	where := []string{"h.tenant_id = $1"}
	args := []any{tenantID}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	add := func(cond string, v any) { where = append(where, strings.ReplaceAll(cond, "?", arg(v))) }
	if f.PreprocessID != 0 {
		add("h.preprocess_id = ?", f.PreprocessID)
	}
	if f.DataID != 0 {
		add("h.data_id = ?", f.DataID)
	}
	if f.OutputID != 0 {
		add("EXISTS (SELECT 1 FROM preprocess_outputs o WHERE o.history_id = h.id AND o.data_id = ?)", f.OutputID)
	}
	k, err := newKeyset("id", sortCol{"h.id", byID}, true, f.Page, f.PerPage, f.After, f.Before)
	if err != nil {
		return Page[History]{}, err
	}
	type entry struct {
		h     *History
		jobID int64
	}
	l := listSQL{table: "preprocess_histories", alias: "h", columns: historyColumns,
		joins: " JOIN data d ON d.id = h.data_id JOIN preprocesses pp ON pp.id = h.preprocess_id LEFT JOIN users u ON u.id = h.created_by",
		cond:  strings.Join(where, " AND "), args: args}
	es, total, err := listPage(ctx, s, l, k, func(r scanner) (entry, error) {
		h, jobID, err := scanHistory(r)
		return entry{h, jobID}, err
	})
	if err != nil {
		return Page[History]{}, wrap("list histories", err)
	}
	hs, jobIDs := make([]*History, len(es)), make([]int64, len(es))
	for i, e := range es {
		hs[i], jobIDs[i] = e.h, e.jobID
	}
	if err := s.withJobs(ctx, hs, jobIDs); err != nil {
		return Page[History]{}, err
	}
	out := make([]History, len(hs))
	for i, h := range hs {
		out[i] = *h
	}
	return pageOf(k, out, total, func(h *History) (string, int64) { return "", h.ID }), nil
}

// jsonEnv is the env column's value: a string, not []byte, which
// binary_parameters would send as binary jsonb.
func jsonEnv(e []EnvPair) (string, error) {
	b, err := json.Marshal(nonNilEnv(e))
	return string(b), err
}

// PreprocessRun is a run of a preprocess on data: one job (a task of one
// array) per datum, all alike but for the datum.
type PreprocessRun struct {
	Job          NewJob // TenantID, Kind, CreatedBy and the shared settings
	PreprocessID int64
	DataIDs      []int64
	ArrayLimit   int // tasks running at once; 0 = all
}

// ErrUnknownPreprocess names a preprocess that is not the tenant's (as
// ErrUnknownData names data).
var ErrUnknownPreprocess = errors.New("storage: unknown preprocess")

// CreatePreprocessRun checks the quota (for the tasks that may run at
// once), that the preprocess and data are the tenant's and that no datum
// has an entry yet (a *HistoryExistsError), and records one submitting
// job and entry per datum, in task order, in one transaction.
func (s *Store) CreatePreprocessRun(ctx context.Context, r PreprocessRun) ([]*Job, error) {
	n := r.Job
	env, err := jsonEnv(n.Env)
	if err != nil {
		return nil, err
	}
	var ids []int64
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		at := len(r.DataIDs)
		if r.ArrayLimit > 0 {
			at = min(at, r.ArrayLimit)
		}
		asked := n
		asked.CPU, asked.MemoryGB, asked.GPU = n.CPU*at, n.MemoryGB*at, n.GPU*at
		if err := checkQuota(ctx, tx, asked); err != nil {
			return err
		}
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM preprocesses WHERE tenant_id = $1 AND id = $2 FOR KEY SHARE`, n.TenantID, r.PreprocessID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrUnknownPreprocess
		}
		if err != nil {
			return wrap("preprocess run", err)
		}
		var mine int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT id FROM data WHERE tenant_id = $1 AND id = ANY ($2) FOR KEY SHARE) d`,
			n.TenantID, pq.Array(r.DataIDs)).Scan(&mine); err != nil {
			return wrap("preprocess run", err)
		}
		if mine != len(r.DataIDs) {
			return ErrUnknownData // another tenant's, missing, or named twice
		}
		var arrayID int64
		for i, dataID := range r.DataIDs {
			var id int64
			err := tx.QueryRowContext(ctx, `
				INSERT INTO jobs (tenant_id, kind, name, image, git_repository, git_branch, git_commit, command, cpu, memory_gb, gpu,
					partition, env, sbatch_options, time_limit_minutes, memo, status, created_by, array_id, array_index, array_limit)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, 'submitting', NULLIF($17, 0), NULLIF($18, 0), $19, $20)
				RETURNING id`,
				n.TenantID, n.Kind, n.Name, n.Image, n.GitRepository, n.GitBranch, n.GitCommit, n.Command, n.CPU, n.MemoryGB, n.GPU,
				n.Partition, env, pq.Array(nonNil(n.SbatchOptions)), n.TimeLimitMin, n.Memo, n.CreatedBy, arrayID, i, r.ArrayLimit).Scan(&id)
			if err != nil {
				return wrap("preprocess run", err)
			}
			if i == 0 {
				arrayID = id
				if _, err := tx.ExecContext(ctx, `UPDATE jobs SET array_id = id WHERE id = $1`, id); err != nil {
					return wrap("preprocess run", err)
				}
			}
			_, err = tx.ExecContext(ctx, `INSERT INTO preprocess_histories (tenant_id, preprocess_id, data_id, job_id, created_by)
				VALUES ($1, $2, $3, $4, NULLIF($5, 0))`, n.TenantID, r.PreprocessID, dataID, id, n.CreatedBy)
			if isUniqueViolation(err) {
				return &HistoryExistsError{DataID: dataID}
			}
			if err != nil {
				return wrap("preprocess run", err)
			}
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]*Job, len(ids))
	for i, id := range ids {
		if out[i], err = s.JobByID(ctx, n.TenantID, id); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// OpenHistory opens an entry of the external workflow for a datum of the
// tenant; a *HistoryExistsError when the datum has one, ErrUnknownData or
// ErrUnknownPreprocess for what is not the tenant's.
func (s *Store) OpenHistory(ctx context.Context, tenantID, userID, preprocessID, dataID int64, dir func(id int64) string) (*History, error) {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM preprocesses WHERE tenant_id = $1 AND id = $2 FOR KEY SHARE`, tenantID, preprocessID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrUnknownPreprocess
		}
		if err != nil {
			return wrap("open history", err)
		}
		err = tx.QueryRowContext(ctx, `SELECT 1 FROM data WHERE tenant_id = $1 AND id = $2 FOR KEY SHARE`, tenantID, dataID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrUnknownData
		}
		if err != nil {
			return wrap("open history", err)
		}
		var id int64
		err = tx.QueryRowContext(ctx, `INSERT INTO preprocess_histories (tenant_id, preprocess_id, data_id, external_status, created_by)
			VALUES ($1, $2, $3, 'open', NULLIF($4, 0)) RETURNING id`, tenantID, preprocessID, dataID, userID).Scan(&id)
		if isUniqueViolation(err) {
			return &HistoryExistsError{DataID: dataID}
		}
		if err != nil {
			return wrap("open history", err)
		}
		_, err = tx.ExecContext(ctx, `UPDATE preprocess_histories SET dir = $2 WHERE id = $1`, id, dir(id))
		return wrap("open history", err)
	})
	if err != nil {
		return nil, err
	}
	return s.HistoryOf(ctx, tenantID, preprocessID, dataID)
}

// ErrHistoryClosed refuses adding to an entry that is not open.
var ErrHistoryClosed = errors.New("storage: the history entry is not open")

// RegisterOutputs records the data an entry produced (their files already
// in place under their reserved ids), links them to it and marks it
// registered, in one transaction; an external entry is completed too. It
// reports false, recording nothing, when the entry was registered before
// (a poll that ran twice) or is gone.
func (s *Store) RegisterOutputs(ctx context.Context, historyID int64, data []NewData) (bool, error) {
	done := false
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var registered bool
		err := tx.QueryRowContext(ctx, `SELECT registered_at IS NOT NULL FROM preprocess_histories WHERE id = $1 FOR UPDATE`, historyID).Scan(&registered)
		if errors.Is(err, sql.ErrNoRows) || registered {
			return nil
		}
		if err != nil {
			return wrap("register outputs", err)
		}
		for _, n := range data {
			_, err := tx.ExecContext(ctx,
				`INSERT INTO data (id, tenant_id, name, memo, tags, created_by) VALUES ($1, $2, $3, $4, $5, NULLIF($6, 0))`,
				n.ID, n.TenantID, n.Name, n.Memo, pq.Array(nonNil(n.Tags)), n.CreatedBy)
			if err != nil {
				return wrap("register outputs", err)
			}
			if err := insertFiles(ctx, tx, n.ID, n.Files); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO preprocess_outputs (history_id, data_id) VALUES ($1, $2)`, historyID, n.ID); err != nil {
				return wrap("register outputs", err)
			}
		}
		_, err = tx.ExecContext(ctx, `UPDATE preprocess_histories SET registered_at = now(),
			external_status = CASE WHEN external_status IS NULL THEN NULL ELSE 'completed' END WHERE id = $1`, historyID)
		done = err == nil
		return wrap("register outputs", err)
	})
	return done, err
}

// HistoryDeleted is what a deleted entry leaves in the file store.
type HistoryDeleted struct {
	JobDir  string  // the run's job directory, "" for none
	Dir     string  // an external entry's uploads
	DataIDs []int64 // the data it produced, now deleted
}

// DeleteHistory deletes an entry, the data it produced and its job, in
// one transaction: ErrActive while its job may run, ErrFrozen while a
// frozen dataset holds one of its data.
func (s *Store) DeleteHistory(ctx context.Context, tenantID, preprocessID, dataID int64) (*HistoryDeleted, error) {
	var out HistoryDeleted
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var id int64
		var jobID sql.NullInt64
		err := tx.QueryRowContext(ctx, `SELECT id, job_id, dir FROM preprocess_histories WHERE tenant_id = $1 AND preprocess_id = $2 AND data_id = $3 FOR UPDATE`,
			tenantID, preprocessID, dataID).Scan(&id, &jobID, &out.Dir)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return wrap("delete history", err)
		}
		if jobID.Valid {
			var status string
			if err := tx.QueryRowContext(ctx, `SELECT status, job_dir FROM jobs WHERE id = $1 FOR UPDATE`, jobID.Int64).Scan(&status, &out.JobDir); err != nil {
				return wrap("delete history", err)
			}
			if (&Job{Status: status}).Active() {
				return ErrActive
			}
		}
		rows, err := tx.QueryContext(ctx, `SELECT data_id FROM preprocess_outputs WHERE history_id = $1 ORDER BY data_id`, id)
		if err != nil {
			return wrap("delete history", err)
		}
		for rows.Next() {
			var d int64
			if err := rows.Scan(&d); err != nil {
				rows.Close()
				return wrap("delete history", err)
			}
			out.DataIDs = append(out.DataIDs, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return wrap("delete history", err)
		}
		for _, d := range out.DataIDs {
			if err := lockDataUnfrozen(ctx, tx, tenantID, d); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM data WHERE tenant_id = $1 AND id = ANY ($2)`, tenantID, pq.Array(out.DataIDs)); err != nil {
			return wrap("delete history", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM preprocess_histories WHERE id = $1`, id); err != nil {
			return wrap("delete history", err)
		}
		if jobID.Valid {
			if _, err := tx.ExecContext(ctx, `DELETE FROM jobs WHERE id = $1`, jobID.Int64); err != nil {
				return wrap("delete history", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteRunWithoutEntry deletes a preprocess run's job whose entry is gone
// (its source datum was deleted while it ran), whatever its status: the
// poller calls it once the job has ended.
func (s *Store) DeleteRunWithoutEntry(ctx context.Context, jobID int64) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM jobs j WHERE j.id = $1 AND j.kind = 'preprocess'
		AND NOT EXISTS (SELECT 1 FROM preprocess_histories h WHERE h.job_id = j.id)`, jobID)
	return wrap("delete run without entry", err)
}
