package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lib/pq"
)

// Areas of a dataset, in display order.
var Areas = []string{"training", "validation", "testing"}

// ValidArea reports whether a is one of Areas.
func ValidArea(a string) bool {
	for _, x := range Areas {
		if a == x {
			return true
		}
	}
	return false
}

// Dataset groups a tenant's data into areas.
type Dataset struct {
	ID        int64
	TenantID  int64
	Name      string
	Memo      string
	FrozenAt  *time.Time // set when a training or inference first used it
	CreatedBy string
	CreatedAt time.Time
	UpdatedAt time.Time
	Counts    map[string]int // data per area
	Entries   []DatasetEntry // filled by DatasetByID only
}

// DatasetEntry is one datum in one area.
type DatasetEntry struct {
	DataID    int64
	DataName  string
	Area      string
	FileCount int
}

// Entry places a datum in an area, for create and update.
type Entry struct {
	DataID int64
	Area   string
}

// NewDataset is a dataset to create.
type NewDataset struct {
	TenantID  int64
	Name      string
	Memo      string
	CreatedBy int64
	Entries   []Entry
}

// ErrUnknownData is returned when an entry names a datum the tenant does
// not have.
var ErrUnknownData = errors.New("storage: unknown data id")

// CreateDataset inserts a dataset with its entries.
func (s *Store) CreateDataset(ctx context.Context, n NewDataset) (int64, error) {
	var id int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx,
			`INSERT INTO datasets (tenant_id, name, memo, created_by) VALUES ($1, $2, $3, NULLIF($4, 0)) RETURNING id`,
			n.TenantID, n.Name, n.Memo, n.CreatedBy).Scan(&id)
		if err != nil {
			return fmt.Errorf("storage: create dataset: %w", err)
		}
		return insertEntries(ctx, tx, n.TenantID, id, n.Entries)
	})
	return id, err
}

// insertEntries checks that every datum belongs to the tenant, then adds
// the entries.
func insertEntries(ctx context.Context, tx *sql.Tx, tenantID, datasetID int64, entries []Entry) error {
	if len(entries) == 0 {
		return nil
	}
	ids := make([]int64, len(entries))
	areas := make([]string, len(entries))
	seen := map[int64]bool{}
	for i, e := range entries {
		if !ValidArea(e.Area) {
			return fmt.Errorf("storage: unknown area %q", e.Area)
		}
		if seen[e.DataID] {
			return fmt.Errorf("%w: data %d is listed twice", ErrConflict, e.DataID)
		}
		seen[e.DataID] = true
		ids[i], areas[i] = e.DataID, e.Area
	}
	var found int
	err := tx.QueryRowContext(ctx, `SELECT count(*) FROM data WHERE tenant_id = $1 AND id = ANY ($2)`,
		tenantID, pq.Array(ids)).Scan(&found)
	if err != nil {
		return fmt.Errorf("storage: dataset entries: %w", err)
	}
	if found != len(ids) {
		return ErrUnknownData
	}
	_, err = tx.ExecContext(ctx,
		`INSERT INTO dataset_entries (dataset_id, data_id, area)
		 SELECT $1, unnest($2::bigint[]), unnest($3::text[])`,
		datasetID, pq.Array(ids), pq.Array(areas))
	if err != nil {
		return fmt.Errorf("storage: dataset entries: %w", err)
	}
	return nil
}

const datasetColumns = `s.id, s.tenant_id, s.name, s.memo, s.frozen_at, COALESCE(u.username, ''), s.created_at, s.updated_at,
	(SELECT count(*) FROM dataset_entries e WHERE e.dataset_id = s.id AND e.area = 'training'),
	(SELECT count(*) FROM dataset_entries e WHERE e.dataset_id = s.id AND e.area = 'validation'),
	(SELECT count(*) FROM dataset_entries e WHERE e.dataset_id = s.id AND e.area = 'testing')`

const datasetFrom = ` FROM datasets s LEFT JOIN users u ON u.id = s.created_by`

func scanDataset(row interface{ Scan(...any) error }) (*Dataset, error) {
	var d Dataset
	var frozen sql.NullTime
	var tr, va, te int
	if err := row.Scan(&d.ID, &d.TenantID, &d.Name, &d.Memo, &frozen, &d.CreatedBy, &d.CreatedAt, &d.UpdatedAt, &tr, &va, &te); err != nil {
		return nil, err
	}
	if frozen.Valid {
		d.FrozenAt = &frozen.Time
	}
	d.Counts = map[string]int{"training": tr, "validation": va, "testing": te}
	return &d, nil
}

