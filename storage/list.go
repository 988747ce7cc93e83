package storage

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// CountCap is where a list's total stops counting: a total above it is
// reported as CountCap+1 ("more than CountCap"), so that no request counts
// every row of a large tenant. Pages past it still answer.
const CountCap = 10_000

// cappedCount counts the rows of from matching cond, up to CountCap+1.
func (s *Store) cappedCount(ctx context.Context, from, cond string, args []any) (int, error) {
	q := fmt.Sprintf(`SELECT count(*) FROM (SELECT 1 FROM %s WHERE %s LIMIT %d) c`, from, cond, CountCap+1)
	s.explain(ctx, q, args)
	var n int
	err := s.db.QueryRowContext(ctx, q, args...).Scan(&n)
	return n, err
}

// explainKey carries the function Explain asks plans to be given to.
type explainKey struct{}

// Explain returns a context under which the list queries (ListJobs,
// ListData, ListDatasets, ListHistories, and JobChoices and DataTags of
// the list pages) first hand the plan PostgreSQL chooses for each of
// their statements to show: `make bench` prints them.
func Explain(ctx context.Context, show func(query, plan string)) context.Context {
	return context.WithValue(ctx, explainKey{}, show)
}

// explain runs EXPLAIN of q when the context asks for plans.
func (s *Store) explain(ctx context.Context, q string, args []any) {
	show, _ := ctx.Value(explainKey{}).(func(string, string))
	if show == nil {
		return
	}
	rows, err := s.db.QueryContext(ctx, `EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) `+q, args...)
	if err != nil {
		show(q, "EXPLAIN failed: "+err.Error())
		return
	}
	defer rows.Close()
	var plan strings.Builder
	for rows.Next() {
		var line string
		if rows.Scan(&line) == nil {
			plan.WriteString(line + "\n")
		}
	}
	show(q, plan.String())
}

// Page is one page of a list: its items, the total (capped: CountCap+1
// means "more than CountCap") and the cursors of the pages either side
// ("" when there is none). Next is given to After, Prev to Before.
type Page[T any] struct {
	Items      []T
	Total      int
	Next, Prev string
}

// ErrBadCursor refuses a cursor that this list did not give for the sort
// in use (mangled, or made for another order).
var ErrBadCursor = errors.New("storage: bad list cursor")

// Kinds of sort value a cursor carries.
const (
	byID    = iota // the id is the sort key
	byText         // a NOT NULL text column
	byTime         // a NOT NULL timestamptz column
	byInt          // a NOT NULL integer column
	byFloat        // a nullable double column, NULLs last either way
)

// sortCol is one order a list offers: its column and the kind of value.
type sortCol struct {
	col  string
	kind int
}

// keyset is the page part of a list query: where the page starts (a
// cursor, or an OFFSET for the old ?page=N links) in which order. A
// cursor is the sort value and id of a row shown; the page is the rows
// strictly after it (or before it, going back), found in the sort's index
// without counting what precedes: a deep page costs what the first does.
type keyset struct {
	key string // sort name, as the cursor records it
	sortCol
	desc          bool
	limit, offset int
	at            *cursor // nil: the first page (or an OFFSET page)
	back          bool    // at is a Before cursor
}

// cursor is a position in one order.
type cursor struct {
	key   string
	desc  bool
	id    int64
	value string // the sort value as text; "" is NULL for byFloat
}

func (c cursor) String() string {
	d := "a"
	if c.desc {
		d = "d"
	}
	return base64.RawURLEncoding.EncodeToString([]byte(c.key + "." + d + "." + strconv.FormatInt(c.id, 10) + "." + c.value))
}

