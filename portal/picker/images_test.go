package picker

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFindImages(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"local/python/3/usr/bin", "registry.example.org/team/torch/2.1/usr", ".tmp/x/1/usr", "local/python/.3.recipe.d/usr", "empty/dir/only"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"team/cuda/12.sif", "team/cuda/notes.txt", "team/.pull.sif"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got := strings.Join(findImages(root), ",")
	if want := "local/python:3,registry.example.org/team/torch:2.1,team/cuda:12"; got != want {
		t.Errorf("images %q, want %q", got, want)
	}
}

// standInRegistry serves the part of the distribution API v2 the picker
// reads — /v2/_catalog and /v2/{name}/tags/list — behind one of the
// authentications real registries use: none, Basic (distribution's
// htpasswd), or a Bearer challenge answered by a token service (Harbor,
// GitLab, distribution's token auth). Not covered: catalog paging (Link),
// scopes per repository.
func standInRegistry(t *testing.T, auth string) *httptest.Server {
	t.Helper()
	var srv *httptest.Server
	repos := map[string][]string{"team/torch": {"2.0", "2.1"}, "team/cuda": {"12"}}
	mux := http.NewServeMux()
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "alice" || p != "s3cret" || r.URL.Query().Get("service") != "stand-in" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"token": "issued"})
	})
	mux.HandleFunc("/v2/", func(w http.ResponseWriter, r *http.Request) {
		switch auth {
		case "basic":
			if u, p, ok := r.BasicAuth(); !ok || u != "alice" || p != "s3cret" {
				w.Header().Set("WWW-Authenticate", `Basic realm="Registry Realm"`)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
		case "bearer":
			if r.Header.Get("Authorization") != "Bearer issued" {
				w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="%s/token",service="stand-in",scope="registry:catalog:*"`, srv.URL))
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
		case "nocatalog":
			if r.URL.Path == "/v2/_catalog" {
				http.NotFound(w, r)
				return
			}
		}
		if r.URL.Path == "/v2/_catalog" {
			json.NewEncoder(w).Encode(map[string]any{"repositories": []string{"team/cuda", "team/torch"}})
			return
		}
		name, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/v2/"), "/tags/list")
		if tags, known := repos[name]; ok && known {
			json.NewEncoder(w).Encode(map[string]any{"name": name, "tags": tags})
			return
		}
		http.NotFound(w, r)
	})
	srv = httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestRegistryImages(t *testing.T) {
	all := "team/cuda:12,team/torch:2.0,team/torch:2.1"
	for _, tc := range []struct {
		name, auth, user, pass, want string
		err                          bool
	}{
		{"open", "none", "", "", all, false},
		{"basic without credentials", "basic", "", "", "", true},
		{"basic", "basic", "alice", "s3cret", all, false},
		{"bearer", "bearer", "alice", "s3cret", all, false},
		{"bearer with a wrong password", "bearer", "alice", "nope", "", true},
		{"no catalog", "nocatalog", "", "", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := standInRegistry(t, tc.auth)
			host := strings.TrimPrefix(srv.URL, "http://")
			got, err := Registry{}.Images(context.Background(), host, tc.user, tc.pass)
			if (err != nil) != tc.err || strings.Join(got, ",") != tc.want {
				t.Errorf("images %q, %v; want %q (error: %v)", got, err, tc.want, tc.err)
			}
		})
	}
}

func TestBearerRealmMustBeHTTPS(t *testing.T) {
	p := `realm="http://auth.example.org/token",service="x"`
	if _, err := (Registry{}).bearer(context.Background(), http.DefaultClient, p, "alice", "s3cret"); err == nil {
		t.Fatal("credentials were sent to a plain-http realm")
	}
	if got := challengeParams(`realm="https://a/token",service="reg",scope="registry:catalog:*"`); got["realm"] != "https://a/token" || got["service"] != "reg" || got["scope"] != "registry:catalog:*" {
		t.Errorf("params %v", got)
	}
}
