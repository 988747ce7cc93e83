package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"
)

// ErrFrozen is returned when a change would alter a dataset that a
// training or inference has used, or the data such a dataset holds.
var ErrFrozen = errors.New("storage: frozen by a dataset in use")

// Data is a named set of files a tenant registered.
type Data struct {
	ID        int64
	TenantID  int64
	Name      string
	Memo      string
	Tags      []string
	CreatedBy string // user name; "" when the user is gone
	CreatedAt time.Time
	UpdatedAt time.Time
	FileCount int
	TotalSize int64
	Files     []DataFile // filled by DataByID only
	Frozen    bool       // held by a frozen dataset (filled by DataByID only)
}

// DataFile is one file of a datum. Name is exactly what the user gave.
type DataFile struct {
	Name      string
	Size      int64
	CreatedAt time.Time
}

// NewFile is a file already written to the file store, to be recorded.
type NewFile struct {
	Name string
	Size int64
}

// NewData is a datum to record after its files are in place.
type NewData struct {
	ID        int64 // from NextDataID: files are written under the id before the row exists
	TenantID  int64
	Name      string
	Memo      string
	Tags      []string
	CreatedBy int64
	Files     []NewFile
}

// NextDataID reserves an id so an upload can write its files under it and
// insert the row only once every file has arrived.
func (s *Store) NextDataID(ctx context.Context) (int64, error) {
	var id int64
	if err := s.db.QueryRowContext(ctx, `SELECT nextval('data_id_seq')`).Scan(&id); err != nil {
		return 0, fmt.Errorf("storage: next data id: %w", err)
	}
	return id, nil
}

// CreateData records a datum and its files in one transaction.
func (s *Store) CreateData(ctx context.Context, n NewData) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			`INSERT INTO data (id, tenant_id, name, memo, tags, created_by) VALUES ($1, $2, $3, $4, $5, NULLIF($6, 0))`,
			n.ID, n.TenantID, n.Name, n.Memo, pq.Array(nonNil(n.Tags)), n.CreatedBy)
		if err != nil {
			return fmt.Errorf("storage: create data: %w", err)
		}
		return insertFiles(ctx, tx, n.ID, n.Files)
	})
}

func insertFiles(ctx context.Context, tx *sql.Tx, dataID int64, files []NewFile) error {
	for _, f := range files {
		_, err := tx.ExecContext(ctx, `INSERT INTO data_files (data_id, name, size) VALUES ($1, $2, $3)`, dataID, f.Name, f.Size)
		if isUniqueViolation(err) {
			return fmt.Errorf("%w: file %q", ErrConflict, f.Name)
		}
		if err != nil {
			return fmt.Errorf("storage: add file: %w", err)
		}
	}
	return nil
}

func nonNil(tags []string) []string {
	if tags == nil {
		return []string{}
	}
	return tags
}

const dataColumns = `d.id, d.tenant_id, d.name, d.memo, d.tags, COALESCE(u.username, ''), d.created_at, d.updated_at,
	d.file_count, d.total_size`

const dataFrom = ` FROM data d LEFT JOIN users u ON u.id = d.created_by`

func scanData(row interface{ Scan(...any) error }) (*Data, error) {
	var d Data
	err := row.Scan(&d.ID, &d.TenantID, &d.Name, &d.Memo, pq.Array(&d.Tags), &d.CreatedBy, &d.CreatedAt, &d.UpdatedAt, &d.FileCount, &d.TotalSize)
	return &d, err
}

