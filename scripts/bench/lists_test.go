//go:build bench

package bench

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"kqi/portal/portaltest"
	"kqi/storage"
)

// listCase is one list request measured: its URL (resolved once the
// fixtures exist: a cursor comes from an earlier answer) and the storage
// call that runs the same statements, for their plans.
type listCase struct {
	list, label string
	path        string // from /api/v1 or / (pages), with its query
	explain     func(ctx context.Context) error
}

// benchLists times each list over a tenant with sc.listRows rows of
// each, for each filter, sort and a deep page (by cursor, and by the old
// ?page=N), against an indexed SELECT … LIMIT 50 of the same table on a
// pool like the portal's, and prints the plan of every list query.
func benchLists(t *testing.T, sc scale) {
	env := portaltest.New(t)
	db := openListDB(t, env.Config.DatabaseURL)
	tn := env.Tenant(t, "bench")
	pass := "Bench-" + rand.Text()
	u := env.User(t, "lister", pass, false, "bench")
	tok := env.APIToken(t, u, tn.ID)
	browser := env.Browser(t)
	browser.Login("lister", pass)
	start := time.Now()
	insertJobRows(t, db, tn.ID, "training", sc.listRows, "completed")
	insertJobRows(t, db, tn.ID, "inference", sc.listRows, "completed")
	insertJobRows(t, db, tn.ID, "preprocess", sc.listRows, "completed")
	mustExec(t, db, `UPDATE jobs SET output_value = (id % 997) / 10.0 WHERE tenant_id = $1 AND kind = 'inference' AND id % 3 > 0`, tn.ID)
	mustExec(t, db, `INSERT INTO data (tenant_id, name, memo, tags, created_by)
		SELECT $1, 'datum-' || g || '-' || md5(g::text), 'memo ' || g, ARRAY['t' || (g % 50)], $3 FROM generate_series(1, $2) g`, tn.ID, sc.listRows, u.ID)
	mustExec(t, db, `INSERT INTO data_files (data_id, name, size) SELECT id, 'f.bin', id % 1000 FROM data WHERE tenant_id = $1`, tn.ID)
	mustExec(t, db, `INSERT INTO datasets (tenant_id, name, memo, created_by)
		SELECT $1, 'set-' || g || '-' || md5(g::text), '', $3 FROM generate_series(1, $2) g`, tn.ID, sc.listRows, u.ID)
	mustExec(t, db, `INSERT INTO preprocesses (tenant_id, name, command, created_by)
		SELECT $1, 'prep-' || g || '-' || md5(g::text), 'true', $3 FROM generate_series(1, $2) g`, tn.ID, sc.listRows, u.ID)
	// One preprocess ran on every datum: a history of listRows entries,
	// each with its job (a task of one array).
	var pre int64
	if err := db.QueryRow(`SELECT min(id) FROM preprocesses WHERE tenant_id = $1`, tn.ID).Scan(&pre); err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, `INSERT INTO preprocess_histories (tenant_id, preprocess_id, data_id, job_id, created_by)
		SELECT $1, $2, d.id, j.id, $3
		FROM (SELECT id, row_number() OVER (ORDER BY id) n FROM data WHERE tenant_id = $1) d
		JOIN (SELECT id, row_number() OVER (ORDER BY id) n FROM jobs WHERE tenant_id = $1 AND kind = 'preprocess') j USING (n)`, tn.ID, pre, u.ID)
	mustExec(t, db, `VACUUM ANALYZE`) // as autovacuum would: index-only scans need the visibility map
	fmt.Printf("bench: %d rows each of trainings, inferences, data (with a file each), datasets, preprocesses, one preprocess's history (with a job each) in %s\n",
		sc.listRows, time.Since(start).Round(time.Second))

	get := func(path string) []byte {
		req, _ := http.NewRequest(http.MethodGet, env.URL+path, nil)
		client := browser.Client
		if strings.HasPrefix(path, "/api/") {
			req.Header.Set("Authorization", "Bearer "+tok)
			client = http.DefaultClient
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %v %.300s", path, resp.StatusCode, err, body)
		}
		return body
	}
	// next is the cursor a list answer gives for the page after.
	next := func(path string) string {
		var l struct{ Next string }
		if err := json.Unmarshal(get(path), &l); err != nil || l.Next == "" {
			t.Fatalf("GET %s: no next cursor (%v)", path, err)
		}
		return l.Next
	}
	deep := sc.listRows / 30 * 4 / 5
	jobs := func(kind, label, query string, f storage.JobFilter) listCase {
		f.Kind, f.Desc = kind, true
		return listCase{kind + "s", label, "/api/v1/" + kind + "s?" + query, func(ctx context.Context) error {
			_, err := env.Store.JobsPage(ctx, tn.ID, f)
			return err
		}}
	}
	data := func(label, query string, f storage.DataFilter) listCase {
		f.Desc = true
		return listCase{"data", label, "/api/v1/data?" + query, func(ctx context.Context) error {
			_, err := env.Store.DataPage(ctx, tn.ID, f)
			return err
		}}
	}
	datasets := func(label, query string, f storage.DatasetFilter) listCase {
		f.Desc = true
		return listCase{"datasets", label, "/api/v1/datasets?" + query, func(ctx context.Context) error {
			_, err := env.Store.DatasetsPage(ctx, tn.ID, f)
			return err
		}}
	}
	preprocesses := func(label, query string, f storage.PreprocessFilter) listCase {
		f.Desc = true
		return listCase{"preprocesses", label, "/api/v1/preprocesses?" + query, func(ctx context.Context) error {
			_, err := env.Store.PreprocessesPage(ctx, tn.ID, f)
			return err
		}}
	}
	histories := func(label, query string, f storage.HistoryFilter) listCase {
		f.PreprocessID = pre
		return listCase{"histories", label, fmt.Sprintf("/api/v1/preprocesses/%d/histories?%s", pre, query), func(ctx context.Context) error {
			_, err := env.Store.HistoriesPage(ctx, tn.ID, f)
			return err
		}}
	}
	// dataPage is what the data page reads beside the session: the page
	// and the tenant's tags.
	dataPage := func(f storage.DataFilter) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			f.Desc = true
			if _, err := env.Store.DataPage(ctx, tn.ID, f); err != nil {
				return err
			}
			_, err := env.Store.DataTags(ctx, tn.ID)
			return err
		}
	}
	page := fmt.Sprintf("page=%d", deep)
	cursor := func(path string) string { return next(path + page) }
	tc := cursor("/api/v1/trainings?")
	tcName := cursor("/api/v1/trainings?sort=name&")
	ic := cursor("/api/v1/inferences?sort=value&")
	dc := cursor("/api/v1/data?")
	dcSize := cursor("/api/v1/data?sort=size&")
	sc2 := cursor("/api/v1/datasets?sort=name&")
	pc := cursor("/api/v1/preprocesses?")
	hc := cursor(fmt.Sprintf("/api/v1/preprocesses/%d/histories?", pre))
	after := func(c string) string { return "after=" + url.QueryEscape(c) }
	cases := []listCase{
		jobs("training", "default", "", storage.JobFilter{}),
		jobs("training", "tag=t7", "tag=t7", storage.JobFilter{Tag: "t7"}),
		jobs("training", "name=12-", "name=12-", storage.JobFilter{Name: "12-"}),
		jobs("training", "status=completed", "status=completed", storage.JobFilter{Status: "completed"}),
		jobs("training", "sort=name", "sort=name", storage.JobFilter{Sort: "name"}),
		jobs("training", "sort=created_at", "sort=created_at", storage.JobFilter{Sort: "created_at"}),
		jobs("training", "sort=status", "sort=status", storage.JobFilter{Sort: "status"}),
		jobs("training", "deep, by cursor", after(tc), storage.JobFilter{After: tc}),
		jobs("training", "deep, sort=name by cursor", "sort=name&"+after(tcName), storage.JobFilter{Sort: "name", After: tcName}),
		jobs("training", "deep, "+page, page, storage.JobFilter{Page: deep}),
		jobs("inference", "default", "", storage.JobFilter{}),
		jobs("inference", "tag=t7", "tag=t7", storage.JobFilter{Tag: "t7"}),
		jobs("inference", "name=12-", "name=12-", storage.JobFilter{Name: "12-"}),
		jobs("inference", "sort=value", "sort=value", storage.JobFilter{Sort: "value"}),
		jobs("inference", "deep, sort=value by cursor", "sort=value&"+after(ic), storage.JobFilter{Sort: "value", After: ic}),
		data("default", "", storage.DataFilter{}),
		data("tag=t7", "tag=t7", storage.DataFilter{Tag: "t7"}),
		data("name=12-", "name=12-", storage.DataFilter{Name: "12-"}),
		data("sort=name", "sort=name", storage.DataFilter{Sort: "name"}),
		data("sort=size", "sort=size", storage.DataFilter{Sort: "size"}),
		data("sort=created_at", "sort=created_at", storage.DataFilter{Sort: "created_at"}),
		data("deep, by cursor", after(dc), storage.DataFilter{After: dc}),
		data("deep, sort=size by cursor", "sort=size&"+after(dcSize), storage.DataFilter{Sort: "size", After: dcSize}),
		data("deep, "+page, page, storage.DataFilter{Page: deep}),
		datasets("default", "", storage.DatasetFilter{}),
		datasets("name=12-", "name=12-", storage.DatasetFilter{Name: "12-"}),
		datasets("sort=name", "sort=name", storage.DatasetFilter{Sort: "name"}),
		datasets("deep, sort=name by cursor", "sort=name&"+after(sc2), storage.DatasetFilter{Sort: "name", After: sc2}),
		preprocesses("default", "", storage.PreprocessFilter{}),
		preprocesses("name=12-", "name=12-", storage.PreprocessFilter{Name: "12-"}),
		preprocesses("sort=name", "sort=name", storage.PreprocessFilter{Sort: "name"}),
		preprocesses("deep, by cursor", after(pc), storage.PreprocessFilter{After: pc}),
		histories("default", "", storage.HistoryFilter{}),
		histories("deep, by cursor", after(hc), storage.HistoryFilter{After: hc}),
		// The pages (HTML) do what the API does and more: the data page
		// also lists the tenant's tags, the inference page the parent
		// filter's choices.
		{"page /data", "default", "/data", dataPage(storage.DataFilter{})},
		{"page /data", "tag=t7", "/data?tag=t7", dataPage(storage.DataFilter{Tag: "t7"})},
		{"page /trainings", "deep, by cursor", "/trainings?" + after(tc), jobs("training", "", "", storage.JobFilter{After: tc}).explain},
		{"page /inferences", "default", "/inferences", func(ctx context.Context) error {
			for _, k := range []string{"training", "inference"} {
				if _, err := env.Store.JobChoices(ctx, tn.ID, k, 200); err != nil {
					return err
				}
			}
			_, err := env.Store.JobsPage(ctx, tn.ID, storage.JobFilter{Kind: "inference", Desc: true})
			return err
		}},
	}

	base := baseline(t, db, tn.ID)
	for _, c := range cases {
		get(c.path) // warm
		var kqi, floor []time.Duration
		interleave(sc.listRequests, func() {
			s := time.Now()
			get(c.path)
			kqi = append(kqi, time.Since(s))
		}, func() {
			s := time.Now()
			base()
			floor = append(floor, time.Since(s))
		})
		var mu sync.Mutex
		var conc []time.Duration
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() {
				for range sc.listRequests / 2 {
					s := time.Now()
					get(c.path)
					mu.Lock()
					conc = append(conc, time.Since(s))
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		p50, p99, c99, b50 := median(kqi), quantile(kqi, 0.99), quantile(conc, 0.99), median(floor)
		r := float64(p50) / float64(b50)
		goal, pass := "p99<50, <150 at 10; ≤10×", p99 < 50*time.Millisecond && c99 < 150*time.Millisecond && r <= 10
		if strings.Contains(c.label, "page=") {
			// Old links: the pages link by cursor, so this is a figure
			// to watch, not a goal.
			goal, pass = "none: OFFSET, old links", true
		}
		record(row{measure: fmt.Sprintf("list %s %s: p50 (p99, p99 at 10 clients)", c.list, c.label),
			kqi: fmt.Sprintf("%s (%.0f, %.0f)", ms(p50), float64(p99)/1e6, float64(c99)/1e6), baseline: ms(b50) + " SQL", ratio: r,
			goal: goal, pass: pass})
	}
	explainLists(t, cases, db, tn.ID)
}

// baselineQuery is the floor a list is measured against: the 50 newest
// trainings of the tenant by the index, as an id-first page (the planner,
// asked for the whole rows at once, walks the primary key backwards past
// every newer row of other kinds).
const baselineQuery = `SELECT j.id, j.name, j.status, j.created_at FROM (SELECT id FROM jobs WHERE tenant_id = $1 AND kind = $2
	ORDER BY id DESC LIMIT 50) p JOIN jobs j ON j.id = p.id ORDER BY j.id DESC`

// baseline returns the baseline measure: baselineQuery on db, as the
// portal's storage runs its statements (parameters, no prepared statement).
func baseline(t *testing.T, db *sql.DB, tenantID int64) func() {
	return func() {
		rows, err := db.Query(baselineQuery, tenantID, "training")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for rows.Next() {
			n++
		}
		if rows.Close(); rows.Err() != nil || n != 50 {
			t.Fatalf("baseline: %d rows, %v", n, rows.Err())
		}
	}
}

// openListDB opens the bench's own pool on the portal's database, sized as
// storage.Open sizes the portal's (20 open, 20 idle: no new connection
// per query).
func openListDB(t *testing.T, url string) *sql.DB {
	db := openDB(t, url)
	db.SetMaxOpenConns(20)
	db.SetMaxIdleConns(20)
	return db
}

// explainLists prints one line per statement of each list case: the plan's
// nodes that read (scans, sorts) and the execution time; BENCH_PLANS=full
// prints the whole plans too.
func explainLists(t *testing.T, cases []listCase, db *sql.DB, tenantID int64) {
	full := os.Getenv("BENCH_PLANS") == "full"
	var out strings.Builder
	line := func(label, q, plan string) {
		fmt.Fprintf(&out, "bench: plan %-44s %s\n", label, planSummary(q, plan))
		if full {
			fmt.Fprintf(&out, "-- %s\n%s\n", strings.Join(strings.Fields(q), " "), plan)
		}
	}
	for _, c := range cases {
		if c.explain == nil {
			continue
		}
		label := c.list + " " + c.label
		ctx := storage.Explain(context.Background(), func(q, plan string) { line(label, q, plan) })
		if err := c.explain(ctx); err != nil {
			t.Fatalf("%s: %v", label, err)
		}
	}
	rows, err := db.Query(`EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) `+baselineQuery, tenantID, "training")
	if err != nil {
		t.Fatal(err)
	}
	var plan strings.Builder
	for rows.Next() {
		var l string
		rows.Scan(&l)
		plan.WriteString(l + "\n")
	}
	rows.Close()
	line("baseline", baselineQuery, plan.String())
	fmt.Printf("bench: plans of the list queries (count: the capped total; page: the page's rows)\n%s", out.String())
}

var (
	planNode = regexp.MustCompile(`^\s*(?:->\s*)?((?:Parallel )?(?:Seq Scan|Index Only Scan(?: Backward)?|Index Scan(?: Backward)?|Bitmap Index Scan|Bitmap Heap Scan|Sort|Incremental Sort) ?(?:using |on )?(\S*)?)[^(]*\(actual rows=(\d+) loops=(\d+)\)`)
	planTime = regexp.MustCompile(`Execution Time: ([0-9.]+) ms`)
)

// planSummary is a plan in one line: which statement, each node that
// reads or sorts with its rows, and the execution time. A Seq Scan is the
// line to look at.
func planSummary(q, plan string) string {
	what := "page"
	if strings.HasPrefix(strings.TrimSpace(q), "SELECT count(*)") {
		what = "count"
	}
	var nodes []string
	for _, l := range strings.Split(plan, "\n") {
		m := planNode.FindStringSubmatch(l)
		if m == nil || (strings.HasSuffix(m[2], "users") && strings.HasPrefix(m[1], "Seq Scan")) {
			continue // the one-row users join and the parents subplan are noise
		}
		rows := m[3]
		if m[4] != "1" {
			rows += "×" + m[4]
		}
		nodes = append(nodes, fmt.Sprintf("%s (%s)", strings.TrimSpace(m[1]), rows))
	}
	t := "?"
	if m := planTime.FindStringSubmatch(plan); m != nil {
		t = m[1]
	}
	return fmt.Sprintf("%-5s %7s ms  %s", what, t, strings.Join(nodes, ", "))
}

func mustExec(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}
