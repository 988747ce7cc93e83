package api_test

import (
	"context"
	"fmt"
	"net/url"
	"testing"

	"kqi/portal/portaltest"
)

// The forms' choice lists through the API: servers, a server's
// repositories, a repository's branches and commits (with their subject),
// the store's images and the resource judgement.
func TestPickerEndpoints(t *testing.T) {
	env := portaltest.New(t)
	dg := portaltest.StartDevGit(t)
	lab := env.Tenant(t, "lab")
	env.User(t, "alice", pw, false, "lab")
	tok := token(t, env, "alice", "lab")
	if _, err := env.Store.CreateGitServer(context.Background(), "devgit", dg.URL); err != nil {
		t.Fatal(err)
	}
	one := 1
	if err := env.Store.SetTenantQuota(context.Background(), lab.ID, &one, nil, nil); err != nil {
		t.Fatal(err)
	}

	status, g := call(t, env, "GET", "/api/v1/pickers/git?server=devgit", tok, nil)
	if status != 200 || fmt.Sprint(g["servers"]) != fmt.Sprintf("[map[has_token:false name:devgit url:%s]]", dg.URL) {
		t.Fatalf("servers: %d %v", status, g)
	}
	repos, _ := g["repositories"].([]any)
	if len(repos) != 2 || repos[1].(map[string]any)["value"] != "devgit/public/mnist.git" {
		t.Fatalf("repositories: %v", g["repositories"])
	}
	q := url.Values{"repository": {"devgit/public/mnist.git"}, "branch": {"main"}}
	status, g = call(t, env, "GET", "/api/v1/pickers/git?"+q.Encode(), tok, nil)
	commits, _ := g["commits"].([]any)
	if status != 200 || g["server"] != "devgit" || len(commits) != 2 {
		t.Fatalf("refs: %d %v", status, g)
	}
	if c := commits[1].(map[string]any); c["sha"] != dg.Sample || c["author"] != "KQI dev cluster" {
		t.Errorf("the sample's commit: %v", c)
	}
	status, g = call(t, env, "GET", "/api/v1/pickers/git?repository=devgit/public/empty.git", tok, nil)
	if status != 200 || fmt.Sprint(g["refs_problem"]) != "map[key:picker.no_branches]" {
		t.Errorf("empty repository: %d %v", status, g)
	}

	status, imgs := call(t, env, "GET", "/api/v1/pickers/images", tok, nil)
	if status != 200 || imgs["images"] == nil {
		t.Errorf("images: %d %v", status, imgs)
	}

	status, res := call(t, env, "GET", "/api/v1/pickers/resources?partition=gpu-a100&cpu=2&gpu=9", tok, nil)
	if status != 200 || fmt.Sprint(res["node"]) != "map[cpus:8 free_cpus:8 free_gpus:4 free_memory_gb:16 gpu_type:a100 gpus:4 memory_gb:16]" {
		t.Fatalf("resources: %d %v", status, res)
	}
	if fmt.Sprint(res["never"]) != "[map[arg:4 field:gpu key:training.gpu_max]]" || fmt.Sprint(res["wait"]) != "[map[arg:1 field:cpu key:picker.quota_used_cpu]]" {
		t.Errorf("never %v wait %v", res["never"], res["wait"])
	}
	if status, _ := call(t, env, "GET", "/api/v1/pickers/git", "", nil); status != 401 {
		t.Errorf("without a token: %d", status)
	}
}