// DataByID returns a datum of the tenant with its files, or ErrNotFound
// (also when it belongs to another tenant).
func (s *Store) DataByID(ctx context.Context, tenantID, id int64) (*Data, error) {
	d, err := scanData(s.db.QueryRowContext(ctx, `SELECT `+dataColumns+dataFrom+` WHERE d.tenant_id = $1 AND d.id = $2`, tenantID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("storage: data: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT name, size, created_at FROM data_files WHERE data_id = $1 ORDER BY name`, id)
	if err != nil {
		return nil, fmt.Errorf("storage: data files: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var f DataFile
		if err := rows.Scan(&f.Name, &f.Size, &f.CreatedAt); err != nil {
			return nil, fmt.Errorf("storage: data files: %w", err)
		}
		d.Files = append(d.Files, f)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	err = s.db.QueryRowContext(ctx, `SELECT EXISTS (
		SELECT 1 FROM dataset_entries e JOIN datasets s ON s.id = e.dataset_id
		WHERE e.data_id = $1 AND s.frozen_at IS NOT NULL)`, id).Scan(&d.Frozen)
	if err != nil {
		return nil, fmt.Errorf("storage: data frozen: %w", err)
	}
	return d, nil
}

// DataFilter narrows and orders a data list. Zero values mean "any".
type DataFilter struct {
	Name        string // substring, case-insensitive
	Memo        string // substring, case-insensitive
	Tag         string // exact tag
	IDFrom      int64
	IDTo        int64
	CreatedFrom time.Time
	CreatedTo   time.Time // exclusive
	Sort        string    // "id", "name", "created_at", "size"
	Desc        bool
	Page        int // from 1
	PerPage     int
	// After and Before are cursors (Page.Next, Page.Prev) of the same
	// sort: the page starts past them, and Page is ignored.
	After, Before string
}

// dataSorts maps sort keys to ORDER BY terms.
var dataSorts = map[string]sortCol{"id": {"d.id", byID}, "name": {"d.name", byText}, "created_at": {"d.created_at", byTime},
	"size": {"d.total_size", byInt}}

// dataKey is a datum's place in the sort.
func dataKey(sort string) func(*Data) (string, int64) {
	return func(d *Data) (string, int64) {
		switch sort {
		case "name":
			return d.Name, d.ID
		case "created_at":
			return timeKey(d.CreatedAt), d.ID
		case "size":
			return strconv.FormatInt(d.TotalSize, 10), d.ID
		}
		return "", d.ID
	}
}

// ListData returns one page of the tenant's data and the total matching.
func (s *Store) ListData(ctx context.Context, tenantID int64, f DataFilter) ([]Data, int, error) {
	p, err := s.DataPage(ctx, tenantID, f)
	return p.Items, p.Total, err
}

// DataPage returns one page of the tenant's data, the total matching and
// the cursors either side; ErrBadCursor for a cursor it did not give.
func (s *Store) DataPage(ctx context.Context, tenantID int64, f DataFilter) (Page[Data], error) {
	where := []string{"d.tenant_id = $1"}
	args := []any{tenantID}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	add := func(cond string, v any) { where = append(where, strings.ReplaceAll(cond, "?", arg(v))) }
	if f.Name != "" {
		add(`d.name ILIKE ?`, "%"+likeEscape(f.Name)+"%")
	}
	if f.Memo != "" {
		add(`d.memo ILIKE ?`, "%"+likeEscape(f.Memo)+"%")
	}
	if f.Tag != "" {
		add(`d.tags @> ARRAY[?]::text[]`, f.Tag) // the GIN index serves @>, not = ANY
	}
	if f.IDFrom > 0 {
		add(`d.id >= ?`, f.IDFrom)
	}
	if f.IDTo > 0 {
		add(`d.id <= ?`, f.IDTo)
	}
	if !f.CreatedFrom.IsZero() {
		add(`d.created_at >= ?`, f.CreatedFrom)
	}
	if !f.CreatedTo.IsZero() {
		add(`d.created_at < ?`, f.CreatedTo)
	}
	sort := f.Sort
	if _, ok := dataSorts[sort]; !ok {
		sort = "id"
	}
	k, err := newKeyset(sort, dataSorts[sort], f.Desc, f.Page, f.PerPage, f.After, f.Before)
	if err != nil {
		return Page[Data]{}, err
	}
	var out []Data
	var total int
	if f.Tag != "" && len(where) == 2 && sort == "id" { // the tenant and the tag only
		out, total, err = s.dataOfTag(ctx, tenantID, f.Tag, k)
	} else {
		l := listSQL{table: "data", alias: "d", columns: dataColumns, joins: " LEFT JOIN users u ON u.id = d.created_by",
			cond: strings.Join(where, " AND "), args: args, narrow: f.Name != "" || f.Memo != "" || f.Tag != ""}
		out, total, err = listPage(ctx, s, l, k, deref(scanData))
	}
	if err != nil {
		return Page[Data]{}, fmt.Errorf("storage: list data: %w", err)
	}
	return pageOf(k, out, total, dataKey(sort)), nil
}

// dataOfTag is a page of the data carrying tag, by id, when nothing else
// filters (a tag typed alone, on the page or in the API): the page's ids
// from the tag's entries (data_tag_items, an index alone however common
// the tag) and the total from the tag's count (data_tags). Through the
// data's GIN index, the page read and counted every datum with the tag (a
// heap page each).
func (s *Store) dataOfTag(ctx context.Context, tenantID int64, tag string, k keyset) ([]Data, int, error) {
	args := []any{tenantID, tag}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	total := fmt.Sprintf(`SELECT LEAST(uses, %d) FROM data_tags WHERE tenant_id = $1 AND tag = $2`, CountCap+1)
	cond := "t.tenant_id = $1 AND t.tag = $2"
	if w := k.where("t.data_id", "t.data_id", arg); w != "" {
		cond += " AND " + w
	}
	q := fmt.Sprintf(`SELECT %s, page.total FROM (SELECT t.data_id AS id, COALESCE((%s), 0) AS total
		FROM data_tag_items t WHERE %s ORDER BY %s %s) page JOIN data d ON d.id = page.id LEFT JOIN users u ON u.id = d.created_by
		ORDER BY %s`, dataColumns, total, cond, k.order("t.data_id", "t.data_id", k.back), k.limits(), k.order("d.id", "d.id", false))
	out, n, err := pageRows(ctx, s, q, args, deref(scanData))
	if err != nil || n >= 0 {
		return out, n, err
	}
	// An empty page (past the end, or a tag no datum has).
	n = 0
	if err := s.db.QueryRowContext(ctx, total, tenantID, tag).Scan(&n); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, 0, err
	}
	return out, n, nil
}

// pageBounds turns a 1-based page and a page size into LIMIT and OFFSET.
func pageBounds(page, perPage int) (int, int) {
	if perPage <= 0 || perPage > 1000 {
		perPage = 30
	}
	if page < 1 {
		page = 1
	}
	return perPage, (page - 1) * perPage
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// UpdateData changes a datum's name, memo and tags.
func (s *Store) UpdateData(ctx context.Context, tenantID, id int64, name, memo string, tags []string) error {
	res, err := s.db.ExecContext(ctx,
		`UPDATE data SET name = $3, memo = $4, tags = $5, updated_at = now() WHERE tenant_id = $1 AND id = $2`,
		tenantID, id, name, memo, pq.Array(nonNil(tags)))
	return oneRow("update data", res, err)
}

// lockDataUnfrozen locks a datum of the tenant for a change of its files,
// refusing with ErrFrozen while a frozen dataset holds it.
func lockDataUnfrozen(ctx context.Context, tx *sql.Tx, tenantID, id int64) error {
	var frozen bool
	err := tx.QueryRowContext(ctx, `SELECT EXISTS (
			SELECT 1 FROM dataset_entries e JOIN datasets s ON s.id = e.dataset_id
			WHERE e.data_id = d.id AND s.frozen_at IS NOT NULL)
		FROM data d WHERE d.tenant_id = $1 AND d.id = $2 FOR UPDATE OF d`, tenantID, id).Scan(&frozen)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("storage: lock data: %w", err)
	}
	if frozen {
		return ErrFrozen
	}
	return nil
}

// CheckDataChangeable reports ErrNotFound or ErrFrozen before a caller
// writes files for a datum.
func (s *Store) CheckDataChangeable(ctx context.Context, tenantID, id int64) error {
	return s.inTx(ctx, func(tx *sql.Tx) error { return lockDataUnfrozen(ctx, tx, tenantID, id) })
}

// AddDataFiles records files added to an existing datum; ErrConflict when a
// name is taken, ErrFrozen when a frozen dataset holds the datum.
func (s *Store) AddDataFiles(ctx context.Context, tenantID, id int64, files []NewFile) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if err := lockDataUnfrozen(ctx, tx, tenantID, id); err != nil {
			return err
		}
		if err := insertFiles(ctx, tx, id, files); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE data SET updated_at = now() WHERE id = $1`, id)
		return err
	})
}

// RemoveDataFile forgets one file of a datum; the caller then deletes it
// from the file store.
func (s *Store) RemoveDataFile(ctx context.Context, tenantID, id int64, name string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if err := lockDataUnfrozen(ctx, tx, tenantID, id); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM data_files WHERE data_id = $1 AND name = $2`, id, name)
		if err := oneRow("remove file", res, err); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE data SET updated_at = now() WHERE id = $1`, id)
		return err
	})
}

// DeleteData deletes a datum (and its place in unfrozen datasets); refused
// with ErrFrozen while a frozen dataset holds it.
func (s *Store) DeleteData(ctx context.Context, tenantID, id int64) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if err := lockDataUnfrozen(ctx, tx, tenantID, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM data WHERE tenant_id = $1 AND id = $2`, tenantID, id); err != nil {
			return fmt.Errorf("storage: delete data: %w", err)
		}
		return nil
	})
}

// TagSuggestions is how many tags DataTags suggests at most.
const TagSuggestions = 200

// DataTags lists the tags most used in a tenant's data (TagSuggestions of
// them), in order, for filter suggestions. It reads the counts a trigger
// keeps (data_tags), not the data.
func (s *Store) DataTags(ctx context.Context, tenantID int64) ([]string, error) {
	q := fmt.Sprintf(`SELECT tag FROM (SELECT tag FROM data_tags WHERE tenant_id = $1
		ORDER BY uses DESC, tag LIMIT %d) t ORDER BY tag`, TagSuggestions)
	s.explain(ctx, q, []any{tenantID})
	rows, err := s.db.QueryContext(ctx, q, tenantID)
	if err != nil {
		return nil, fmt.Errorf("storage: data tags: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}
