package gitref_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"kqi/portal/accounts"
	"kqi/portal/gitref"
	"kqi/portal/portaltest"
)

// The Gitea client and git ls-remote against kqi-devgit: what a token
// shows, an empty repository's commits, and the typed errors the pickers
// tell apart.
func TestGiteaAndRefsOnDevGit(t *testing.T) {
	dg := portaltest.StartDevGit(t)
	ctx := context.Background()
	var g gitref.Gitea
	for _, tc := range []struct {
		token string
		want  int
	}{{"", 2}, {dg.Token, 3}} {
		repos, err := g.Repositories(ctx, dg.URL, tc.token)
		if err != nil || len(repos) != tc.want {
			t.Fatalf("token %q: %d repositories, %v; want %d", tc.token, len(repos), err, tc.want)
		}
	}
	if _, err := g.Repositories(ctx, dg.URL, "wrong"); !errors.Is(err, gitref.ErrAuth) {
		t.Errorf("a wrong token: %v", err)
	}
	commits, err := g.Commits(ctx, dg.URL, "public/mnist", "main", "", 10)
	if err != nil || len(commits) != 2 || commits[0].SHA != dg.Newest || commits[0].Subject != "A newer commit on main" ||
		commits[1].SHA != dg.Sample || commits[1].Author != "KQI dev cluster" || commits[1].Date.IsZero() {
		t.Fatalf("commits %+v, %v", commits, err)
	}
	if commits, err := g.Commits(ctx, dg.URL, "public/empty", "", "", 10); err != nil || len(commits) != 0 {
		t.Errorf("an empty repository: %+v, %v", commits, err)
	}
	plain := httptest.NewServer(http.NotFoundHandler())
	defer plain.Close()
	if _, err := g.Repositories(ctx, plain.URL, ""); !errors.Is(err, gitref.ErrNotListable) {
		t.Errorf("a server without the API: %v", err)
	}

	var l gitref.Lister
	if _, err := l.Refs(ctx, accounts.GitAccess{URL: dg.URL + "/private/mnist.git"}); !errors.Is(err, gitref.ErrAuth) {
		t.Errorf("private without a token: %v", err)
	}
	refs, err := l.Refs(ctx, accounts.GitAccess{URL: dg.URL + "/private/mnist.git", Username: "oauth2", Token: dg.Token})
	if err != nil || refs["refs/heads/dev"] != dg.Sample || refs["refs/heads/main"] != dg.Newest {
		t.Errorf("refs with the token: %v, %v", refs, err)
	}
}
