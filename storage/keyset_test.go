package storage_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"testing"

	"kqi/storage"
	"kqi/storage/storagetest"
)

// keysetFixture is a tenant with 23 inferences whose names, statuses,
// creation times and values tie in places (some values NULL), and 23 data
// with tying names and sizes.
func keysetFixture(t *testing.T) (*storage.Store, int64) {
	t.Helper()
	st, url := storagetest.NewStore(t)
	db, err := sql.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tn, err := st.CreateTenant(context.Background(), "keys")
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO jobs (tenant_id, kind, name, image, command, cpu, memory_gb, gpu, partition, status, created_at, output_value)
			SELECT $1, 'inference', 'run-' || (g % 7), 'img', 'true', 1, 1, 0, 'cpu',
				(ARRAY['completed', 'failed', 'running'])[g % 3 + 1], '2026-01-01'::timestamptz + (g % 5) * interval '1 hour',
				CASE WHEN g % 4 = 0 THEN NULL ELSE (g % 6) * 0.5 END
			FROM generate_series(1, 23) g`,
		`INSERT INTO data (tenant_id, name, created_at) SELECT $1, 'datum-' || (g % 4), '2026-01-01'::timestamptz + (g % 3) * interval '1 second'
			FROM generate_series(1, 23) g`,
		`INSERT INTO data_files (data_id, name, size) SELECT id, 'f', id % 5 FROM data WHERE tenant_id = $1`,
	} {
		if _, err := db.Exec(q, tn.ID); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return st, tn.ID
}

// Walking a list by its Next cursors gives every row once, in the order
// of one page holding them all; walking back by Prev from the last page
// gives the same pages, for every sort and direction.
func TestCursorsWalkEveryRowOnce(t *testing.T) {
	st, tenant := keysetFixture(t)
	ctx := context.Background()
	for _, sort := range []string{"id", "name", "status", "created_at", "value"} {
		for _, desc := range []bool{false, true} {
			t.Run(fmt.Sprintf("jobs %s desc=%v", sort, desc), func(t *testing.T) {
				page := func(after, before string, per int) storage.Page[storage.Job] {
					t.Helper()
					p, err := st.JobsPage(ctx, tenant, storage.JobFilter{Kind: "inference", Sort: sort, Desc: desc, PerPage: per, After: after, Before: before})
					if err != nil {
						t.Fatal(err)
					}
					return p
				}
				walk(t, func(after, before string, per int) ([]int64, string, string) {
					p := page(after, before, per)
					return ids(p.Items, func(j storage.Job) int64 { return j.ID }), p.Next, p.Prev
				})
			})
		}
	}
	for _, sort := range []string{"id", "name", "created_at", "size"} {
		for _, desc := range []bool{false, true} {
			t.Run(fmt.Sprintf("data %s desc=%v", sort, desc), func(t *testing.T) {
				walk(t, func(after, before string, per int) ([]int64, string, string) {
					p, err := st.DataPage(ctx, tenant, storage.DataFilter{Sort: sort, Desc: desc, PerPage: per, After: after, Before: before})
					if err != nil {
						t.Fatal(err)
					}
					return ids(p.Items, func(d storage.Data) int64 { return d.ID }), p.Next, p.Prev
				})
			})
		}
	}
}

func ids[T any](items []T, id func(T) int64) []int64 {
	out := make([]int64, len(items))
	for i, it := range items {
		out[i] = id(it)
	}
	return out
}

// walk checks one list, given as a function from (after, before, per page)
// to the page's ids and its cursors.
func walk(t *testing.T, list func(after, before string, per int) ([]int64, string, string)) {
	t.Helper()
	all, next, prev := list("", "", 100)
	if len(all) != 23 || next != "" || prev != "" {
		t.Fatalf("one page of all: %d rows, next %q, prev %q", len(all), next, prev)
	}
	var got [][]int64
	var cursors []string // the Prev of each page
	after := ""
	for {
		rows, next, prev := list(after, "", 5)
		if (after == "") != (prev == "") {
			t.Fatalf("page after %q: prev %q", after, prev)
		}
		got, cursors = append(got, rows), append(cursors, prev)
		if next == "" {
			break
		}
		after = next
		if len(got) > 10 {
			t.Fatal("the walk does not end")
		}
	}
	if flat := slices.Concat(got...); !slices.Equal(flat, all) {
		t.Fatalf("pages by Next:\n%v\nwant\n%v", flat, all)
	}
	// Back from the last page: each Prev gives the page before.
	for i := len(got) - 1; i > 0; i-- {
		rows, next, _ := list("", cursors[i], 5)
		if !slices.Equal(rows, got[i-1]) || next == "" {
			t.Fatalf("page before page %d: %v (next %q), want %v", i+1, rows, next, got[i-1])
		}
	}
	_, _, prev = list("", cursors[1], 5)
	if prev != "" {
		t.Fatalf("the first page, reached back, has a prev: %q", prev)
	}
}

// A cursor this list did not give for the sort in use is refused, not
// read as some other page; one past the end gives an empty page.
func TestBadCursorsAreRefused(t *testing.T) {
	st, tenant := keysetFixture(t)
	ctx := context.Background()
	p, err := st.JobsPage(ctx, tenant, storage.JobFilter{Kind: "inference", Sort: "name", Desc: true, PerPage: 5})
	if err != nil || p.Next == "" {
		t.Fatalf("first page: next %q, %v", p.Next, err)
	}
	for _, tc := range []struct {
		name string
		f    storage.JobFilter
	}{
		{"garbage", storage.JobFilter{After: "!!not a cursor"}},
		{"not base64 of a cursor", storage.JobFilter{After: "aGVsbG8"}},
		{"another sort's", storage.JobFilter{Sort: "status", Desc: true, After: p.Next}},
		{"the other direction's", storage.JobFilter{Sort: "name", Desc: false, After: p.Next}},
		{"after and before", storage.JobFilter{Sort: "name", Desc: true, After: p.Next, Before: p.Next}},
		{"a value that is not a time", storage.JobFilter{Sort: "created_at", After: "Y3JlYXRlZF9hdC5hLjEueWVzdGVyZGF5"}}, // created_at.a.1.yesterday
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.f.Kind = "inference"
			if _, err := st.JobsPage(ctx, tenant, tc.f); !errors.Is(err, storage.ErrBadCursor) {
				t.Fatalf("err %v, want ErrBadCursor", err)
			}
		})
	}
	// A cursor is a position: the Prev of the last page (its first row)
	// given as After of a one-row page is past the end.
	lastPage, err := st.JobsPage(ctx, tenant, storage.JobFilter{Kind: "inference", Sort: "id", PerPage: 22})
	if err != nil || lastPage.Next == "" {
		t.Fatalf("22 of 23: next %q, %v", lastPage.Next, err)
	}
	end, err := st.JobsPage(ctx, tenant, storage.JobFilter{Kind: "inference", Sort: "id", After: lastPage.Next})
	if err != nil || len(end.Items) != 1 || end.Next != "" || end.Prev == "" {
		t.Fatalf("the last row: %d rows, next %q, prev %q, %v", len(end.Items), end.Next, end.Prev, err)
	}
	past, err := st.JobsPage(ctx, tenant, storage.JobFilter{Kind: "inference", Sort: "id", After: end.Prev})
	if err != nil || len(past.Items) != 0 || past.Next != "" || past.Prev != "" {
		t.Fatalf("past the end: %d rows, next %q, prev %q, %v", len(past.Items), past.Next, past.Prev, err)
	}
}
