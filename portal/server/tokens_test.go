package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"kqi/portal/portaltest"
)

func bearer(t *testing.T, env *portaltest.Env, method, path, tok string) int {
	t.Helper()
	req, _ := http.NewRequest(method, env.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// DELETE /api/v1/auth/token ends the token it carries, and only that one.
func TestRevokeTheCurrentToken(t *testing.T) {
	env := portaltest.New(t)
	lab := env.Tenant(t, "lab")
	u := env.User(t, "alice", "correct-horse-9", false, "lab")
	a, b := env.APIToken(t, u, lab.ID), env.APIToken(t, u, lab.ID)
	if s := bearer(t, env, "DELETE", "/api/v1/auth/token", a); s != http.StatusNoContent {
		t.Fatalf("revoke: %d", s)
	}
	if s := bearer(t, env, "GET", "/api/v1/me", a); s != http.StatusUnauthorized {
		t.Errorf("the revoked token: %d", s)
	}
	if s := bearer(t, env, "GET", "/api/v1/me", b); s != http.StatusOK {
		t.Errorf("another token of the user: %d", s)
	}
}

// A token unused for KQI_API_TOKEN_IDLE stops working; one in use lives on.
func TestUnusedTokensExpire(t *testing.T) {
	env := portaltest.New(t)
	lab := env.Tenant(t, "lab")
	u := env.User(t, "alice", "correct-horse-9", false, "lab")
	idle := env.Config.APITokenIdle
	unused, used := env.APIToken(t, u, lab.ID), env.APIToken(t, u, lab.ID)
	env.Clock.Advance(idle * 2 / 3)
	if s := bearer(t, env, "GET", "/api/v1/me", used); s != http.StatusOK {
		t.Fatalf("in use: %d", s)
	}
	env.Clock.Advance(idle * 2 / 3)
	if s := bearer(t, env, "GET", "/api/v1/me", unused); s != http.StatusUnauthorized {
		t.Errorf("unused for %v: %d", idle*4/3, s)
	}
	if s := bearer(t, env, "GET", "/api/v1/me", used); s != http.StatusOK {
		t.Errorf("last used %v ago: %d", idle*2/3, s)
	}
}

// Settings lists the user's tokens, where each was issued to and last used
// from, and revokes one; jobs' tokens and other users' are not listed.
func TestSettingsListsAndRevokesTokens(t *testing.T) {
	env := portaltest.New(t)
	lab := env.Tenant(t, "lab")
	u := env.User(t, "alice", "correct-horse-9", false, "lab")
	bob := env.User(t, "bob", "correct-horse-9", false, "lab")
	env.APIToken(t, bob, lab.ID)
	resp, err := http.Post(env.URL+"/api/v1/auth/token", "application/json",
		strings.NewReader(`{"username": "alice", "password": "correct-horse-9"}`))
	if err != nil {
		t.Fatal(err)
	}
	var issued struct{ Token string }
	json.NewDecoder(resp.Body).Decode(&issued)
	resp.Body.Close()
	if s := bearer(t, env, "GET", "/api/v1/me", issued.Token); s != http.StatusOK {
		t.Fatalf("the issued token: %d", s)
	}
	b := env.Browser(t)
	b.SessionAs(u)
	p := b.Get("/settings")
	table := p.Body[strings.Index(p.Body, `id="api-token-table"`):]
	table = table[:strings.Index(table, "</table>")]
	if strings.Count(table, "<form") != 1 || strings.Count(table, "127.0.0.1") != 2 || !strings.Contains(table, "lab") {
		t.Fatalf("token list:\n%s", table)
	}
	tok, err := env.Store.APITokenByValue(t.Context(), issued.Token)
	if err != nil {
		t.Fatal(err)
	}
	revoke := fmt.Sprintf("/settings/api-tokens/%d/revoke", tok.ID)
	if !strings.Contains(table, revoke) {
		t.Fatalf("no revoke form for %s:\n%s", revoke, table)
	}
	if p := b.Submit("/settings", revoke, nil); p.Status != http.StatusSeeOther {
		t.Fatalf("revoke: %d %s", p.Status, p.Body)
	}
	if s := bearer(t, env, "GET", "/api/v1/me", issued.Token); s != http.StatusUnauthorized {
		t.Errorf("the revoked token: %d", s)
	}
	if p := b.Get("/settings"); !strings.Contains(p.Body, "No API tokens.") {
		t.Errorf("after revoking: the list is not empty")
	}
}
