package api_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"kqi/portal/portaltest"
	"kqi/slurm"
)

// datasetWith registers one datum (via the API) in a dataset and returns
// the dataset id.
func datasetWith(t *testing.T, env *portaltest.Env, tok string, files []upload) int64 {
	t.Helper()
	body, ctype := multipartBody(t, map[string][]string{"name": {"inputs"}}, files)
	resp, raw := send(t, env, "POST", "/api/v1/data", tok, ctype, body)
	if resp.StatusCode != 201 {
		t.Fatalf("data: %d %s", resp.StatusCode, raw)
	}
	var d struct{ ID int64 }
	json.Unmarshal(raw, &d)
	status, ds := call(t, env, "POST", "/api/v1/datasets", tok, map[string]any{"name": "ds", "entries": map[string][]int64{"training": {d.ID}}})
	if status != 201 {
		t.Fatalf("dataset: %d %v", status, ds)
	}
	return int64(ds["id"].(float64))
}

func waitTraining(t *testing.T, env *portaltest.Env, tok string, id int64, done func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if err := env.Jobs.Poll(context.Background()); err != nil {
			t.Fatal(err)
		}
		_, tr := call(t, env, "GET", fmt.Sprintf("/api/v1/trainings/%d", id), tok, nil)
		if done(tr) {
			return tr
		}
		if time.Now().After(deadline) {
			t.Fatalf("training %d: %v", id, tr)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func ended(tr map[string]any) bool {
	s := tr["status"]
	return s != "submitting" && s != "queued" && s != "running"
}

func TestTrainingAPIOnTheCluster(t *testing.T) {
	env := portaltest.New(t, portaltest.WithCluster)
	env.Tenant(t, "lab-a")
	env.Tenant(t, "lab-b")
	env.User(t, "alice", pw, false, "lab-a")
	env.User(t, "bob", pw, false, "lab-b")
	aTok, bTok := token(t, env, "alice", "lab-a"), token(t, env, "bob", "lab-b")
	input := random(1 << 20)
	ds := datasetWith(t, env, aTok, []upload{{"weights.bin", input}})

	// A command full of quotes and shell metacharacters runs exactly as
	// typed inside the container, and nothing of it runs on the host.
	marker := "/tmp/kqi-injected-" + fmt.Sprint(time.Now().UnixNano())
	command := `mkdir -p /kqi/output/sub && cp /kqi/input/training/*/weights.bin /kqi/output/sub/copy.bin && ` +
		`printf '%s\n' 'it'"'"'s "quoted" $HOME ` + "`touch " + marker + "`" + `; $(touch ` + marker + `)' > /kqi/output/echo.txt && echo "$GREETING" >> /kqi/output/echo.txt`
	status, created := call(t, env, "POST", "/api/v1/trainings", aTok, map[string]any{
		"name": "mnist-1", "dataset_id": ds, "command": command, "cpu": 1, "memory_gb": 1, "gpu": 0, "partition": "cpu",
		"env": map[string]string{"GREETING": "hello; rm -rf / 'x'"}, "memo": "first"})
	if status != 201 || created["status"] != "queued" || created["slurm_job_id"] == "" {
		t.Fatalf("create: %d %v", status, created)
	}
	id := int64(created["id"].(float64))
	tr := waitTraining(t, env, aTok, id, ended)
	if tr["status"] != "completed" {
		_, log := send(t, env, "GET", fmt.Sprintf("/api/v1/trainings/%d/log", id), aTok, "", nil)
		t.Fatalf("training: %v\nlog:\n%s", tr, log)
	}
	if _, err := os.Stat(marker); err == nil {
		os.Remove(marker)
		t.Fatal("text of the command ran on the host")
	}

	resp, echo := send(t, env, "GET", fmt.Sprintf("/api/v1/trainings/%d/files/echo.txt", id), aTok, "", nil)
	wantEcho := "it's \"quoted\" $HOME `touch " + marker + "`; $(touch " + marker + ")\nhello; rm -rf / 'x'\n"
	if resp.StatusCode != 200 || string(echo) != wantEcho {
		t.Fatalf("echo.txt: %d %q, want %q", resp.StatusCode, echo, wantEcho)
	}
	resp, copyBytes := send(t, env, "GET", fmt.Sprintf("/api/v1/trainings/%d/files/sub/copy.bin", id), aTok, "", nil)
	if resp.StatusCode != 200 || !bytes.Equal(copyBytes, input) {
		t.Fatalf("sub/copy.bin: %d, %d bytes", resp.StatusCode, len(copyBytes))
	}
	status, list := call(t, env, "GET", fmt.Sprintf("/api/v1/trainings/%d/files", id), aTok, nil)
	if status != 200 || list["total"].(float64) != 2 {
		t.Fatalf("files: %v", list)
	}
	resp, zipped := send(t, env, "GET", fmt.Sprintf("/api/v1/trainings/%d/output.zip", id), aTok, "", nil)
	zr, err := zip.NewReader(bytes.NewReader(zipped), int64(len(zipped)))
	if resp.StatusCode != 200 || err != nil {
		t.Fatalf("output.zip: %d %v", resp.StatusCode, err)
	}
	for _, f := range zr.File {
		rc, _ := f.Open()
		var buf bytes.Buffer
		buf.ReadFrom(rc)
		rc.Close()
		want := map[string][]byte{"echo.txt": []byte(wantEcho), "sub/copy.bin": input}[f.Name]
		if !bytes.Equal(buf.Bytes(), want) {
			t.Fatalf("zip entry %s differs", f.Name)
		}
	}
	if len(zr.File) != 2 {
		t.Fatalf("zip has %d entries", len(zr.File))
	}

	// The job's token is in no script or log, and is gone with the job.
	_, script := send(t, env, "GET", fmt.Sprintf("/api/v1/trainings/%d/script", id), aTok, "", nil)
	_, logText := send(t, env, "GET", fmt.Sprintf("/api/v1/trainings/%d/log", id), aTok, "", nil)
	if strings.Contains(string(script), "KQI_TOKEN=") || !strings.Contains(string(script), "#SBATCH") || strings.Contains(string(logText), "KQI_TOKEN=") {
		t.Fatal("the job token leaked into the script or log (or the script is empty)")
	}
	if _, err := os.Stat(env.Files.LocalPath(jobDirOf(t, env, id) + "/" + slurm.SecretsFile)); !os.IsNotExist(err) {
		t.Fatalf("the ended job's secrets file is still there (%v)", err)
	}

	// Tenant B sees none of it.
	for _, p := range []string{"", "/log", "/script", "/files", "/files/echo.txt", "/output.zip"} {
		if resp, raw := send(t, env, "GET", fmt.Sprintf("/api/v1/trainings/%d%s", id, p), bTok, "", nil); resp.StatusCode != 404 {
			t.Errorf("tenant B GET %s: %d %s", p, resp.StatusCode, raw)
		}
	}
	if resp, _ := send(t, env, "POST", fmt.Sprintf("/api/v1/trainings/%d/stop", id), bTok, "", nil); resp.StatusCode != 404 {
		t.Errorf("tenant B stop: %d", resp.StatusCode)
	}
	if resp, _ := send(t, env, "DELETE", fmt.Sprintf("/api/v1/trainings/%d", id), bTok, "", nil); resp.StatusCode != 404 {
		t.Errorf("tenant B delete: %d", resp.StatusCode)
	}
	if _, l := call(t, env, "GET", "/api/v1/trainings", bTok, nil); l["total"].(float64) != 0 {
		t.Errorf("tenant B lists tenant A's trainings")
	}

	// The dataset is frozen now.
	if _, d := call(t, env, "GET", fmt.Sprintf("/api/v1/datasets/%d", ds), aTok, nil); d["frozen"] != true {
		t.Errorf("dataset not frozen after use: %v", d)
	}

	// A failing command, a child reading its parent, and stop.
	status, failing := call(t, env, "POST", "/api/v1/trainings", aTok, map[string]any{"name": "fails", "dataset_id": ds, "command": "exit 2", "cpu": 1, "memory_gb": 1})
	if status != 201 {
		t.Fatalf("create failing: %d %v", status, failing)
	}
	status, child := call(t, env, "POST", "/api/v1/trainings", aTok, map[string]any{"name": "child", "dataset_id": ds, "parent_id": id, "cpu": 1, "memory_gb": 1,
		"command": `cmp /kqi/parent/sub/copy.bin /kqi/input/training/*/weights.bin && echo ok > /kqi/output/read.txt; if touch /kqi/parent/new 2>/dev/null; then echo wrote > /kqi/output/wrote.txt; fi`})
	if status != 201 {
		t.Fatalf("create child: %d %v", status, child)
	}
	status, long := call(t, env, "POST", "/api/v1/trainings", aTok, map[string]any{"name": "long", "dataset_id": ds, "command": "sleep 300", "cpu": 1, "memory_gb": 1})
	if status != 201 {
		t.Fatalf("create long: %d %v", status, long)
	}
	longID := int64(long["id"].(float64))
	if tr := waitTraining(t, env, aTok, int64(failing["id"].(float64)), ended); tr["status"] != "failed" || tr["exit_code"].(float64) != 2 {
		t.Fatalf("failing: %v", tr)
	}
	childID := int64(child["id"].(float64))
	if tr := waitTraining(t, env, aTok, childID, ended); tr["status"] != "completed" {
		t.Fatalf("child: %v", tr)
	}
	if resp, raw := send(t, env, "GET", fmt.Sprintf("/api/v1/trainings/%d/files/read.txt", childID), aTok, "", nil); resp.StatusCode != 200 || string(raw) != "ok\n" {
		t.Fatalf("child did not read its parent: %d %q", resp.StatusCode, raw)
	}
	if resp, _ := send(t, env, "GET", fmt.Sprintf("/api/v1/trainings/%d/files/wrote.txt", childID), aTok, "", nil); resp.StatusCode != 404 {
		t.Fatal("the child could write into /kqi/parent")
	}
	waitTraining(t, env, aTok, longID, func(tr map[string]any) bool { return tr["status"] == "running" })
	// While it runs, its token reads its own training only.
	jobToken := jobTokenOf(t, env, longID)
	if status, _ := call(t, env, "GET", fmt.Sprintf("/api/v1/trainings/%d", longID), jobToken, nil); status != 200 {
		t.Fatalf("job token on its training: %d", status)
	}
	for _, p := range []string{"/api/v1/data", fmt.Sprintf("/api/v1/trainings/%d", id)} {
		if status, _ := call(t, env, "GET", p, jobToken, nil); status != 403 {
			t.Fatalf("job token on %s: %d", p, status)
		}
	}
	for _, p := range []string{"script", "log"} {
		if _, text := send(t, env, "GET", fmt.Sprintf("/api/v1/trainings/%d/%s", longID, p), aTok, "", nil); strings.Contains(string(text), jobToken) {
			t.Fatalf("the job token is in the %s", p)
		}
	}
	if resp, raw := send(t, env, "DELETE", fmt.Sprintf("/api/v1/trainings/%d", longID), aTok, "", nil); resp.StatusCode != 409 {
		t.Fatalf("delete while running: %d %s", resp.StatusCode, raw)
	}
	if resp, _ := send(t, env, "POST", fmt.Sprintf("/api/v1/trainings/%d/stop", longID), aTok, "", nil); resp.StatusCode != 202 {
		t.Fatalf("stop: %d", resp.StatusCode)
	}
	if tr := waitTraining(t, env, aTok, longID, ended); tr["status"] != "killed" {
		t.Fatalf("stopped: %v", tr)
	}
	if status, _ := call(t, env, "GET", "/api/v1/me", jobToken, nil); status != 401 {
		t.Fatalf("an ended job's token still works: %d", status)
	}
	if resp, _ := send(t, env, "DELETE", fmt.Sprintf("/api/v1/trainings/%d", longID), aTok, "", nil); resp.StatusCode != 204 {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
}

func jobDirOf(t *testing.T, env *portaltest.Env, id int64) string {
	t.Helper()
	tr, err := env.Store.JobByID(context.Background(), 1, id)
	if err != nil {
		t.Fatal(err)
	}
	return tr.JobDir
}

// jobTokenOf reads KQI_TOKEN from a running training's 0600 secrets file
// (the test runs as root).
func jobTokenOf(t *testing.T, env *portaltest.Env, id int64) string {
	t.Helper()
	raw, err := os.ReadFile(env.Files.LocalPath(jobDirOf(t, env, id) + "/" + slurm.SecretsFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "KQI_TOKEN="); ok {
			return v
		}
	}
	t.Fatal("no KQI_TOKEN in the secrets file")
	return ""
}

func TestTrainingAPIRefusals(t *testing.T) {
	env := portaltest.New(t)
	env.Tenant(t, "lab")
	env.User(t, "alice", pw, false, "lab")
	tok := token(t, env, "alice", "lab")
	ds := datasetWith(t, env, tok, []upload{{"f", []byte("x")}})
	base := map[string]any{"name": "ok", "dataset_id": ds, "command": "true", "cpu": 1, "memory_gb": 1}
	tests := []struct {
		name  string
		set   map[string]any
		field string
	}{
		{"bad name", map[string]any{"name": "Has Spaces"}, "name"},
		{"unknown dataset", map[string]any{"dataset_id": 424242}, "dataset_id"},
		{"unknown partition", map[string]any{"partition": "nope"}, "partition"},
		{"too many cpus", map[string]any{"cpu": 4096}, "cpu"},
		{"env with =", map[string]any{"env": map[string]string{"A=B": "1"}}, "spec"},
		{"env overriding TRAINING_ID", map[string]any{"env": map[string]string{"TRAINING_ID": "7"}}, "spec"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := map[string]any{}
			for k, v := range base {
				body[k] = v
			}
			for k, v := range tc.set {
				body[k] = v
			}
			status, out := call(t, env, "POST", "/api/v1/trainings", tok, body)
			if status != 422 {
				t.Fatalf("%d %v", status, out)
			}
			fields := out["fields"].([]any)
			found := false
			for _, f := range fields {
				found = found || f.(map[string]any)["field"] == tc.field
			}
			if !found {
				t.Fatalf("no error on %s: %v", tc.field, out)
			}
		})
	}
	// A cluster that does not answer: 503, saying nothing was submitted.
	env.Fake.PartitionsErr = errors.New("slurmrestd: connection refused")
	env.Clock.Advance(time.Minute) // past the cached partition list
	status, out := call(t, env, "POST", "/api/v1/trainings", tok, base)
	env.Fake.PartitionsErr = nil
	if status != 503 || !strings.Contains(fmt.Sprint(out["error"]), "nothing was submitted") {
		t.Fatalf("cluster down: %d %v, want 503 saying nothing was submitted", status, out)
	}
	if _, l := call(t, env, "GET", "/api/v1/trainings", tok, nil); l["total"].(float64) != 0 {
		t.Fatal("refused trainings were recorded")
	}
}

// A job that leaves a symbolic link in its output pointing at another
// tenant's data (under the same root on the host) gets nothing from it:
// the link is not listed, not downloadable and not zipped.
func TestOutputSymlinkToAnotherTenant(t *testing.T) {
	env := portaltest.New(t, portaltest.WithCluster)
	env.Tenant(t, "lab-a")
	env.Tenant(t, "lab-b")
	env.User(t, "alice", pw, false, "lab-a")
	env.User(t, "bob", pw, false, "lab-b")
	aTok, bTok := token(t, env, "alice", "lab-a"), token(t, env, "bob", "lab-b")
	datasetWith(t, env, bTok, []upload{{"secret.txt", []byte("bob's secret")}}) // tenant 2, data 1
	ds := datasetWith(t, env, aTok, []upload{{"mine.txt", []byte("x")}})
	// From tenants/1/jobs/{id}/output, five levels up is the store's root.
	status, created := call(t, env, "POST", "/api/v1/trainings", aTok, map[string]any{"name": "steal", "dataset_id": ds, "cpu": 1, "memory_gb": 1,
		"command": `ln -s ../../../../../tenants/2/data/1/secret.txt /kqi/output/steal.txt && mkdir /kqi/output/d && ln -s ../../../../../../tenants/2/data/1 /kqi/output/d/dir && echo ok > /kqi/output/real.txt`})
	if status != 201 {
		t.Fatalf("create: %d %v", status, created)
	}
	id := int64(created["id"].(float64))
	if tr := waitTraining(t, env, aTok, id, ended); tr["status"] != "completed" {
		t.Fatalf("training: %v", tr)
	}
	_, list := call(t, env, "GET", fmt.Sprintf("/api/v1/trainings/%d/files", id), aTok, nil)
	if list["total"].(float64) != 1 {
		t.Fatalf("listed %v, want only real.txt", list["items"])
	}
	for _, p := range []string{"steal.txt", "d/dir/secret.txt"} {
		resp, raw := send(t, env, "GET", fmt.Sprintf("/api/v1/trainings/%d/files/%s", id, p), aTok, "", nil)
		if resp.StatusCode != 404 || strings.Contains(string(raw), "bob's secret") {
			t.Fatalf("%s: %d %q", p, resp.StatusCode, raw)
		}
	}
	_, zipped := send(t, env, "GET", fmt.Sprintf("/api/v1/trainings/%d/output.zip", id), aTok, "", nil)
	if bytes.Contains(zipped, []byte("bob's secret")) {
		t.Fatal("output.zip carries the other tenant's file")
	}
	// The link really pointed at bob's file: the check above is not vacuous.
	tr, _ := env.Store.JobByID(context.Background(), 1, id)
	if b, err := os.ReadFile(env.Files.LocalPath(tr.JobDir + "/output/steal.txt")); err != nil || string(b) != "bob's secret" {
		t.Fatalf("the link did not lead to the secret (%q, %v)", b, err)
	}
}

// Trainings of one dataset on the dev cluster, with the local and the SFTP
// file store: the first stages the dataset and its tree becomes the
// dataset's; the second binds that tree. Both read the same bytes at
// /kqi/input, and neither can write there.
func TestTrainingsShareTheirDatasetOnTheCluster(t *testing.T) {
	for _, store := range []struct {
		name string
		opts []portaltest.Option
	}{{"local", []portaltest.Option{portaltest.WithCluster}}, {"sftp", []portaltest.Option{portaltest.WithCluster, portaltest.WithSFTP}}} {
		t.Run(store.name, func(t *testing.T) {
			env := portaltest.New(t, store.opts...)
			env.Tenant(t, "lab")
			env.User(t, "alice", pw, false, "lab")
			tok := token(t, env, "alice", "lab")
			input := random(256 << 10)
			ds := datasetWith(t, env, tok, []upload{{"weights.bin", input}})
			command := `sha256sum < /kqi/input/training/*/weights.bin > /kqi/output/sum.txt; ` +
				`if touch /kqi/input/probe 2>/dev/null; then echo writable >> /kqi/output/sum.txt; fi`
			sum := fmt.Sprintf("%x  -\n", sha256.Sum256(input))
			shared := fmt.Sprintf("/datasets/%d/input", ds)
			for _, name := range []string{"first", "second"} {
				status, created := call(t, env, "POST", "/api/v1/trainings", tok, map[string]any{
					"name": name, "dataset_id": ds, "command": command, "cpu": 1, "memory_gb": 1, "partition": "cpu"})
				if status != 201 {
					t.Fatalf("%s: %d %v", name, status, created)
				}
				id := int64(created["id"].(float64))
				if tr := waitTraining(t, env, tok, id, ended); tr["status"] != "completed" {
					_, log := send(t, env, "GET", fmt.Sprintf("/api/v1/trainings/%d/log", id), tok, "", nil)
					t.Fatalf("%s: %v\nlog:\n%s", name, tr, log)
				}
				if resp, raw := send(t, env, "GET", fmt.Sprintf("/api/v1/trainings/%d/files/sum.txt", id), tok, "", nil); resp.StatusCode != 200 || string(raw) != sum {
					t.Errorf("%s read %d %q at /kqi/input, want %q", name, resp.StatusCode, raw, sum)
				}
				_, script := send(t, env, "GET", fmt.Sprintf("/api/v1/trainings/%d/script", id), tok, "", nil)
				if own := fmt.Sprintf("/jobs/%d/input", id); !strings.Contains(string(script), shared) || strings.Contains(string(script), own) {
					t.Errorf("%s binds its own input/, not the dataset's tree (…%s), at /kqi/input:\n%s", name, shared, script)
				}
			}
		})
	}
}
