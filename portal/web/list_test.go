package web_test

import (
	"database/sql"
	"fmt"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"kqi/portal/portaltest"
	"kqi/storage"
)

// listWorld is a tenant with 65 of everything a list shows (inserted in
// bulk) and one preprocess with 65 history entries; a second tenant has
// more data than the lists count.
func listWorld(t *testing.T) (*portaltest.Browser, *portaltest.Browser, int64) {
	t.Helper()
	env := portaltest.New(t)
	lab := env.Tenant(t, "lab")
	big := env.Tenant(t, "big")
	u := env.User(t, "alice", pw, false, "lab")
	env.User(t, "bob", pw, false, "big")
	db, err := sql.Open("postgres", env.Config.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var pre int64
	for _, q := range []string{
		`INSERT INTO jobs (tenant_id, kind, name, image, command, cpu, memory_gb, gpu, partition, status, tags, created_by)
			SELECT $1, k, k || '-' || g, 'img', 'true', 1, 1, 0, 'cpu', 'completed', ARRAY['t' || (g % 5)], $2
			FROM generate_series(1, 65) g, unnest(ARRAY['training', 'inference']) k`,
		`INSERT INTO data (tenant_id, name, tags, created_by) SELECT $1, 'datum-' || g, ARRAY['t' || (g % 5)], $2 FROM generate_series(1, 65) g`,
		`INSERT INTO datasets (tenant_id, name, created_by) SELECT $1, 'set-' || g, $2 FROM generate_series(1, 65) g`,
		`INSERT INTO preprocesses (tenant_id, name, created_by) SELECT $1, 'prep-' || g, $2 FROM generate_series(1, 65) g`,
		`INSERT INTO preprocess_histories (tenant_id, preprocess_id, data_id, external_status, created_by)
			SELECT $1, (SELECT min(id) FROM preprocesses WHERE tenant_id = $1), id, 'completed', $2 FROM data WHERE tenant_id = $1`,
	} {
		if _, err := db.Exec(q, lab.ID, u.ID); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := db.QueryRow(`SELECT min(id) FROM preprocesses WHERE tenant_id = $1`, lab.ID).Scan(&pre); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO data (tenant_id, name) SELECT $1, 'many-' || g FROM generate_series(1, $2) g`, big.ID, storage.CountCap+5); err != nil {
		t.Fatal(err)
	}
	alice, bob := env.Browser(t), env.Browser(t)
	alice.Login("alice", pw)
	bob.Login("bob", pw)
	return alice, bob, pre
}

var relLink = regexp.MustCompile(`<a href="([^"]*)" rel="(first|prev|next)">`)

// links are a page's pager links by rel.
func links(body string) map[string]string {
	out := map[string]string{}
	for _, m := range relLink.FindAllStringSubmatch(body, -1) {
		out[m[2]] = html.UnescapeString(m[1])
	}
	return out
}

// Every list page renders in every state: empty, a filter without hits,
// one page, many pages walked by their Next links to the end and back by
// Prev, an old ?page=N link, a cursor past the end, and a bad cursor
// (400 with the way back, never a 500).
func TestListPagesInEveryState(t *testing.T) {
	alice, bob, pre := listWorld(t)
	for _, l := range []struct {
		path, row string
		sorts     bool // a cursor of one sort is refused under another
	}{
		{"/trainings", "training-", true}, {"/inferences", "inference-", true}, {"/data", "datum-", true}, {"/datasets", "set-", true},
		{"/preprocessing", "prep-", true}, {fmt.Sprintf("/preprocessing/%d/histories", pre), "datum-", false},
	} {
		t.Run(l.path, func(t *testing.T) {
			get := func(path string, status int) (portaltest.Page, map[string]string) {
				t.Helper()
				p := alice.Get(path)
				if p.Status != status {
					t.Fatalf("GET %s: %d, want %d: %s", path, p.Status, status, p.Body)
				}
				return p, links(p.Body)
			}
			sep := "?"
			if strings.Contains(l.path, "?") {
				sep = "&"
			}
			// One page holds them all.
			p, ls := get(l.path+sep+"per_page=100", http.StatusOK)
			if len(ls) != 0 || !strings.Contains(p.Body, "65 in all") || !strings.Contains(p.Body, "page 1 of 1") {
				t.Errorf("one page: links %v in %s", ls, p.Body)
			}
			// Many pages: 30, 30, 5 by Next, then back by Prev.
			p, ls = get(l.path, http.StatusOK)
			if ls["next"] == "" || ls["prev"] != "" || ls["first"] != "" || !strings.Contains(p.Body, "page 1 of 3") {
				t.Fatalf("first page: links %v", ls)
			}
			firstRows := strings.Count(p.Body, l.row)
			p2, ls2 := get(ls["next"], http.StatusOK)
			if !strings.Contains(ls["next"], "after=") || ls2["prev"] == "" || ls2["first"] == "" || ls2["next"] == "" {
				t.Fatalf("second page (%s): links %v", ls["next"], ls2)
			}
			p3, ls3 := get(ls2["next"], http.StatusOK)
			if ls3["next"] != "" || ls3["prev"] == "" || strings.Contains(p3.Body, "page 3 of") {
				t.Fatalf("last page: links %v", ls3)
			}
			if back, _ := get(ls3["prev"], http.StatusOK); rows(back.Body, l.row) != rows(p2.Body, l.row) {
				t.Errorf("back from the last page is not the second:\n%v\n%v", rows(back.Body, l.row), rows(p2.Body, l.row))
			}
			if firstRows == 0 || strings.Count(p2.Body, l.row) != firstRows {
				t.Errorf("pages of %d and %d rows", firstRows, strings.Count(p2.Body, l.row))
			}
			// An old offset link still answers, and links by cursor.
			if _, ls := get(l.path+sep+"page=2", http.StatusOK); ls["prev"] == "" || ls["next"] == "" || !strings.Contains(ls["next"], "after=") {
				t.Errorf("?page=2: links %v", ls)
			}
			// Past the end: the page says so and offers the first page.
			past := strings.Replace(ls3["prev"], "before=", "after=", 1) // after the last page's first row: 4 rows
			if p, ls := get(past, http.StatusOK); rows(p.Body, l.row) == "" || ls["next"] != "" {
				t.Errorf("after the last page's first row: links %v", ls)
			}
			if p, ls := get(l.path+sep+"page=9", http.StatusOK); !strings.Contains(p.Body, "the list ends before this page") || ls["first"] == "" {
				t.Errorf("page 9 of 3: links %v in %s", ls, p.Body)
			}
			// A bad cursor is a 400 that says what to do.
			bads := []string{"after=garbage", "before=%21%21", "after=" + cursorOf(ls["next"]) + "&before=" + cursorOf(ls["next"])}
			if l.sorts {
				bads = append(bads, "after="+cursorOf(ls["next"])+"&sort=name")
			}
			for _, bad := range bads {
				if p, _ := get(l.path+sep+bad, http.StatusBadRequest); !strings.Contains(p.Body, "Start again from the list") {
					t.Errorf("%s: %s", bad, p.Body)
				}
			}
		})
	}
	t.Run("filters", func(t *testing.T) {
		for _, path := range []string{"/trainings?name=nothing", "/inferences?tag=none", "/data?tag=none", "/datasets?name=none", "/preprocessing?name=none"} {
			p := alice.Get(path)
			if p.Status != http.StatusOK || !strings.Contains(p.Body, "0 in all") || len(links(p.Body)) != 0 {
				t.Errorf("%s: %d %v", path, p.Status, links(p.Body))
			}
		}
		p := alice.Get("/data?tag=t3&per_page=10")
		if p.Status != http.StatusOK || !strings.Contains(p.Body, "13 in all") || links(p.Body)["next"] == "" {
			t.Errorf("a tag: %d %v", p.Status, links(p.Body))
		}
		for _, tag := range []string{"t0", "t4"} {
			if !strings.Contains(p.Body, `<option value="`+tag+`">`) {
				t.Errorf("tag suggestions lack %s", tag)
			}
		}
	})
	t.Run("empty and more than counted", func(t *testing.T) {
		for _, path := range []string{"/trainings", "/inferences", "/datasets", "/preprocessing"} {
			p := bob.Get(path)
			if p.Status != http.StatusOK || !strings.Contains(p.Body, "0 in all") || len(links(p.Body)) != 0 {
				t.Errorf("%s of an empty tenant: %d %v", path, p.Status, links(p.Body))
			}
		}
		p := bob.Get("/data")
		if p.Status != http.StatusOK || !strings.Contains(p.Body, fmt.Sprintf("more than %d", storage.CountCap)) ||
			strings.Contains(p.Body, "page 1 of") || links(p.Body)["next"] == "" {
			t.Errorf("data past the count: %d %v", p.Status, links(p.Body))
		}
	})
}

var rowName = regexp.MustCompile(`[> ]((?:training|inference|datum|set|prep)-\d+)</a>`)

// rows are the names a list page shows, in order.
func rows(body, prefix string) string {
	var out []string
	for _, m := range rowName.FindAllStringSubmatch(body, -1) {
		if strings.HasPrefix(m[1], prefix) {
			out = append(out, m[1])
		}
	}
	return strings.Join(out, ",")
}

// cursorOf is the after= cursor of a link.
func cursorOf(link string) string {
	_, c, _ := strings.Cut(link, "after=")
	c, _, _ = strings.Cut(c, "&")
	return c
}
