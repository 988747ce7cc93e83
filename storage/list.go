package storage

import (
	"context"
	"fmt"
	"strings"
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
