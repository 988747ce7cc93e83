package picker_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kqi/portal/accounts"
	"kqi/portal/jobs"
	"kqi/portal/picker"
	"kqi/portal/secret"
	"kqi/slurm"
	"kqi/storage"
	"kqi/storage/storagetest"
)

// With Apptainer, the image field offers the store's SIFs and what a
// registered registry lists to the user with their stored token; without
// the token, that registry's images are not offered.
func TestImagesOfStoreAndRegistries(t *testing.T) {
	st, _ := storagetest.NewStore(t)
	ctx := context.Background()
	key := make([]byte, 32)
	rand.Read(key)
	sealer, _ := secret.NewSealerFromKey(key)
	sources := &accounts.Sources{Store: st, Sealer: sealer}
	store := t.TempDir()
	os.MkdirAll(filepath.Join(store, "team", "cuda"), 0o755)
	os.WriteFile(filepath.Join(store, "team", "cuda", "12.sif"), nil, 0o644)
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, p, ok := r.BasicAuth(); !ok || p != "reg-token" {
			w.Header().Set("WWW-Authenticate", `Basic realm="r"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/v2/_catalog":
			json.NewEncoder(w).Encode(map[string]any{"repositories": []string{"ml/torch"}})
		case "/v2/ml/torch/tags/list":
			json.NewEncoder(w).Encode(map[string]any{"name": "ml/torch", "tags": []string{"2.1"}})
		default:
			http.NotFound(w, r)
		}
	}))
	defer reg.Close()
	host := strings.TrimPrefix(reg.URL, "http://")
	r, err := sources.CreateRegistry(ctx, "lab", host)
	if err != nil {
		t.Fatal(err)
	}
	mk := func(name string) *storage.User {
		u, err := st.CreateUser(ctx, storage.NewUser{Username: name, PasswordHash: "x"})
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	alice, bob := mk("alice"), mk("bob")
	if err := sources.SetToken(ctx, alice.ID, storage.CredentialRegistry, r.ID, "alice", "reg-token"); err != nil {
		t.Fatal(err)
	}
	js := &jobs.Service{Store: st, Sources: sources, Cfg: jobs.Config{Runtime: slurm.Apptainer{ImageDir: store}}}
	svc := picker.New(sources, js)
	if got, want := strings.Join(svc.Images(ctx, alice.ID), ","), "team/cuda:12,"+host+"/ml/torch:2.1"; got != want {
		t.Errorf("alice's images %q, want %q", got, want)
	}
	if got := strings.Join(svc.Images(ctx, bob.ID), ","); got != "team/cuda:12" {
		t.Errorf("bob (no token) sees %q", got)
	}
}
