package storage_test

import (
	"context"
	"database/sql"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"

	"kqi/storage"
	"kqi/storage/storagetest"
)

// listFixture is a tenant with n trainings and n data (one file each)
// inserted in bulk, tagged t0…t49, analysed as autovacuum would.
func listFixture(t *testing.T, n int) (*storage.Store, int64) {
	t.Helper()
	st, url := storagetest.NewStore(t)
	db, err := sql.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tn, err := st.CreateTenant(context.Background(), "big")
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO jobs (tenant_id, kind, name, image, command, cpu, memory_gb, gpu, partition, status, tags)
			SELECT $1, 'training', 'run-' || g, 'img', 'true', 1, 1, 0, 'cpu', 'completed', ARRAY['t' || (g % 50)] FROM generate_series(1, $2) g`,
		`INSERT INTO data (tenant_id, name, tags) SELECT $1, 'datum-' || g, ARRAY['t' || (g % 50)] FROM generate_series(1, $2) g`,
		`INSERT INTO data_files (data_id, name, size) SELECT id, 'f', id FROM data WHERE tenant_id = $1 AND $2 > 0`,
		`VACUUM ANALYZE`,
	} {
		args := []any{tn.ID, n}
		if q == `VACUUM ANALYZE` {
			args = nil
		}
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return st, tn.ID
}

// Totals stop counting at CountCap (reported as CountCap+1, "more than");
// below it they are exact, and pages past the cap still answer.
func TestListCountsStopAtTheCap(t *testing.T) {
	const n = storage.CountCap + 25
	st, tenant := listFixture(t, n)
	ctx := context.Background()
	tagged := 0
	for g := 1; g <= n; g++ {
		if g%50 == 7 {
			tagged++
		}
	}
	for _, tc := range []struct {
		name string
		f    storage.JobFilter
		want int
	}{
		{"all", storage.JobFilter{}, storage.CountCap + 1},
		{"a tag", storage.JobFilter{Tag: "t7"}, tagged},
		{"a search", storage.JobFilter{Name: "run-1000"}, 11}, // run-1000, run-10000…run-10009
		{"nothing", storage.JobFilter{Name: "nope"}, 0},
		// Tried in the search's index first, then walked in order.
		{"a search matching more", storage.JobFilter{Name: "run-"}, storage.CountCap + 1},
		{"a tag, second page by cursor", storage.JobFilter{Tag: "t7", After: "aWQuZC4xMDAwMC4"}, tagged}, // id.d.10000.
		{"a tag past its end", storage.JobFilter{Tag: "t7", After: "aWQuZC4xLg"}, tagged},                // id.d.1.
		{"a search matching more, past its end", storage.JobFilter{Name: "run-", After: "aWQuZC4xLg"}, storage.CountCap + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.f.Kind, tc.f.Desc = "training", true
			got, total, err := st.ListJobs(ctx, tenant, tc.f)
			if err != nil || total != tc.want {
				t.Fatalf("total %d, %v; want %d", total, err, tc.want)
			}
			for i := 1; i < len(got); i++ {
				if got[i-1].ID < got[i].ID {
					t.Fatalf("rows %d and %d out of order", i-1, i)
				}
			}
			if tc.f.After == "" && tc.want > 0 && len(got) != min(30, tc.want) {
				t.Fatalf("%d rows", len(got))
			}
		})
	}
	last := n/30 + 1
	page, _, err := st.ListJobs(ctx, tenant, storage.JobFilter{Kind: "training", Page: last})
	if err != nil || len(page) != n%30 || page[len(page)-1].Name != "run-10025" {
		t.Fatalf("page %d past the cap: %d rows, %v", last, len(page), err)
	}
}

// The tag filter, the name search and sort by name go through their
// indexes (the plans of the very statements ListJobs and ListData run),
// and a search fenced off the page's LIMIT keeps the order asked for.
func TestListsUseTheirIndexes(t *testing.T) {
	st, tenant := listFixture(t, 20_000)
	plans := map[string]string{}
	var current string
	ctx := storage.Explain(context.Background(), func(q, plan string) { plans[current] += plan })
	for _, tc := range []struct {
		name  string
		f     storage.JobFilter
		index string
	}{
		{"tag", storage.JobFilter{Tag: "t7"}, "jobs_training_tags_idx"},
		{"search", storage.JobFilter{Name: "un-123"}, "jobs_training_name_trgm_idx"},
		{"sort by name", storage.JobFilter{Sort: "name", Desc: true}, "jobs_tenant_kind_name_idx"},
		// The rows of a deep page are read for that page alone, not for
		// the 15,000 it skips.
		{"deep page", storage.JobFilter{Page: 500}, "on jobs j (actual rows=1 loops=31)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			current = tc.name
			tc.f.Kind = "training"
			got, _, err := st.ListJobs(ctx, tenant, tc.f)
			if err != nil || len(got) == 0 {
				t.Fatalf("%d rows, %v", len(got), err)
			}
			if !strings.Contains(plans[tc.name], tc.index) {
				t.Errorf("plan without %s:\n%s", tc.index, plans[tc.name])
			}
			for i := 1; i < len(got); i++ {
				a, b := got[i-1], got[i]
				if (tc.f.Sort == "name" && a.Name < b.Name) || (tc.f.Sort == "" && a.ID > b.ID) {
					t.Fatalf("rows %d and %d out of order: %q (%d), %q (%d)", i-1, i, a.Name, a.ID, b.Name, b.ID)
				}
			}
		})
	}
	current = "data by size"
	got, _, err := st.ListData(ctx, tenant, storage.DataFilter{Sort: "size", Desc: true, PerPage: 5})
	if err != nil || len(got) != 5 || got[0].TotalSize < got[4].TotalSize || got[0].FileCount != 1 {
		t.Fatalf("data by size: %+v, %v", got, err)
	}
	if !strings.Contains(plans[current], "data_tenant_size_idx") {
		t.Errorf("sort by size without its index:\n%s", plans[current])
	}
}

// A tag matches whole tags only, whatever characters it holds.
func TestTagFilterMatchesWholeTags(t *testing.T) {
	st, _ := storagetest.NewStore(t)
	ctx := context.Background()
	tn, _ := st.CreateTenant(ctx, "lab")
	ids := map[string]int64{}
	for _, tag := range []string{"a", "ab", "a,b", `{x}`, `q"t`} {
		id, _ := st.NextDataID(ctx)
		if err := st.CreateData(ctx, storage.NewData{ID: id, TenantID: tn.ID, Name: "d-" + tag, Tags: []string{tag}}); err != nil {
			t.Fatal(err)
		}
		ids[tag] = id
	}
	for tag, id := range ids {
		got, total, err := st.ListData(ctx, tn.ID, storage.DataFilter{Tag: tag})
		if err != nil || total != 1 || len(got) != 1 || got[0].ID != id {
			t.Errorf("tag %q: %d rows (total %d), %v", tag, len(got), total, err)
		}
	}
}

