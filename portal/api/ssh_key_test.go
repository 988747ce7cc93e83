package api_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"kqi/portal/portaltest"
)

func TestSSHKeysAPI(t *testing.T) {
	env := portaltest.New(t)
	env.Tenant(t, "lab")
	env.User(t, "alice", pw, false, "lab")
	env.User(t, "bob", pw, false, "lab")
	alice, bob := token(t, env, "alice", "lab"), token(t, env, "bob", "lab")

	if status, out := call(t, env, "GET", "/api/v1/me/ssh-keys", alice, nil); status != http.StatusOK || len(out["items"].([]any)) != 0 {
		t.Fatalf("no keys: %d %v", status, out)
	}
	status, out := call(t, env, "POST", "/api/v1/me/ssh-keys", alice, map[string]string{"name": "", "public_key": "ssh-rsa nope"})
	if status != http.StatusUnprocessableEntity || !strings.Contains(fmt.Sprint(out["fields"]), "public_key") || !strings.Contains(fmt.Sprint(out["fields"]), "name") {
		t.Errorf("a bad key: %d %v", status, out)
	}
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	key, _ := ssh.NewPublicKey(pub)
	status, out = call(t, env, "POST", "/api/v1/me/ssh-keys", alice, map[string]string{"name": "laptop", "public_key": string(ssh.MarshalAuthorizedKey(key))})
	if status != http.StatusCreated || out["fingerprint"] != ssh.FingerprintSHA256(key) || out["name"] != "laptop" {
		t.Fatalf("add: %d %v", status, out)
	}
	id := int64(out["id"].(float64))
	if status, out := call(t, env, "GET", "/api/v1/me/ssh-keys", alice, nil); status != http.StatusOK || len(out["items"].([]any)) != 1 {
		t.Errorf("one key: %d %v", status, out)
	}
	if status, out := call(t, env, "GET", "/api/v1/me/ssh-keys", bob, nil); len(out["items"].([]any)) != 0 {
		t.Errorf("bob sees alice's keys: %d %v", status, out)
	}
	del := func(tok string) int {
		req, _ := http.NewRequest("DELETE", fmt.Sprintf("%s/api/v1/me/ssh-keys/%d", env.URL, id), nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := del(bob); s != http.StatusNotFound {
		t.Errorf("bob deleting alice's key: %d", s)
	}
	if s := del(alice); s != http.StatusNoContent {
		t.Errorf("delete: %d", s)
	}
	if s := del(alice); s != http.StatusNotFound {
		t.Errorf("delete twice: %d", s)
	}
}