// newKeyset reads the paging of a list: after or before (at most one; a
// cursor overrides page), else page from 1.
func newKeyset(key string, sc sortCol, desc bool, page, perPage int, after, before string) (keyset, error) {
	k := keyset{key: key, sortCol: sc, desc: desc}
	k.limit, k.offset = pageBounds(page, perPage)
	s := after
	if before != "" {
		if after != "" {
			return k, ErrBadCursor
		}
		s, k.back = before, true
	}
	if s == "" {
		return k, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	parts := strings.SplitN(string(raw), ".", 4)
	if err != nil || len(parts) != 4 || parts[0] != key || parts[1] != map[bool]string{true: "d", false: "a"}[desc] {
		return k, ErrBadCursor
	}
	c := cursor{key: key, desc: desc, value: parts[3]}
	if c.id, err = strconv.ParseInt(parts[2], 10, 64); err != nil || c.id < 1 {
		return k, ErrBadCursor
	}
	if _, err := k.value(c.value); err != nil {
		return k, ErrBadCursor
	}
	k.at, k.offset = &c, 0
	return k, nil
}

// value is a cursor's sort value as a query argument.
func (k keyset) value(v string) (any, error) {
	switch k.kind {
	case byText:
		return v, nil
	case byTime:
		return time.Parse(time.RFC3339Nano, v)
	case byInt:
		return strconv.ParseInt(v, 10, 64)
	case byFloat:
		if v == "" {
			return nil, nil
		}
		return strconv.ParseFloat(v, 64)
	}
	if v != "" {
		return nil, ErrBadCursor
	}
	return nil, nil
}

// where is the condition of the rows past the cursor, on the sort column
// col and the id column id ("" on a first or OFFSET page); arg adds a
// query argument and returns its placeholder.
func (k keyset) where(col, id string, arg func(any) string) string {
	if k.at == nil {
		return ""
	}
	op := ">"
	if k.desc != k.back {
		op = "<"
	}
	at := arg(k.at.id)
	if k.kind == byID {
		return fmt.Sprintf("%s %s %s", id, op, at)
	}
	v, _ := k.value(k.at.value)
	if k.kind != byFloat {
		return fmt.Sprintf("(%s, %s) %s (%s, %s)", col, id, op, arg(v), at)
	}
	// NULLs come last going forward, first going back.
	switch {
	case v == nil && !k.back:
		return fmt.Sprintf("(%s IS NULL AND %s %s %s)", col, id, op, at)
	case v == nil:
		return fmt.Sprintf("(%s IS NOT NULL OR %s %s %s)", col, id, op, at)
	}
	p := arg(v)
	also := ""
	if !k.back {
		also = " OR " + col + " IS NULL"
	}
	return fmt.Sprintf("(%s %s %s OR (%s = %s AND %s %s %s)%s)", col, op, p, col, p, id, op, at, also)
}

// order is the ORDER BY of the page's rows as shown (back: walked
// backwards, for a Before cursor), on the sort column col and id.
func (k keyset) order(col, id string, back bool) string {
	desc := k.desc != back
	dir := map[bool]string{true: "DESC", false: "ASC"}[desc]
	if k.kind == byID {
		return id + " " + dir
	}
	nulls := ""
	if k.kind == byFloat {
		// On the NOT NULL columns NULLS LAST would keep a descending sort
		// off their indexes.
		nulls = map[bool]string{true: " NULLS FIRST", false: " NULLS LAST"}[back]
	}
	return fmt.Sprintf("%s %s%s, %s %s", col, dir, nulls, id, dir)
}

// limits is the LIMIT and OFFSET of the page query: one row more than
// the page, which says whether there is a page beyond.
func (k keyset) limits() string {
	return fmt.Sprintf("LIMIT %d OFFSET %d", k.limit+1, k.offset)
}

// listSQL is what a list's page statement is made of.
type listSQL struct {
	table, alias string // "jobs", "j"
	columns      string // the select list of one item, on alias
	joins        string // joined to each item, e.g. its creator
	cond         string // the filter, on alias
	args         []any
	narrow       bool // filtered by a search or a tag, whose index may give few rows
}

type scanner = interface{ Scan(...any) error }

// withTotal scans a row whose last column is the list's total.
type withTotal struct {
	row   scanner
	total *int
}

func (w withTotal) Scan(dest ...any) error { return w.row.Scan(append(dest, w.total)...) }

// How a page statement finds its rows and the total.
const (
	inOrder  = iota // walk the sort's index, filtering; the total by a capped count
	inFilter        // take the filter's (up to CountCap+1) rows, count and sort them
	pastCap         // walk the sort's index: more than CountCap rows match
)

// statement is the page statement of l in mode: the page's ids (and the
// total) chosen first, from an index, then their rows.
func (l listSQL) statement(k keyset, mode int) (string, []any) {
	args := append([]any{}, l.args...)
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	a := l.alias
	col, id := k.col, a+".id"
	var inner string
	switch mode {
	case inFilter:
		// The filter is fenced off the page's LIMIT by its own, or the
		// planner, hoping to find a page early, walks the whole tenant in
		// sort order; counted over the window before the cursor applies.
		where := k.where("m.k", "m.id", arg)
		if where != "" {
			where = " WHERE " + where
		}
		inner = fmt.Sprintf(`SELECT m.id, m.total FROM (SELECT x.id, x.k, count(*) OVER () AS total
			FROM (SELECT %s, %s AS k FROM %s %s WHERE %s LIMIT %d) x) m%s ORDER BY %s %s`,
			id, col, l.table, a, l.cond, CountCap+1, where, k.order("m.k", "m.id", k.back), k.limits())
	default:
		total := fmt.Sprintf(`(SELECT count(*) FROM (SELECT 1 FROM %s %s WHERE %s LIMIT %d) c)`, l.table, a, l.cond, CountCap+1)
		if mode == pastCap {
			total = strconv.Itoa(CountCap + 1)
		}
		cond := l.cond
		if w := k.where(col, id, arg); w != "" {
			cond += " AND " + w
		}
		inner = fmt.Sprintf(`SELECT %s, %s AS total FROM %s %s WHERE %s ORDER BY %s %s`,
			id, total, l.table, a, cond, k.order(col, id, k.back), k.limits())
	}
	return fmt.Sprintf(`SELECT %s, page.total FROM (%s) page JOIN %s %s ON %s = page.id%s ORDER BY %s`,
		l.columns, inner, l.table, a, id, l.joins, k.order(col, id, false)), args
}

// listPage returns the rows of a page of l (one more than asked, see
// pageOf) and the total, capped: in one statement, but for an empty page
// (whose total is counted apart) and a search or tag matching more than
// CountCap rows (tried in its index first, then walked in order).
func listPage[T any](ctx context.Context, s *Store, l listSQL, k keyset, scan func(scanner) (T, error)) ([]T, int, error) {
	run := func(mode int) ([]T, int, error) {
		q, args := l.statement(k, mode)
		return pageRows(ctx, s, q, args, scan)
	}
	mode := inOrder
	if l.narrow {
		rows, total, err := run(inFilter)
		if err != nil || (total >= 0 && total <= CountCap) {
			return rows, total, err
		}
		if total < 0 {
			if total, err = s.cappedCount(ctx, l.table+" "+l.alias, l.cond, l.args); err != nil || total <= CountCap {
				return rows, total, err
			}
		}
		mode = pastCap
	}
	rows, total, err := run(mode)
	if err == nil && total < 0 && mode == pastCap {
		total = CountCap + 1
	} else if err == nil && total < 0 {
		total, err = s.cappedCount(ctx, l.table+" "+l.alias, l.cond, l.args)
	}
	return rows, total, err
}

// pageRows runs a page statement whose rows end with the list's total,
// and returns the rows and the total (-1 when there is no row).
func pageRows[T any](ctx context.Context, s *Store, q string, args []any, scan func(scanner) (T, error)) ([]T, int, error) {
	s.explain(ctx, q, args)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []T
	total := -1
	for rows.Next() {
		it, err := scan(withTotal{rows, &total})
		if err != nil {
			return nil, 0, err
		}
		out = append(out, it)
	}
	return out, total, rows.Err()
}

// deref makes a scan of *T one of T.
func deref[T any](scan func(scanner) (*T, error)) func(scanner) (T, error) {
	return func(r scanner) (T, error) {
		p, err := scan(r)
		if err != nil {
			var zero T
			return zero, err
		}
		return *p, nil
	}
}

// pageOf trims the extra row off rows (in the order shown) and makes the
// cursors either side; pos gives a row's sort value (as text) and id.
func pageOf[T any](k keyset, rows []T, total int, pos func(*T) (string, int64)) Page[T] {
	p := Page[T]{Total: total}
	more := len(rows) > k.limit
	if more && k.back {
		rows = rows[1:]
	} else if more {
		rows = rows[:k.limit]
	}
	p.Items = rows
	if len(rows) == 0 {
		return p
	}
	at := func(r *T) string {
		v, id := pos(r)
		return cursor{key: k.key, desc: k.desc, id: id, value: v}.String()
	}
	if more || k.back {
		p.Next = at(&rows[len(rows)-1])
	}
	if (more && k.back) || (!k.back && (k.at != nil || k.offset > 0)) {
		p.Prev = at(&rows[0])
	}
	return p
}

func timeKey(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