// A datum's file count and size follow its files, added or removed.
func TestDataTotalsFollowItsFiles(t *testing.T) {
	st, _ := storagetest.NewStore(t)
	ctx := context.Background()
	tn, _ := st.CreateTenant(ctx, "lab")
	id, _ := st.NextDataID(ctx)
	if err := st.CreateData(ctx, storage.NewData{ID: id, TenantID: tn.ID, Name: "d", Files: []storage.NewFile{{Name: "a", Size: 3}, {Name: "b", Size: 4}}}); err != nil {
		t.Fatal(err)
	}
	check := func(files int, size int64) {
		t.Helper()
		d, err := st.DataByID(ctx, tn.ID, id)
		if err != nil || d.FileCount != files || d.TotalSize != size {
			t.Fatalf("datum: %d files, %d bytes, %v; want %d, %d", d.FileCount, d.TotalSize, err, files, size)
		}
	}
	check(2, 7)
	if err := st.AddDataFiles(ctx, tn.ID, id, []storage.NewFile{{Name: "c", Size: 10}}); err != nil {
		t.Fatal(err)
	}
	check(3, 17)
	if err := st.RemoveDataFile(ctx, tn.ID, id, "a"); err != nil {
		t.Fatal(err)
	}
	check(2, 14)
}

// The tag suggestions follow the data's tags as data are created,
// retagged and deleted, each tenant its own.
func TestDataTagsFollowTheData(t *testing.T) {
	st, _ := storagetest.NewStore(t)
	ctx := context.Background()
	lab, _ := st.CreateTenant(ctx, "lab")
	other, _ := st.CreateTenant(ctx, "other")
	create := func(tenant int64, tags ...string) int64 {
		t.Helper()
		id, _ := st.NextDataID(ctx)
		if err := st.CreateData(ctx, storage.NewData{ID: id, TenantID: tenant, Name: "d", Tags: tags}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	want := func(tenant int64, tags ...string) {
		t.Helper()
		got, err := st.DataTags(ctx, tenant)
		if err != nil || strings.Join(got, ",") != strings.Join(tags, ",") {
			t.Fatalf("tags %q, %v; want %q", got, err, tags)
		}
	}
	want(lab.ID)
	a := create(lab.ID, "b", "a", "b")
	b := create(lab.ID, "b", "c")
	create(other.ID, "z")
	want(lab.ID, "a", "b", "c")
	want(other.ID, "z")
	if err := st.UpdateData(ctx, lab.ID, a, "d", "", []string{"d"}); err != nil {
		t.Fatal(err)
	}
	want(lab.ID, "b", "c", "d")
	if err := st.DeleteData(ctx, lab.ID, b); err != nil {
		t.Fatal(err)
	}
	want(lab.ID, "d")
	want(other.ID, "z")
}

// The data of a tag alone, by id, come from the tag's entries and its
// count (data_tag_items, data_tags) instead of through the data's GIN
// index: they answer exactly what the filter through the data does (the
// same tag with a filter that keeps every datum), page by page either way,
// by cursor and by OFFSET, past the end, for a tag held by more than
// CountCap data and for tags no datum of the tenant has, and still after
// data are retagged, deleted and created.
func TestDataOfATagAnswersAsTheFilter(t *testing.T) {
	st, url := storagetest.NewStore(t)
	db, err := sql.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	lab, _ := st.CreateTenant(ctx, "lab")
	other, _ := st.CreateTenant(ctx, "other")
	for _, q := range []struct {
		tenant int64
		sql    string
	}{
		{lab.ID, `INSERT INTO data (tenant_id, name, tags) SELECT $1, 'd-' || g,
			CASE WHEN g % 7 = 0 THEN ARRAY['many', 'seven', 'many'] ELSE ARRAY['many'] END FROM generate_series(1, $2) g`},
		{other.ID, `INSERT INTO data (tenant_id, name, tags) SELECT $1, 'theirs-' || g, ARRAY['seven', 'theirs'] FROM generate_series(1, $2) g`},
	} {
		if _, err := db.Exec(q.sql, q.tenant, storage.CountCap+30); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(`VACUUM ANALYZE`); err != nil {
		t.Fatal(err)
	}
	var plans strings.Builder
	explained := storage.Explain(ctx, func(q, plan string) { plans.WriteString(plan) })
	// same compares one page by the tag alone with the same page through
	// the data, and returns it.
	same := func(f storage.DataFilter) storage.Page[storage.Data] {
		t.Helper()
		plans.Reset()
		got, err := st.DataPage(explained, lab.ID, f)
		if err != nil {
			t.Fatalf("%+v: %v", f, err)
		}
		if !strings.Contains(plans.String(), "data_tag_items_pkey") || strings.Contains(plans.String(), "data_tags_idx") {
			t.Fatalf("%+v: not by the tag's entries:\n%s", f, plans.String())
		}
		f.IDFrom = 1
		want, err := st.DataPage(ctx, lab.ID, f)
		if err != nil {
			t.Fatalf("%+v: %v", f, err)
		}
		if g, w := ids(got.Items, func(d storage.Data) int64 { return d.ID }), ids(want.Items, func(d storage.Data) int64 { return d.ID }); !slices.Equal(g, w) ||
			got.Total != want.Total || got.Next != want.Next || got.Prev != want.Prev {
			t.Fatalf("%+v: %v (total %d, next %q, prev %q), want %v (total %d, next %q, prev %q)", f, g, got.Total, got.Next, got.Prev, w, want.Total, want.Next, want.Prev)
		}
		if len(got.Items) > 0 && (got.Items[0].Name == "" || got.Items[0].TenantID != lab.ID || !slices.Contains(got.Items[0].Tags, f.Tag)) {
			t.Fatalf("%+v: first row %+v", f, got.Items[0])
		}
		return got
	}
	check := func(t *testing.T) {
		for _, desc := range []bool{true, false} {
			f := storage.DataFilter{Tag: "seven", Desc: desc, PerPage: 100}
			var pages []storage.Page[storage.Data]
			for p := same(f); ; p = same(storage.DataFilter{Tag: "seven", Desc: desc, PerPage: 100, After: p.Next}) {
				pages = append(pages, p)
				if p.Next == "" {
					break
				}
			}
			if len(pages) < 10 {
				t.Fatalf("desc=%v: %d pages", desc, len(pages))
			}
			for _, p := range pages[1:] {
				same(storage.DataFilter{Tag: "seven", Desc: desc, PerPage: 100, Before: p.Prev})
			}
			// Past the end: after the last row shown.
			end := pages[len(pages)-1].Items
			past := map[bool]string{true: "d", false: "a"}[desc] + "." + fmt.Sprint(end[len(end)-1].ID) + "."
			if p := same(storage.DataFilter{Tag: "seven", Desc: desc, PerPage: 100, After: base64.RawURLEncoding.EncodeToString([]byte("id." + past))}); len(p.Items) != 0 || p.Total == 0 {
				t.Fatalf("desc=%v past the end: %d rows, total %d", desc, len(p.Items), p.Total)
			}
			same(storage.DataFilter{Tag: "seven", Desc: desc, Page: 3})
			same(storage.DataFilter{Tag: "seven", Desc: desc, Page: 1000})
		}
		if p := same(storage.DataFilter{Tag: "many", Desc: true}); p.Total != storage.CountCap+1 || len(p.Items) != 30 {
			t.Fatalf("many: total %d, %d rows", p.Total, len(p.Items))
		}
		for _, tag := range []string{"theirs", "nobody's"} {
			if p := same(storage.DataFilter{Tag: tag, Desc: true}); p.Total != 0 || len(p.Items) != 0 {
				t.Fatalf("%s: total %d, %d rows", tag, p.Total, len(p.Items))
			}
		}
	}
	t.Run("as inserted", check)
	var seven []int64
	rows, _ := db.Query(`SELECT id FROM data WHERE tenant_id = $1 AND 'seven' = ANY (tags) ORDER BY id LIMIT 3`, lab.ID)
	for rows.Next() {
		var id int64
		rows.Scan(&id)
		seven = append(seven, id)
	}
	rows.Close()
	if err := st.UpdateData(ctx, lab.ID, seven[0], "retagged", "", []string{"many"}); err != nil {
		t.Fatal(err)
	}
	if err := st.UpdateData(ctx, lab.ID, seven[1]+1, "retagged", "", []string{"seven", "seven"}); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteData(ctx, lab.ID, seven[2]); err != nil {
		t.Fatal(err)
	}
	id, _ := st.NextDataID(ctx)
	if err := st.CreateData(ctx, storage.NewData{ID: id, TenantID: lab.ID, Name: "new", Tags: []string{"seven", "new"}}); err != nil {
		t.Fatal(err)
	}
	t.Run("changed", check)
}

// Migration 15 gives the data already there their tags' entries: a tag's
// page by id answers for them as the filter through the data does.
func TestTagEntriesMigrationKeepsTheData(t *testing.T) {
	st, _ := storagetest.NewEmptyStore(t)
	ctx := context.Background()
	if _, err := st.MigrateTo(ctx, 14); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO tenants (id, name) VALUES (1, 'lab'), (2, 'other')`,
		`INSERT INTO data (id, tenant_id, name, tags) VALUES (1, 1, 'a', '{x,y}'), (2, 1, 'b', '{x,x}'), (3, 2, 'c', '{x}'), (4, 1, 'd', '{}')`,
	} {
		if err := st.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		tenant int64
		tag    string
		want   []int64
	}{{1, "x", []int64{2, 1}}, {1, "y", []int64{1}}, {2, "x", []int64{3}}, {2, "y", nil}} {
		p, err := st.DataPage(ctx, c.tenant, storage.DataFilter{Tag: c.tag, Desc: true})
		if got := ids(p.Items, func(d storage.Data) int64 { return d.ID }); err != nil || !slices.Equal(got, c.want) || p.Total != len(c.want) {
			t.Errorf("tenant %d, tag %s: %v (total %d), %v; want %v", c.tenant, c.tag, got, p.Total, err, c.want)
		}
	}
}
