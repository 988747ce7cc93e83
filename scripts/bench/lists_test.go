//go:build bench

package bench

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"kqi/portal/portaltest"
	"kqi/storage"
)

// benchLists times each list of the API over a tenant with sc.listRows
// rows, for each filter, sort and a deep page, against an indexed SELECT …
// LIMIT 50 of the same table, and prints the plan of every list query.
func benchLists(t *testing.T, sc scale) {
	ctx := context.Background()
	env := portaltest.New(t)
	db := openDB(t, env.Config.DatabaseURL)
	tn := env.Tenant(t, "bench")
	u := env.User(t, "lister", "Bench-"+rand.Text(), false, "bench")
	tok := env.APIToken(t, u, tn.ID)
	start := time.Now()
	insertJobRows(t, db, tn.ID, "training", sc.listRows, "completed")
	insertJobRows(t, db, tn.ID, "inference", sc.listRows, "completed")
	mustExec(t, db, `INSERT INTO data (tenant_id, name, memo, tags, created_by)
		SELECT $1, 'datum-' || g || '-' || md5(g::text), 'memo ' || g, ARRAY['t' || (g % 50)], $3 FROM generate_series(1, $2) g`, tn.ID, sc.listRows, u.ID)
	mustExec(t, db, `INSERT INTO data_files (data_id, name, size) SELECT id, 'f.bin', id % 1000 FROM data WHERE tenant_id = $1`, tn.ID)
	mustExec(t, db, `INSERT INTO datasets (tenant_id, name, memo, created_by)
		SELECT $1, 'set-' || g || '-' || md5(g::text), '', $3 FROM generate_series(1, $2) g`, tn.ID, sc.listRows, u.ID)
	mustExec(t, db, `VACUUM ANALYZE`) // as autovacuum would: index-only scans need the visibility map
	fmt.Printf("bench: %d rows each of trainings, inferences, data (with a file each), datasets in %s\n", sc.listRows, time.Since(start).Round(time.Second))

	deep := sc.listRows / 30 * 4 / 5
	cases := []struct{ list, query string }{
		{"trainings", ""}, {"trainings", "tag=t7"}, {"trainings", "name=12-"}, {"trainings", "sort=name"}, {"trainings", fmt.Sprintf("page=%d", deep)},
		{"inferences", ""}, {"inferences", "tag=t7"}, {"inferences", "name=12-"},
		{"data", ""}, {"data", "tag=t7"}, {"data", "name=12-"}, {"data", "sort=name"}, {"data", fmt.Sprintf("page=%d", deep)}, {"data", "sort=size"},
		{"datasets", ""}, {"datasets", "name=12-"}, {"datasets", "sort=name"},
	}
	get := func(path string) {
		req, _ := http.NewRequest(http.MethodGet, env.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %v", path, resp.StatusCode, err)
		}
	}
	baseline := func() {
		// Ordered as the index is, so the planner cannot walk the primary
		// key past the inferences inserted after the trainings.
		rows, err := db.QueryContext(ctx, `SELECT id, name FROM jobs WHERE tenant_id = $1 AND kind = 'training'
			ORDER BY tenant_id, kind, id DESC LIMIT 50`, tn.ID)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
		}
		rows.Close()
	}
	for _, c := range cases {
		path := "/api/v1/" + c.list + "?" + c.query
		get(path) // warm
		var kqi, base []time.Duration
		interleave(sc.listRequests, func() {
			s := time.Now()
			get(path)
			kqi = append(kqi, time.Since(s))
		}, func() {
			s := time.Now()
			baseline()
			base = append(base, time.Since(s))
		})
		var mu sync.Mutex
		var conc []time.Duration
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() {
				for range sc.listRequests / 2 {
					s := time.Now()
					get(path)
					mu.Lock()
					conc = append(conc, time.Since(s))
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		p50, p99, c99, b50 := median(kqi), quantile(kqi, 0.99), quantile(conc, 0.99), median(base)
		r := float64(p50) / float64(b50)
		label := c.query
		if label == "" {
			label = "default"
		}
		record(row{measure: fmt.Sprintf("list %s %s: p50 (p99, p99 at 10 clients)", c.list, label),
			kqi: fmt.Sprintf("%s (%.0f, %.0f)", ms(p50), float64(p99)/1e6, float64(c99)/1e6), baseline: ms(b50) + " SQL", ratio: r,
			goal: "p99<50, <150 at 10; ≤10×", pass: p99 < 50*time.Millisecond && c99 < 150*time.Millisecond && r <= 10})
	}
	explainLists(t, env, tn.ID, deep)
}

// explainLists prints the plan of each statement the lists run.
func explainLists(t *testing.T, env *portaltest.Env, tenantID int64, deep int) {
	var out strings.Builder
	ctx := storage.Explain(context.Background(), func(q, plan string) {
		fmt.Fprintf(&out, "\n-- %s\n%s", strings.Join(strings.Fields(q), " "), plan)
	})
	say := func(what string) { fmt.Fprintf(&out, "\n==== %s\n", what) }
	for _, f := range []storage.JobFilter{{}, {Tag: "t7"}, {Name: "12-"}, {Sort: "name", Desc: true}, {Page: deep}} {
		f.Kind, f.Desc = "training", true
		say(fmt.Sprintf("trainings %+v", f))
		if _, _, err := env.Store.ListJobs(ctx, tenantID, f); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []storage.DataFilter{{}, {Tag: "t7"}, {Name: "12-"}, {Sort: "name"}, {Page: deep}, {Sort: "size"}} {
		f.Desc = true
		say(fmt.Sprintf("data %+v", f))
		if _, _, err := env.Store.ListData(ctx, tenantID, f); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []storage.DatasetFilter{{}, {Name: "12-"}, {Sort: "name"}} {
		f.Desc = true
		say(fmt.Sprintf("datasets %+v", f))
		if _, _, err := env.Store.ListDatasets(ctx, tenantID, f); err != nil {
			t.Fatal(err)
		}
	}
	fmt.Printf("bench: plans of the list queries\n%s\n", out.String())
}

func mustExec(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}
