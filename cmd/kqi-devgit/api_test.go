package main

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// getJSON asks the API with an optional Authorization header and decodes
// the answer into v (when the status is 200).
func getJSON(t *testing.T, url, auth string, v any) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK && v != nil {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("%s: %v", url, err)
		}
	}
	return resp.StatusCode
}

type searchAnswer struct {
	OK   bool      `json:"ok"`
	Data []apiRepo `json:"data"`
}

func TestAPISearchShowsPrivateOnlyWithToken(t *testing.T) {
	root := sampleRoot(t)
	mustGit(t, "", "init", "-q", "--bare", "-b", "main", filepath.Join(root, "public", "empty.git"))
	url, _ := serveRoot(t, root)
	names := func(a searchAnswer) string {
		var n []string
		for _, r := range a.Data {
			n = append(n, r.FullName)
		}
		return strings.Join(n, ",")
	}
	for _, tc := range []struct {
		name, auth, want string
		status           int
	}{
		{"anonymous", "", "public/empty,public/model", 200},
		{"token scheme", "token " + testToken, "private/model,public/empty,public/model", 200},
		{"bearer", "Bearer " + testToken, "private/model,public/empty,public/model", 200},
		{"wrong token", "token nope", "", 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var a searchAnswer
			if got := getJSON(t, url+"/api/v1/repos/search?limit=50", tc.auth, &a); got != tc.status {
				t.Fatalf("status %d, want %d", got, tc.status)
			}
			if tc.status == 200 && (!a.OK || names(a) != tc.want) {
				t.Errorf("ok=%v repos %q, want %q", a.OK, names(a), tc.want)
			}
		})
	}
	var a searchAnswer
	getJSON(t, url+"/api/v1/repos/search?q=MOD", "", &a)
	if names(a) != "public/model" {
		t.Fatalf("q=MOD: %q", names(a))
	}
	r := a.Data[0]
	if r.CloneURL != url+"/public/model.git" || r.DefaultBranch != "main" || r.Empty || r.Private || r.Owner.Login != "public" {
		t.Errorf("repository %+v", r)
	}
	getJSON(t, url+"/api/v1/repos/search?q=empty", "", &a)
	if len(a.Data) != 1 || !a.Data[0].Empty {
		t.Errorf("empty repository: %+v", a.Data)
	}
	getJSON(t, url+"/api/v1/repos/search?limit=1&page=2", "", &a)
	if names(a) != "public/model" {
		t.Errorf("page 2 of 1: %q", names(a))
	}
}

func TestAPIBranchesAndCommits(t *testing.T) {
	root := sampleRoot(t)
	mustGit(t, "", "init", "-q", "--bare", "-b", "main", filepath.Join(root, "public", "empty.git"))
	url, _ := serveRoot(t, root)
	var branches []apiBranch
	if s := getJSON(t, url+"/api/v1/repos/public/model/branches", "", &branches); s != 200 || len(branches) != 1 || branches[0].Name != "main" ||
		branches[0].Commit.Message != "public" || branches[0].Commit.Author.Name != "t" || len(branches[0].Commit.ID) != 40 {
		t.Fatalf("branches: %d %+v", s, branches)
	}
	var commits []apiCommit
	if s := getJSON(t, url+"/api/v1/repos/public/model/commits?sha=main&limit=5", "", &commits); s != 200 || len(commits) != 1 ||
		commits[0].SHA != branches[0].Commit.ID || commits[0].Commit.Message != "public" || commits[0].Commit.Author.Email != "t@example.org" {
		t.Fatalf("commits: %d %+v", s, commits)
	}
	for _, tc := range []struct {
		name, path, auth string
		want             int
	}{
		{"private without token is hidden", "/api/v1/repos/private/model/commits", "", 404},
		{"private with token", "/api/v1/repos/private/model/commits", "token " + testToken, 200},
		{"empty repository", "/api/v1/repos/public/empty/commits", "", 409},
		{"empty repository's branches", "/api/v1/repos/public/empty/branches", "", 200},
		{"unknown branch", "/api/v1/repos/public/model/commits?sha=nope", "", 404},
		{"option as sha", "/api/v1/repos/public/model/commits?sha=--all", "", 404},
		{"no such repository", "/api/v1/repos/public/nope/branches", "", 404},
		{"outside the areas", "/api/v1/repos/secret/model/branches", "", 404},
		{"dot dot", "/api/v1/repos/public/../branches", "", 404},
		{"unknown endpoint", "/api/v1/users", "", 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := getJSON(t, url+tc.path, tc.auth, nil); got != tc.want {
				t.Errorf("%s: %d, want %d", tc.path, got, tc.want)
			}
		})
	}
	resp, err := http.Post(url+"/api/v1/repos/search", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", resp.StatusCode)
	}
}