// DatasetByID returns a dataset of the tenant with its entries, or
// ErrNotFound.
func (s *Store) DatasetByID(ctx context.Context, tenantID, id int64) (*Dataset, error) {
	d, err := scanDataset(s.db.QueryRowContext(ctx, `SELECT `+datasetColumns+datasetFrom+` WHERE s.tenant_id = $1 AND s.id = $2`, tenantID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("storage: dataset: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, `
		SELECT e.data_id, d.name, e.area, d.file_count
		FROM dataset_entries e JOIN data d ON d.id = e.data_id
		WHERE e.dataset_id = $1 AND d.tenant_id = $2
		ORDER BY array_position(ARRAY['training','validation','testing'], e.area), e.data_id`, id, tenantID)
	if err != nil {
		return nil, fmt.Errorf("storage: dataset entries: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e DatasetEntry
		if err := rows.Scan(&e.DataID, &e.DataName, &e.Area, &e.FileCount); err != nil {
			return nil, fmt.Errorf("storage: dataset entries: %w", err)
		}
		d.Entries = append(d.Entries, e)
	}
	return d, rows.Err()
}

// HasDataset reports whether the tenant has the dataset: one indexed
// lookup, for a submit's check (DatasetByID reads the entries too).
func (s *Store) HasDataset(ctx context.Context, tenantID, id int64) (bool, error) {
	var ok bool
	err := s.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM datasets WHERE tenant_id = $1 AND id = $2)`, tenantID, id).Scan(&ok)
	return ok, wrap("has dataset", err)
}

// DatasetFilter narrows and orders a dataset list.
type DatasetFilter struct {
	Name    string
	Memo    string
	Sort    string // "id", "name", "created_at"
	Desc    bool
	Page    int
	PerPage int
	// After and Before are cursors (Page.Next, Page.Prev) of the same
	// sort: the page starts past them, and Page is ignored.
	After, Before string
}

var datasetSorts = map[string]sortCol{"id": {"s.id", byID}, "name": {"s.name", byText}, "created_at": {"s.created_at", byTime}}

func datasetKey(sort string) func(*Dataset) (string, int64) {
	return func(d *Dataset) (string, int64) {
		switch sort {
		case "name":
			return d.Name, d.ID
		case "created_at":
			return timeKey(d.CreatedAt), d.ID
		}
		return "", d.ID
	}
}

// ListDatasets returns one page of the tenant's datasets and the total.
func (s *Store) ListDatasets(ctx context.Context, tenantID int64, f DatasetFilter) ([]Dataset, int, error) {
	p, err := s.DatasetsPage(ctx, tenantID, f)
	return p.Items, p.Total, err
}

// DatasetsPage returns one page of the tenant's datasets, the total and
// the cursors either side; ErrBadCursor for a cursor it did not give.
func (s *Store) DatasetsPage(ctx context.Context, tenantID int64, f DatasetFilter) (Page[Dataset], error) {
	cond := `s.tenant_id = $1`
	args := []any{tenantID}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if f.Name != "" {
		cond += " AND s.name ILIKE " + arg("%"+likeEscape(f.Name)+"%")
	}
	if f.Memo != "" {
		cond += " AND s.memo ILIKE " + arg("%"+likeEscape(f.Memo)+"%")
	}
	sort := f.Sort
	if _, ok := datasetSorts[sort]; !ok {
		sort = "id"
	}
	k, err := newKeyset(sort, datasetSorts[sort], f.Desc, f.Page, f.PerPage, f.After, f.Before)
	if err != nil {
		return Page[Dataset]{}, err
	}
	// The page's rows are chosen first, their entries counted for them only.
	l := listSQL{table: "datasets", alias: "s", columns: datasetColumns, joins: " LEFT JOIN users u ON u.id = s.created_by",
		cond: cond, args: args, narrow: f.Name != "" || f.Memo != ""}
	out, total, err := listPage(ctx, s, l, k, deref(scanDataset))
	if err != nil {
		return Page[Dataset]{}, fmt.Errorf("storage: list datasets: %w", err)
	}
	return pageOf(k, out, total, datasetKey(sort)), nil
}

// lockDatasetUnfrozen locks a dataset of the tenant for a change.
func lockDatasetUnfrozen(ctx context.Context, tx *sql.Tx, tenantID, id int64) error {
	var frozen sql.NullTime
	err := tx.QueryRowContext(ctx, `SELECT frozen_at FROM datasets WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, tenantID, id).Scan(&frozen)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("storage: lock dataset: %w", err)
	}
	if frozen.Valid {
		return ErrFrozen
	}
	return nil
}

// UpdateDataset replaces name, memo and entries; ErrFrozen once used.
func (s *Store) UpdateDataset(ctx context.Context, tenantID, id int64, name, memo string, entries []Entry) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if err := lockDatasetUnfrozen(ctx, tx, tenantID, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE datasets SET name = $2, memo = $3, updated_at = now() WHERE id = $1`, id, name, memo); err != nil {
			return fmt.Errorf("storage: update dataset: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM dataset_entries WHERE dataset_id = $1`, id); err != nil {
			return fmt.Errorf("storage: update dataset: %w", err)
		}
		return insertEntries(ctx, tx, tenantID, id, entries)
	})
}

// DeleteDataset deletes an unfrozen dataset (its data stay).
func (s *Store) DeleteDataset(ctx context.Context, tenantID, id int64) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if err := lockDatasetUnfrozen(ctx, tx, tenantID, id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM datasets WHERE id = $1`, id)
		return err
	})
}

// FreezeDataset marks a dataset as used; from then on it and the files of
// its data cannot change. Freezing twice keeps the first time.
func (s *Store) FreezeDataset(ctx context.Context, tenantID, id int64) error {
	res, err := s.db.ExecContext(ctx,
		`UPDATE datasets SET frozen_at = COALESCE(frozen_at, now()) WHERE tenant_id = $1 AND id = $2`, tenantID, id)
	return oneRow("freeze dataset", res, err)
}

// CopyDataset makes a new, unfrozen dataset with the same entries.
func (s *Store) CopyDataset(ctx context.Context, tenantID, id int64, name string, createdBy int64) (int64, error) {
	var newID int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx,
			`INSERT INTO datasets (tenant_id, name, memo, created_by)
			 SELECT tenant_id, $3, memo, $4 FROM datasets WHERE tenant_id = $1 AND id = $2
			 RETURNING id`, tenantID, id, name, createdBy).Scan(&newID)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("storage: copy dataset: %w", err)
		}
		_, err = tx.ExecContext(ctx,
			`INSERT INTO dataset_entries (dataset_id, data_id, area)
			 SELECT $2, data_id, area FROM dataset_entries WHERE dataset_id = $1`, id, newID)
		if err != nil {
			return fmt.Errorf("storage: copy dataset: %w", err)
		}
		return nil
	})
	return newID, err
}

// StagedFile is one file a job sees under /kqi/input.
type StagedFile struct {
	Area     string // "" when staging a single datum
	DataID   int64
	FileName string
}

// DatasetFiles lists every file of every datum in a dataset of the tenant,
// for staging a job's inputs.
func (s *Store) DatasetFiles(ctx context.Context, tenantID, id int64) ([]StagedFile, error) {
	return s.datasetFiles(ctx, tenantID, id, "")
}

// FrozenDatasetFiles is DatasetFiles of a dataset frozen when read. Its
// files no longer change (ErrFrozen), so they may be read before the row
// of the job that uses it is recorded. ok is false for a dataset not yet
// frozen, not the tenant's, or without files: read it once it is frozen.
func (s *Store) FrozenDatasetFiles(ctx context.Context, tenantID, id int64) (list []StagedFile, ok bool, err error) {
	list, err = s.datasetFiles(ctx, tenantID, id, " AND s.frozen_at IS NOT NULL")
	return list, err == nil && len(list) > 0, err
}

func (s *Store) datasetFiles(ctx context.Context, tenantID, id int64, cond string) ([]StagedFile, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT e.area, f.data_id, f.name
		FROM datasets s
		JOIN dataset_entries e ON e.dataset_id = s.id
		JOIN data d ON d.id = e.data_id AND d.tenant_id = s.tenant_id
		JOIN data_files f ON f.data_id = d.id
		WHERE s.tenant_id = $1 AND s.id = $2`+cond+`
		ORDER BY e.area, f.data_id, f.name`, tenantID, id)
	if err != nil {
		return nil, fmt.Errorf("storage: dataset files: %w", err)
	}
	defer rows.Close()
	var out []StagedFile
	for rows.Next() {
		var f StagedFile
		if err := rows.Scan(&f.Area, &f.DataID, &f.FileName); err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}
