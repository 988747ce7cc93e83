package api_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"kqi/portal/portaltest"
	"kqi/slurm/slurmtest"
	"kqi/storage"
)

// The sample model in the dev Git server's private repository trains on a
// real dataset in the dev image, cloned with the token the user stored;
// the token shows up in no log, script or page.
func TestPrivateRepositoryWithStoredToken(t *testing.T) {
	dev := slurmtest.Integration(t, "KQI_DEV_GIT_URL", "KQI_DEV_GIT_TOKEN_FILE", "KQI_DEV_IMAGE")
	gitURL := dev["KQI_DEV_GIT_URL"]
	tokenRaw, err := os.ReadFile(dev["KQI_DEV_GIT_TOKEN_FILE"])
	if err != nil {
		t.Fatal(err)
	}
	gitToken := strings.TrimSpace(string(tokenRaw))
	image := dev["KQI_DEV_IMAGE"]

	env := portaltest.New(t, portaltest.WithCluster)
	lab := env.Tenant(t, "lab")
	env.User(t, "root", pw, true, "lab")
	alice := env.User(t, "alice", pw, false, "lab")
	rootTok, tok := token(t, env, "root", "lab"), token(t, env, "alice", "lab")
	status, srv := call(t, env, "POST", "/api/v1/admin/git-servers", rootTok, map[string]string{"name": "devgit", "url": gitURL})
	if status != 201 {
		t.Fatalf("register git server: %d %v", status, srv)
	}
	srvID := int64(srv["id"].(float64))
	ds := datasetWith(t, env, tok, []upload{{"digits.csv", []byte("1,2,3\n4,5,6\n")}})
	train := map[string]any{"name": "sample", "dataset_id": ds, "image": image, "git": map[string]string{"repository": "devgit/private/mnist.git", "branch": "main"},
		"command": `python3 train.py && echo "$COMMIT_ID" > /kqi/output/commit.txt`, "cpu": 1, "memory_gb": 1, "env": map[string]string{"EPOCHS": "2", "SLEEP_SECONDS": "0"}}

	// Without a stored token the repository does not answer: refused at
	// submit, nothing recorded (it used to fail in the job's clone).
	status, noTok := call(t, env, "POST", "/api/v1/trainings", tok, train)
	if status != 422 || !strings.Contains(fmt.Sprint(noTok), "git_repository") || !strings.Contains(fmt.Sprint(noTok), "wants a token") {
		t.Fatalf("submit without token: %d %v", status, noTok)
	}
	if _, n, _ := env.Store.ListJobs(context.Background(), lab.ID, storage.JobFilter{Kind: "training"}); n != 0 {
		t.Fatalf("a refused submit left %d trainings", n)
	}

	if resp, raw := send(t, env, "PUT", fmt.Sprintf("/api/v1/me/credentials/git/%d", srvID), tok, "application/json",
		strings.NewReader(`{"username":"oauth2","token":"`+gitToken+`"}`)); resp.StatusCode != 204 {
		t.Fatalf("store token: %d %s", resp.StatusCode, raw)
	}
	train["name"] = "sample-2"
	status, created := call(t, env, "POST", "/api/v1/trainings", tok, train)
	if status != 201 {
		t.Fatalf("submit: %d %v", status, created)
	}
	id := int64(created["id"].(float64))
	tr := waitTraining(t, env, tok, id, ended)
	_, logText := send(t, env, "GET", fmt.Sprintf("/api/v1/trainings/%d/log", id), tok, "", nil)
	if tr["status"] != "completed" {
		t.Fatalf("training: %v\nlog:\n%s", tr, logText)
	}
	if resp, model := send(t, env, "GET", fmt.Sprintf("/api/v1/trainings/%d/files/model.json", id), tok, "", nil); resp.StatusCode != 200 || !strings.Contains(string(model), "training") {
		t.Fatalf("model.json: %d %s", resp.StatusCode, model)
	}
	// COMMIT_ID is the commit the branch resolved to.
	_, commit := send(t, env, "GET", fmt.Sprintf("/api/v1/trainings/%d/files/commit.txt", id), tok, "", nil)
	if sha := strings.TrimSpace(string(commit)); len(sha) != 40 || strings.Trim(sha, "0123456789abcdef") != "" {
		t.Errorf("COMMIT_ID in the job = %q, want the checked-out commit", sha)
	}
	_, script := send(t, env, "GET", fmt.Sprintf("/api/v1/trainings/%d/script", id), tok, "", nil)
	b := env.Browser(t)
	b.Login("alice", pw)
	page := b.Get(fmt.Sprintf("/trainings/%d", id))
	settings := b.Get("/settings")
	for what, text := range map[string]string{"log": string(logText), "script": string(script), "training page": page.Body, "settings page": settings.Body} {
		if strings.Contains(text, gitToken) {
			t.Errorf("the Git token appears in the %s", what)
		}
	}
	if !strings.Contains(settings.Body, "token stored") {
		t.Error("settings do not say a token is stored")
	}
	// Stored sealed: the database does not hold it in clear either.
	cred, err := env.Store.CredentialFor(t.Context(), alice.ID, "git", srvID)
	if err != nil {
		t.Fatalf("stored credential: %v", err)
	}
	if len(cred.Sealed) == 0 || strings.Contains(string(cred.Sealed), gitToken) {
		t.Errorf("the token is not sealed (%d bytes stored)", len(cred.Sealed))
	}
}
