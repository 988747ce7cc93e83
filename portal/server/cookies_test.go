package server_test

import (
	"database/sql"
	"strings"
	"testing"

	_ "github.com/lib/pq"

	"kqi/portal/portaltest"
)

// The database holds no session's CSRF token (it is derived from the
// session id, which is stored only hashed): a leaked sessions table
// cannot be turned into forged forms. The token still guards forms.
func TestCSRFTokenIsNotStored(t *testing.T) {
	env := portaltest.New(t)
	env.Tenant(t, "lab")
	env.User(t, "alice", "correct-horse-9", false, "lab")
	b := env.Browser(t)
	b.Login("alice", "correct-horse-9")
	token := b.CSRF("/settings")
	db, err := sql.Open("postgres", env.Config.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rows string
	if err := db.QueryRow(`SELECT string_agg(row_to_json(s)::text, ' ') FROM sessions s`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(rows, token) || strings.Contains(rows, "csrf") {
		t.Fatalf("the sessions table holds the CSRF token: %s", rows)
	}
	if p := b.Post("/settings/language", map[string][]string{"lang": {"ja"}, "csrf_token": {"forged"}}); p.Status != 403 {
		t.Errorf("a forged token: %d", p.Status)
	}
	if p := b.Post("/settings/language", map[string][]string{"lang": {"ja"}, "csrf_token": {token}}); p.Status != 303 {
		t.Errorf("the page's token: %d", p.Status)
	}
}
