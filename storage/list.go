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

// narrow reports whether a page query should take its rows from a
// filter's index: a search or a tag that matches few rows (the count just
// said so). The filter is then fenced off the page's LIMIT (OFFSET 0), or
// the planner, hoping to find a page early, walks the whole tenant in sort
// order. A filter matching more rows than CountCap finds a page early.
func narrow(filtered bool, total int) bool {
	return filtered && total <= CountCap
}

// explainKey carries the function Explain asks plans to be given to.
type explainKey struct{}

// Explain returns a context under which the list queries (ListJobs,
// ListData, ListDatasets, ListHistories) first hand the plan PostgreSQL
// chooses for each of their statements to show: `make bench` prints them.
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
	id            string // the id column, e.g. "j.id"
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
func newKeyset(key string, sc sortCol, id string, desc bool, page, perPage int, after, before string) (keyset, error) {
	k := keyset{key: key, sortCol: sc, id: id, desc: desc}
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

// where is the condition of the rows past the cursor ("" on a first or
// OFFSET page); arg adds a query argument and returns its placeholder.
func (k keyset) where(arg func(any) string) string {
	if k.at == nil {
		return ""
	}
	op := ">"
	if k.desc != k.back {
		op = "<"
	}
	id := arg(k.at.id)
	if k.kind == byID {
		return fmt.Sprintf("%s %s %s", k.id, op, id)
	}
	v, _ := k.value(k.at.value)
	if k.kind != byFloat {
		return fmt.Sprintf("(%s, %s) %s (%s, %s)", k.col, k.id, op, arg(v), id)
	}
	// NULLs come last going forward, first going back.
	switch {
	case v == nil && !k.back:
		return fmt.Sprintf("(%s IS NULL AND %s %s %s)", k.col, k.id, op, id)
	case v == nil:
		return fmt.Sprintf("(%s IS NOT NULL OR %s %s %s)", k.col, k.id, op, id)
	}
	p := arg(v)
	also := ""
	if !k.back {
		also = " OR " + k.col + " IS NULL"
	}
	return fmt.Sprintf("(%s %s %s OR (%s = %s AND %s %s %s)%s)", k.col, op, p, k.col, p, k.id, op, id, also)
}

// order is the ORDER BY of the page's rows as shown; the page query walks
// it backwards for a Before cursor (see scan).
func (k keyset) order(back bool) string {
	desc := k.desc != back
	dir := map[bool]string{true: "DESC", false: "ASC"}[desc]
	if k.kind == byID {
		return k.id + " " + dir
	}
	nulls := ""
	if k.kind == byFloat {
		// On the NOT NULL columns NULLS LAST would keep a descending sort
		// off their indexes.
		nulls = map[bool]string{true: " NULLS FIRST", false: " NULLS LAST"}[back]
	}
	return fmt.Sprintf("%s %s%s, %s %s", k.col, dir, nulls, k.id, dir)
}

// limits is the LIMIT and OFFSET of the page query: one row more than
// the page, which says whether there is a page beyond.
func (k keyset) limits() string {
	return fmt.Sprintf("LIMIT %d OFFSET %d", k.limit+1, k.offset)
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
