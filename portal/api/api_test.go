package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"kqi/portal/portaltest"
)

const pw = "correct-horse-9"

// call sends a JSON request and decodes the JSON answer into a map.
func call(t *testing.T, env *portaltest.Env, method, path, token string, body any) (int, map[string]any) {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		raw, _ := json.Marshal(b)
		r = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, env.URL+path, r)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s %s: Content-Type %q", method, path, ct)
	}
	out := map[string]any{}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%s %s: decode: %v", method, path, err)
	}
	return resp.StatusCode, out
}

func token(t *testing.T, env *portaltest.Env, user, tenant string) string {
	t.Helper()
	status, out := call(t, env, "POST", "/api/v1/auth/token", "", map[string]string{"username": user, "password": pw, "tenant": tenant})
	if status != http.StatusCreated {
		t.Fatalf("token for %s/%s: %d %v", user, tenant, status, out)
	}
	return out["token"].(string)
}

func TestTokenAndMe(t *testing.T) {
	env := portaltest.New(t)
	a := env.Tenant(t, "lab-a")
	env.Tenant(t, "lab-b")
	env.User(t, "alice", pw, false, "lab-a", "lab-b:admin")

	status, out := call(t, env, "POST", "/api/v1/auth/token", "", map[string]string{"username": "alice", "password": pw})
	if status != http.StatusCreated {
		t.Fatalf("token: %d %v", status, out)
	}
	if tn := out["tenant"].(map[string]any); tn["name"] != "lab-a" || tn["id"].(float64) != float64(a.ID) {
		t.Fatalf("default tenant: %v", tn)
	}
	tok := out["token"].(string)
	status, me := call(t, env, "GET", "/api/v1/me", tok, nil)
	if status != 200 || me["user"].(map[string]any)["username"] != "alice" || me["tenant"].(map[string]any)["name"] != "lab-a" || me["role"] != "user" {
		t.Fatalf("me: %d %v", status, me)
	}
	if n := len(me["tenants"].([]any)); n != 2 {
		t.Fatalf("me lists %d tenants", n)
	}

	// By id, and the role follows the tenant.
	bTok := token(t, env, "alice", "lab-b")
	_, me = call(t, env, "GET", "/api/v1/me", bTok, nil)
	if me["tenant"].(map[string]any)["name"] != "lab-b" || me["role"] != "admin" {
		t.Fatalf("me in lab-b: %v", me)
	}
	idTok := token(t, env, "alice", strconv.FormatInt(a.ID, 10))
	_, me = call(t, env, "GET", "/api/v1/me", idTok, nil)
	if me["tenant"].(map[string]any)["name"] != "lab-a" {
		t.Fatalf("tenant by id: %v", me)
	}
}

func TestRefusals(t *testing.T) {
	env := portaltest.New(t)
	env.Tenant(t, "lab-a")
	env.Tenant(t, "lab-b")
	env.User(t, "alice", pw, false, "lab-a")
	env.User(t, "loner", pw, false)

	tests := []struct {
		name   string
		method string
		path   string
		token  string
		body   any
		status int
		msg    string
	}{
		{"wrong password", "POST", "/api/v1/auth/token", "", map[string]string{"username": "alice", "password": "wrong-wrong"}, 401, "wrong user name or password"},
		{"unknown user", "POST", "/api/v1/auth/token", "", map[string]string{"username": "nobody", "password": pw}, 401, "wrong user name or password"},
		{"tenant of someone else", "POST", "/api/v1/auth/token", "", map[string]string{"username": "alice", "password": pw, "tenant": "lab-b"}, 403, "not a member"},
		{"unknown tenant", "POST", "/api/v1/auth/token", "", map[string]string{"username": "alice", "password": pw, "tenant": "lab-z"}, 403, "not a member"},
		{"user without tenant", "POST", "/api/v1/auth/token", "", map[string]string{"username": "loner", "password": pw}, 403, "not a member of any tenant"},
		{"malformed JSON", "POST", "/api/v1/auth/token", "", `{"username":`, 400, "not valid JSON"},
		{"unknown field", "POST", "/api/v1/auth/token", "", `{"user":"alice","password":"x"}`, 400, "unknown field"},
		{"no token", "GET", "/api/v1/me", "", nil, 401, "bearer token"},
		{"bad token", "GET", "/api/v1/me", "not-a-real-token", nil, 401, "bearer token"},
		{"unknown endpoint", "GET", "/api/v1/nothing", "", nil, 404, "not found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, out := call(t, env, tc.method, tc.path, tc.token, tc.body)
			if status != tc.status {
				t.Fatalf("status %d, want %d (%v)", status, tc.status, out)
			}
			if msg, _ := out["error"].(string); !strings.Contains(msg, tc.msg) {
				t.Fatalf("error %q does not say %q", msg, tc.msg)
			}
		})
	}
}

