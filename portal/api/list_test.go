package api_test

import (
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"kqi/portal/portaltest"
)

// Every list answer carries the cursors of the pages either side: walking
// by next visits every item once, prev comes back, the old page=N still
// answers, and a cursor the list did not give is a 400 on its parameter.
func TestListCursors(t *testing.T) {
	env := portaltest.New(t)
	tn := env.Tenant(t, "lab")
	u := env.User(t, "alice", pw, false, "lab")
	tok := token(t, env, "alice", "lab")
	db, err := sql.Open("postgres", env.Config.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		`INSERT INTO jobs (tenant_id, kind, name, image, command, cpu, memory_gb, gpu, partition, status, created_by)
			SELECT $1, k, k || '-' || (g % 4), 'img', 'true', 1, 1, 0, 'cpu', 'completed', $2
			FROM generate_series(1, 11) g, unnest(ARRAY['training', 'inference']) k`,
		`INSERT INTO data (tenant_id, name, created_by) SELECT $1, 'datum-' || (g % 4), $2 FROM generate_series(1, 11) g`,
		`INSERT INTO datasets (tenant_id, name, created_by) SELECT $1, 'set-' || (g % 4), $2 FROM generate_series(1, 11) g`,
		`INSERT INTO preprocesses (tenant_id, name, created_by) SELECT $1, 'prep-' || (g % 4), $2 FROM generate_series(1, 11) g`,
		`INSERT INTO preprocess_histories (tenant_id, preprocess_id, data_id, external_status, created_by)
			SELECT $1, (SELECT min(id) FROM preprocesses WHERE tenant_id = $1), id, 'open', $2 FROM data WHERE tenant_id = $1`,
	} {
		if _, err := db.Exec(q, tn.ID, u.ID); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var pre int64
	db.QueryRow(`SELECT min(id) FROM preprocesses WHERE tenant_id = $1`, tn.ID).Scan(&pre)
	for _, path := range []string{"/api/v1/trainings?sort=name", "/api/v1/inferences?sort=name&desc=0", "/api/v1/data?sort=name",
		"/api/v1/datasets?sort=name", "/api/v1/preprocesses?sort=name", fmt.Sprintf("/api/v1/preprocesses/%d/histories?sort=id", pre)} {
		t.Run(path, func(t *testing.T) {
			get := func(extra string) ([]float64, string, string) {
				t.Helper()
				status, out := call(t, env, "GET", path+"&per_page=4"+extra, tok, nil)
				if status != http.StatusOK || out["total"] != float64(11) {
					t.Fatalf("%s: %d %v", extra, status, out)
				}
				var ids []float64
				for _, it := range out["items"].([]any) {
					m := it.(map[string]any)
					id, ok := m["id"].(float64)
					if !ok { // a history entry is its datum's
						id = m["data_id"].(float64)
					}
					ids = append(ids, id)
				}
				next, _ := out["next"].(string)
				prev, _ := out["prev"].(string)
				return ids, next, prev
			}
			seen := map[float64]bool{}
			var pages [][]float64
			var prevs []string
			ids, next, prev := get("")
			for {
				if prev != "" && len(pages) == 0 {
					t.Fatalf("the first page has a prev: %q", prev)
				}
				for _, id := range ids {
					if seen[id] {
						t.Fatalf("id %v twice", id)
					}
					seen[id] = true
				}
				pages, prevs = append(pages, ids), append(prevs, prev)
				if next == "" {
					break
				}
				ids, next, prev = get("&after=" + url.QueryEscape(next))
			}
			if len(seen) != 11 || len(pages) != 3 {
				t.Fatalf("%d items in %d pages", len(seen), len(pages))
			}
			if back, _, _ := get("&before=" + url.QueryEscape(prevs[2])); fmt.Sprint(back) != fmt.Sprint(pages[1]) {
				t.Errorf("before the last page: %v, want %v", back, pages[1])
			}
			if old, next, prev := get("&page=2"); fmt.Sprint(old) != fmt.Sprint(pages[1]) || next == "" || prev == "" {
				t.Errorf("page=2: %v (next %q, prev %q), want %v", old, next, prev, pages[1])
			}
			for _, bad := range []struct{ query, field string }{{"&after=nonsense", "after"}, {"&before=%2A", "before"}} {
				status, out := call(t, env, "GET", path+bad.query, tok, nil)
				fields, _ := out["fields"].([]any)
				if status != http.StatusBadRequest || len(fields) != 1 || fields[0].(map[string]any)["field"] != bad.field {
					t.Errorf("%s: %d %v", bad.query, status, out)
				}
			}
		})
	}
}
