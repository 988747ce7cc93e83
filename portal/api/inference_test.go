package api_test

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"kqi/portal/portaltest"
)

// waitJob polls until the job of the collection satisfies done.
func waitJob(t *testing.T, env *portaltest.Env, tok, collection string, id int64, done func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if err := env.Jobs.Poll(context.Background()); err != nil {
			t.Fatal(err)
		}
		_, j := call(t, env, "GET", fmt.Sprintf("/api/v1/%s/%d", collection, id), tok, nil)
		if done(j) {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s %d: %v", collection, id, j)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func idOf(t *testing.T, status int, body map[string]any) int64 {
	t.Helper()
	if status != 201 || body["status"] != "queued" || body["slurm_job_id"] == "" {
		t.Fatalf("create: %d %v", status, body)
	}
	return int64(body["id"].(float64))
}

// names lists the names of a list answer's items, in order.
func names(t *testing.T, env *portaltest.Env, tok, path string) []string {
	t.Helper()
	status, l := call(t, env, "GET", path, tok, nil)
	if status != 200 {
		t.Fatalf("GET %s: %d %v", path, status, l)
	}
	var out []string
	for _, it := range l["items"].([]any) {
		out = append(out, it.(map[string]any)["name"].(string))
	}
	return out
}

// Inferences through the API on the dev cluster: one reads its parent's
// outputs at /kqi/parent (and cannot write there) and its value.txt
// becomes its value; a malformed one is null and the inference still
// completes; lists filter by parent, status and tag and sort by value; a
// running inference's token reaches only that inference; the training it
// was made from cannot be deleted while it exists; another tenant finds
// nothing, and cannot use the training as a parent.
func TestInferenceAPIOnTheCluster(t *testing.T) {
	env := portaltest.New(t, portaltest.WithCluster)
	env.Tenant(t, "lab-a")
	env.Tenant(t, "lab-b")
	env.User(t, "alice", pw, false, "lab-a")
	env.User(t, "bob", pw, false, "lab-b")
	aTok, bTok := token(t, env, "alice", "lab-a"), token(t, env, "bob", "lab-b")
	ds := datasetWith(t, env, aTok, []upload{{"x.csv", []byte("1,2\n")}})
	bDS := datasetWith(t, env, bTok, []upload{{"y.csv", []byte("3,4\n")}})
	create := func(path string, body map[string]any) int64 {
		t.Helper()
		status, out := call(t, env, "POST", path, aTok, body)
		return idOf(t, status, out)
	}
	job := func(name, command string, more map[string]any) map[string]any {
		b := map[string]any{"name": name, "dataset_id": ds, "command": command, "cpu": 1, "memory_gb": 1, "partition": "cpu"}
		for k, v := range more {
			b[k] = v
		}
		return b
	}

	model := create("/api/v1/trainings", job("model", "echo weights-v1 > /kqi/output/model.txt", nil))
	other := create("/api/v1/trainings", job("other", "echo weights-v2 > /kqi/output/model.txt", nil))
	for _, id := range []int64{model, other} {
		if tr := waitJob(t, env, aTok, "trainings", id, ended); tr["status"] != "completed" {
			t.Fatalf("training %d: %v", id, tr)
		}
	}

	eval := create("/api/v1/inferences", job("eval",
		`cp /kqi/parent/model.txt /kqi/output/read.txt && if touch /kqi/parent/new 2>/dev/null; then echo wrote > /kqi/output/wrote.txt; fi; `+
			`echo 0.875 > /kqi/output/value.txt; echo "id=$INFERENCE_ID parent=$PARENT_ID training=${TRAINING_ID-none}"`,
		map[string]any{"parent_ids": []int64{model}}))
	malformed := create("/api/v1/inferences", job("malformed", `echo "accuracy: high" > /kqi/output/value.txt`,
		map[string]any{"parent_id": model}))
	long := create("/api/v1/inferences", job("long", "sleep 300", map[string]any{"parent_ids": []int64{model, other}}))

	inf := waitJob(t, env, aTok, "inferences", eval, ended)
	if inf["status"] != "completed" || inf["value"] != 0.875 || fmt.Sprint(inf["parent_ids"]) != fmt.Sprintf("[%d]", model) {
		_, log := send(t, env, "GET", fmt.Sprintf("/api/v1/inferences/%d/log", eval), aTok, "", nil)
		t.Fatalf("eval: %v\nlog:\n%s", inf, log)
	}
	if resp, raw := send(t, env, "GET", fmt.Sprintf("/api/v1/inferences/%d/files/read.txt", eval), aTok, "", nil); resp.StatusCode != 200 || string(raw) != "weights-v1\n" {
		t.Fatalf("read.txt: %d %q", resp.StatusCode, raw)
	}
	if resp, _ := send(t, env, "GET", fmt.Sprintf("/api/v1/inferences/%d/files/wrote.txt", eval), aTok, "", nil); resp.StatusCode != 404 {
		t.Fatal("the inference could write into /kqi/parent")
	}
	_, logText := send(t, env, "GET", fmt.Sprintf("/api/v1/inferences/%d/log", eval), aTok, "", nil)
	if want := fmt.Sprintf("id=%d parent=%d training=none", eval, model); !strings.Contains(string(logText), want) {
		t.Fatalf("log lacks %q:\n%s", want, logText)
	}
	if _, script := send(t, env, "GET", fmt.Sprintf("/api/v1/inferences/%d/script", eval), aTok, "", nil); !strings.Contains(string(script), fmt.Sprintf("--job-name=inference-eval-%d", eval)) {
		t.Fatalf("script: %s", script)
	}
	status, files := call(t, env, "GET", fmt.Sprintf("/api/v1/inferences/%d/files", eval), aTok, nil)
	if status != 200 || files["total"].(float64) != 2 {
		t.Fatalf("files: %v", files)
	}
	resp, zipped := send(t, env, "GET", fmt.Sprintf("/api/v1/inferences/%d/output.zip", eval), aTok, "", nil)
	zr, err := zip.NewReader(bytes.NewReader(zipped), int64(len(zipped)))
	if resp.StatusCode != 200 || err != nil || len(zr.File) != 2 {
		t.Fatalf("output.zip: %d %v", resp.StatusCode, err)
	}
	for _, f := range zr.File {
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		if want := map[string]string{"read.txt": "weights-v1\n", "value.txt": "0.875\n"}[f.Name]; string(b) != want {
			t.Errorf("zip %s: %q", f.Name, b)
		}
	}

	if inf := waitJob(t, env, aTok, "inferences", malformed, ended); inf["status"] != "completed" || inf["value"] != nil {
		t.Fatalf("malformed value.txt: %v", inf)
	} else if _, ok := inf["value"]; !ok {
		t.Fatal("no value member (want null)")
	}

	// Lists: value in every item, sorted by it (none last), filtered.
	ctx := context.Background()
	if err := env.Store.UpdateJobNotes(ctx, 1, malformed, "", []string{"check"}, false); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		want string
	}{
		{"/api/v1/inferences?sort=value&desc=0", "[eval malformed long]"},
		{"/api/v1/inferences?sort=value", "[eval long malformed]"}, // descending; ties by id
		{fmt.Sprintf("/api/v1/inferences?parent_id=%d", other), "[long]"},
		{fmt.Sprintf("/api/v1/inferences?parent_id=%d&sort=id&desc=0", model), "[eval malformed long]"},
		{"/api/v1/inferences?status=completed", "[malformed eval]"},
		{"/api/v1/inferences?tag=check", "[malformed]"},
		{fmt.Sprintf("/api/v1/trainings?parent_id=%d", model), "[]"},
	} {
		if got := names(t, env, aTok, c.path); fmt.Sprint(got) != c.want {
			t.Errorf("%s: %v, want %s", c.path, got, c.want)
		}
	}
	_, l := call(t, env, "GET", "/api/v1/inferences?sort=value&desc=0&per_page=1", aTok, nil)
	if items := l["items"].([]any); l["total"].(float64) != 3 || items[0].(map[string]any)["value"] != 0.875 {
		t.Fatalf("list: %v", l)
	}

	// While it runs, its token reads that inference only.
	waitJob(t, env, aTok, "inferences", long, func(j map[string]any) bool { return j["status"] == "running" })
	jobToken := jobTokenOf(t, env, long)
	if status, j := call(t, env, "GET", fmt.Sprintf("/api/v1/inferences/%d", long), jobToken, nil); status != 200 || fmt.Sprint(j["parent_ids"]) != fmt.Sprintf("[%d %d]", model, other) {
		t.Fatalf("job token on its inference: %d %v", status, j)
	}
	if status, _ := call(t, env, "GET", fmt.Sprintf("/api/v1/inferences/%d/files", long), jobToken, nil); status != 200 {
		t.Fatalf("job token on its files: %d", status)
	}
	for _, p := range []string{"/api/v1/inferences", "/api/v1/trainings", fmt.Sprintf("/api/v1/inferences/%d", eval), fmt.Sprintf("/api/v1/trainings/%d", model), "/api/v1/data"} {
		if status, _ := call(t, env, "GET", p, jobToken, nil); status != 403 {
			t.Errorf("job token on %s: %d", p, status)
		}
	}
	if status, _ := call(t, env, "GET", fmt.Sprintf("/api/v1/trainings/%d", long), jobToken, nil); status != 404 {
		t.Errorf("job token on its id as a training: %d", status)
	}
	if status, _ := call(t, env, "POST", fmt.Sprintf("/api/v1/inferences/%d/stop", long), jobToken, nil); status != 403 {
		t.Errorf("job token stopping its inference: %d", status)
	}

	// Lineage: the training is kept while inferences made from it exist.
	status, refused := call(t, env, "DELETE", fmt.Sprintf("/api/v1/trainings/%d", model), aTok, nil)
	if status != 409 || !strings.Contains(refused["error"].(string), fmt.Sprintf("#%d, #%d, #%d", eval, malformed, long)) {
		t.Fatalf("delete a training inferences were made from: %d %v", status, refused)
	}

	// Another tenant: nothing of it, and alice's training is no parent.
	for _, id := range []int64{eval, long} {
		for _, p := range []string{"", "/log", "/script", "/files", "/files/read.txt", "/output.zip"} {
			if resp, raw := send(t, env, "GET", fmt.Sprintf("/api/v1/inferences/%d%s", id, p), bTok, "", nil); resp.StatusCode != 404 || strings.Contains(string(raw), "weights") {
				t.Errorf("tenant B GET %d%s: %d %s", id, p, resp.StatusCode, raw)
			}
		}
		for _, m := range []string{"POST /stop", "DELETE "} {
			method, p, _ := strings.Cut(m, " ")
			if resp, _ := send(t, env, method, fmt.Sprintf("/api/v1/inferences/%d%s", id, p), bTok, "", nil); resp.StatusCode != 404 {
				t.Errorf("tenant B %s %d: %d", m, id, resp.StatusCode)
			}
		}
	}
	if got := names(t, env, bTok, fmt.Sprintf("/api/v1/inferences?parent_id=%d", model)); len(got) != 0 {
		t.Errorf("tenant B lists %v", got)
	}
	status, out := call(t, env, "POST", "/api/v1/inferences", bTok, map[string]any{"name": "steal", "dataset_id": bDS, "command": "cat /kqi/parent/model.txt",
		"cpu": 1, "memory_gb": 1, "parent_ids": []int64{model}})
	if status != 422 || !strings.Contains(fmt.Sprint(out["fields"]), "parent_id") {
		t.Fatalf("tenant B with tenant A's training as parent: %d %v", status, out)
	}
	// A training is not an inference, nor the other way round.
	if status, _ := call(t, env, "GET", fmt.Sprintf("/api/v1/inferences/%d", model), aTok, nil); status != 404 {
		t.Errorf("a training as an inference: %d", status)
	}
	if status, _ := call(t, env, "GET", fmt.Sprintf("/api/v1/trainings/%d", eval), aTok, nil); status != 404 {
		t.Errorf("an inference as a training: %d", status)
	}

	if status, _ := call(t, env, "POST", fmt.Sprintf("/api/v1/inferences/%d/stop", long), aTok, nil); status != 202 {
		t.Fatalf("stop: %d", status)
	}
	if inf := waitJob(t, env, aTok, "inferences", long, ended); inf["status"] != "killed" || inf["value"] != nil {
		t.Fatalf("stopped: %v", inf)
	}
	for _, id := range []int64{eval, malformed, long} {
		if resp, raw := send(t, env, "DELETE", fmt.Sprintf("/api/v1/inferences/%d", id), aTok, "", nil); resp.StatusCode != 204 {
			t.Fatalf("delete inference %d: %d %s", id, resp.StatusCode, raw)
		}
	}
	if resp, _ := send(t, env, "DELETE", fmt.Sprintf("/api/v1/trainings/%d", model), aTok, "", nil); resp.StatusCode != 204 {
		t.Fatalf("delete the training once its inferences are gone: %d", resp.StatusCode)
	}
}