func TestTokenDiesWithMembership(t *testing.T) {
	env := portaltest.New(t)
	a := env.Tenant(t, "lab-a")
	u := env.User(t, "alice", pw, false, "lab-a")
	tok := token(t, env, "alice", "lab-a")
	if err := env.Store.RemoveMembership(t.Context(), u.ID, a.ID); err != nil {
		t.Fatal(err)
	}
	if status, _ := call(t, env, "GET", "/api/v1/me", tok, nil); status != http.StatusUnauthorized {
		t.Fatalf("token outlived the membership: %d", status)
	}
}

func TestAdminEndpoints(t *testing.T) {
	env := portaltest.New(t)
	env.Tenant(t, "ops")
	env.User(t, "root", pw, true, "ops:admin")
	env.User(t, "alice", pw, false, "ops:admin")
	rootTok := token(t, env, "root", "ops")
	aliceTok := token(t, env, "alice", "ops")

	if status, out := call(t, env, "POST", "/api/v1/admin/tenants", aliceTok, map[string]string{"name": "x"}); status != 403 || !strings.Contains(out["error"].(string), "system administrators") {
		t.Fatalf("tenant admin created a tenant: %d %v", status, out)
	}
	status, out := call(t, env, "POST", "/api/v1/admin/tenants", rootTok, map[string]string{"name": "nlp"})
	if status != 201 || out["name"] != "nlp" || out["id"] == nil {
		t.Fatalf("create tenant: %d %v", status, out)
	}
	if status, _ := call(t, env, "POST", "/api/v1/admin/tenants", rootTok, map[string]string{"name": "nlp"}); status != 409 {
		t.Fatalf("duplicate tenant: %d", status)
	}
	if status, _ := call(t, env, "POST", "/api/v1/admin/tenants", rootTok, map[string]string{"name": "../etc"}); status != 422 {
		t.Fatalf("bad tenant name: %d", status)
	}

	body := map[string]any{"username": "bob", "password": pw, "tenants": []map[string]string{{"tenant": "nlp", "role": "user"}, {"tenant": "ops", "role": "admin"}}}
	status, out = call(t, env, "POST", "/api/v1/admin/users", rootTok, body)
	if status != 201 || out["username"] != "bob" || len(out["tenants"].([]any)) != 2 {
		t.Fatalf("create user: %d %v", status, out)
	}
	if status, _ := call(t, env, "POST", "/api/v1/admin/users", rootTok, body); status != 409 {
		t.Fatalf("duplicate user: %d", status)
	}
	// A bad role or tenant refuses the whole user: nothing half-made.
	for name, b := range map[string]map[string]any{
		"bad role":       {"username": "carol", "password": pw, "tenants": []map[string]string{{"tenant": "nlp", "role": "owner"}}},
		"unknown tenant": {"username": "carol", "password": pw, "tenants": []map[string]string{{"tenant": "nope", "role": "user"}}},
		"short password": {"username": "carol", "password": "short", "tenants": []map[string]string{{"tenant": "nlp", "role": "user"}}},
	} {
		if status, out := call(t, env, "POST", "/api/v1/admin/users", rootTok, b); status != 422 {
			t.Errorf("%s: %d %v", name, status, out)
		}
	}
	if _, err := env.Store.UserByName(t.Context(), "carol"); err == nil {
		t.Fatal("a refused user exists")
	}
	bobTok := token(t, env, "bob", "nlp")
	if _, me := call(t, env, "GET", "/api/v1/me", bobTok, nil); me["role"] != "user" {
		t.Fatalf("bob in nlp: %v", me)
	}

	// The Slurm account a tenant's jobs are charged to.
	nlp, _ := env.Store.TenantByName(t.Context(), "nlp")
	accountPath := fmt.Sprintf("/api/v1/admin/tenants/%d/slurm-account", nlp.ID)
	if status, _ := call(t, env, "PUT", accountPath, aliceTok, map[string]string{"account": "x"}); status != 403 {
		t.Fatalf("tenant admin set an account: %d", status)
	}
	if status, out := call(t, env, "PUT", accountPath, rootTok, map[string]string{"account": "-rf"}); status != 422 {
		t.Fatalf("bad account: %d %v", status, out)
	}
	if status, _ := call(t, env, "PUT", "/api/v1/admin/tenants/999999/slurm-account", rootTok, map[string]string{"account": "x"}); status != 404 {
		t.Fatalf("unknown tenant: %d", status)
	}
	if status, out := call(t, env, "PUT", accountPath, rootTok, map[string]string{"account": "lab-nlp"}); status != 200 || out["account"] != "lab-nlp" {
		t.Fatalf("set account: %d %v", status, out)
	}
	if got, _ := env.Store.TenantByID(t.Context(), nlp.ID); got.SlurmAccount != "lab-nlp" {
		t.Fatalf("stored account %q", got.SlurmAccount)
	}
}
