package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"kqi/portal/portaltest"
)

// The API answers an upload into a full store 507 with a message that says
// so, and registers nothing.
func TestDataUploadIntoAFullStore(t *testing.T) {
	env := portaltest.New(t, portaltest.WithSmallDisk(t, 1<<20))
	env.Tenant(t, "lab")
	env.User(t, "alice", pw, false, "lab")
	tok := token(t, env, "alice", "lab")
	body, ctype := multipartBody(t, map[string][]string{"name": {"big"}}, []upload{{"big.bin", random(3 << 20)}})
	resp, raw := send(t, env, "POST", "/api/v1/data", tok, ctype, body)
	var e struct{ Error string }
	json.Unmarshal(raw, &e)
	if resp.StatusCode != http.StatusInsufficientStorage || !strings.Contains(e.Error, "file store is full") {
		t.Fatalf("upload into a full store: %d %s", resp.StatusCode, raw)
	}
	if _, n := listTotal(t, env, tok); n != 0 {
		t.Errorf("%d data registered", n)
	}
}
