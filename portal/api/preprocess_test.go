package api_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"kqi/portal/portaltest"
)

// dataWith registers a datum through the API and returns its id.
func dataWith(t *testing.T, env *portaltest.Env, tok, name string, files []upload) int64 {
	t.Helper()
	body, ctype := multipartBody(t, map[string][]string{"name": {name}}, files)
	resp, b := send(t, env, "POST", "/api/v1/data", tok, ctype, body)
	if resp.StatusCode != 201 {
		t.Fatalf("register %s: %d %s", name, resp.StatusCode, b)
	}
	var id int64
	fmt.Sscanf(string(b[strings.Index(string(b), `"id":`)+5:]), "%d", &id)
	return id
}

// outputBody is an upload into an open entry: name first, then files.
func outputBody(t *testing.T, name string, files []upload) (*bytes.Buffer, string) {
	t.Helper()
	return multipartBody(t, map[string][]string{"name": {name}}, files)
}

func ids(v any) []int64 {
	var out []int64
	for _, x := range v.([]any) {
		out = append(out, int64(x.(float64)))
	}
	return out
}

// The external workflow through the API: a preprocess with only a name,
// an entry opened for a datum (a second one refused), results uploaded
// into it (an interrupted upload leaves nothing; a bad name is refused),
// nothing visible as data until the entry is completed, then each result
// a datum with its files and lineage; a completed entry takes no more
// uploads; deleting it deletes its data.
func TestPreprocessExternalWorkflow(t *testing.T) { testExternalWorkflow(t) }

// The same through the SFTP file store (a portal that does not mount the
// shared filesystem): uploads, hard links and removal over SFTP.
func TestPreprocessExternalWorkflowOverSFTP(t *testing.T) {
	testExternalWorkflow(t, portaltest.WithSFTP)
}

func testExternalWorkflow(t *testing.T, opts ...portaltest.Option) {
	env := portaltest.New(t, opts...)
	lab := env.Tenant(t, "lab")
	env.User(t, "alice", pw, false, "lab")
	tok := token(t, env, "alice", "lab")
	src := dataWith(t, env, tok, "scan", []upload{{"a.png", []byte("png")}})

	status, p := call(t, env, "POST", "/api/v1/preprocesses", tok, map[string]any{"name": "トリミング on my laptop"})
	if status != 201 || p["locked"] != false {
		t.Fatalf("create: %d %v", status, p)
	}
	pid := int64(p["id"].(float64))
	base := fmt.Sprintf("/api/v1/preprocesses/%d/histories", pid)
	status, h := call(t, env, "POST", base, tok, map[string]any{"data_id": src})
	if status != 201 || h["status"] != "open" || h["external"] != true || h["data_id"] != float64(src) {
		t.Fatalf("open: %d %v", status, h)
	}
	if status, out := call(t, env, "POST", base, tok, map[string]any{"data_id": src}); status != 409 || !strings.Contains(out["error"].(string), "already") {
		t.Fatalf("second entry for the datum: %d %v", status, out)
	}
	entry := fmt.Sprintf("%s/%d", base, src)

	// An upload cut off halfway leaves nothing, and its name stays free.
	body, ctype := outputBody(t, "scan_small", []upload{{"one.bin", random(1 << 20)}, {"two.bin", random(1 << 20)}})
	cut := io.MultiReader(bytes.NewReader(body.Bytes()[:body.Len()*3/4]), errReader{})
	req, _ := http.NewRequest("POST", env.URL+entry+"/outputs", cut)
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.ContentLength = int64(body.Len())
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
	portaltest.Eventually(t, func() error {
		left, err := env.Files.List(context.Background(), fmt.Sprintf("tenants/%d/preprocess-uploads", lab.ID))
		if err != nil {
			return err
		}
		for _, d := range left {
			inner, _ := env.Files.List(context.Background(), fmt.Sprintf("tenants/%d/preprocess-uploads/%s", lab.ID, d.Name))
			if len(inner) > 0 {
				return fmt.Errorf("an interrupted upload left %+v", inner)
			}
		}
		return nil
	})

	for _, bad := range []struct {
		name string
		body func() (*bytes.Buffer, string)
		want int
	}{
		{"bad name", func() (*bytes.Buffer, string) { return outputBody(t, "../x", []upload{{"a", []byte("a")}}) }, 422},
		{"no files", func() (*bytes.Buffer, string) { return outputBody(t, "empty", nil) }, 422},
		{"files before the name", func() (*bytes.Buffer, string) { return multipartBody(t, nil, []upload{{"a", []byte("a")}}) }, 422},
	} {
		b, ct := bad.body()
		if resp, out := send(t, env, "POST", entry+"/outputs", tok, ct, b); resp.StatusCode != bad.want {
			t.Errorf("%s: %d %s", bad.name, resp.StatusCode, out)
		}
	}

	for _, o := range []struct {
		name  string
		files []upload
	}{{"scan_small", []upload{{"small.png", []byte("small")}}}, {"scan_gray", []upload{{"gray.png", []byte("gray")}, {"notes.txt", []byte("n")}}}} {
		b, ct := outputBody(t, o.name, o.files)
		if resp, out := send(t, env, "POST", entry+"/outputs", tok, ct, b); resp.StatusCode != 201 {
			t.Fatalf("upload %s: %d %s", o.name, resp.StatusCode, out)
		}
	}
	b, ct := outputBody(t, "scan_small", []upload{{"again.png", []byte("x")}})
	if resp, out := send(t, env, "POST", entry+"/outputs", tok, ct, b); resp.StatusCode != 422 {
		t.Fatalf("a name uploaded twice: %d %s", resp.StatusCode, out)
	}
	if _, n := listTotal(t, env, tok); n != 1 {
		t.Fatalf("before completing, %d data (want the source only)", n)
	}

	status, h = call(t, env, "POST", entry+"/complete", tok, nil)
	if status != 200 || h["status"] != "completed" || len(h["output_data_ids"].([]any)) != 2 {
		t.Fatalf("complete: %d %v", status, h)
	}
	outs := ids(h["output_data_ids"])
	if got := names(t, env, tok, "/api/v1/data?sort=id&desc=0"); strings.Join(got, ",") != "scan,scan_gray,scan_small" {
		t.Fatalf("data after completing: %v", got)
	}
	status, d := call(t, env, "GET", fmt.Sprintf("/api/v1/data/%d", outs[0]), tok, nil)
	if status != 200 || len(d["files"].([]any)) != 2 || !strings.Contains(d["memo"].(string), "scan") || d["tags"].([]any)[0] != "トリミング on my laptop" {
		t.Fatalf("a produced datum: %d %v", status, d)
	}
	resp, got := send(t, env, "GET", fmt.Sprintf("/api/v1/data/%d/files/gray.png", outs[0]), tok, "", nil)
	if resp.StatusCode != 200 || string(got) != "gray" {
		t.Fatalf("a produced file: %d %q", resp.StatusCode, got)
	}
	// The interrupted upload, whenever the server gave up on it, left
	// nothing: the entry's directory is gone with the completion.
	portaltest.Eventually(t, func() error {
		left, err := env.Files.List(context.Background(), fmt.Sprintf("tenants/%d/preprocess-uploads", lab.ID))
		if err != nil || len(left) > 0 {
			return fmt.Errorf("uploads left: %+v %v", left, err)
		}
		return nil
	})
	b, ct = outputBody(t, "late", []upload{{"a", []byte("a")}})
	if resp, out := send(t, env, "POST", entry+"/outputs", tok, ct, b); resp.StatusCode != 409 {
		t.Fatalf("upload into a completed entry: %d %s", resp.StatusCode, out)
	}
	if status, out := call(t, env, "POST", entry+"/complete", tok, nil); status != 409 {
		t.Fatalf("completing twice: %d %v", status, out)
	}
	status, p = call(t, env, "GET", fmt.Sprintf("/api/v1/preprocesses/%d", pid), tok, nil)
	if status != 200 || p["locked"] != true {
		t.Fatalf("a preprocess with history: %d %v", status, p)
	}
	if status, out := call(t, env, "DELETE", fmt.Sprintf("/api/v1/preprocesses/%d", pid), tok, nil); status != 409 {
		t.Fatalf("deleting a preprocess with history: %d %v", status, out)
	}
	if resp, _ := send(t, env, "DELETE", entry, tok, "", nil); resp.StatusCode != 204 {
		t.Fatalf("delete entry: %d", resp.StatusCode)
	}
	if _, n := listTotal(t, env, tok); n != 1 {
		t.Fatalf("after deleting the entry, %d data", n)
	}
	// An abandoned open entry can be deleted too, and the datum opened again.
	call(t, env, "POST", base, tok, map[string]any{"data_id": src})
	if resp, _ := send(t, env, "DELETE", entry, tok, "", nil); resp.StatusCode != 204 {
		t.Fatalf("delete an open entry: %d", resp.StatusCode)
	}
	if resp, _ := send(t, env, "DELETE", fmt.Sprintf("/api/v1/preprocesses/%d", pid), tok, "", nil); resp.StatusCode != 204 {
		t.Fatalf("delete the preprocess without history: %d", resp.StatusCode)
	}
}

// Definitions through the API: a definition that has run keeps its
// command, image and model (the memo stays editable); a copy is a new,
// unlocked one.
func TestPreprocessDefinitionLock(t *testing.T) {
	env := portaltest.New(t)
	env.Tenant(t, "lab")
	env.User(t, "alice", pw, false, "lab")
	tok := token(t, env, "alice", "lab")
	src := dataWith(t, env, tok, "d", []upload{{"a", []byte("a")}})
	def := map[string]any{"name": "p", "command": "true", "image": "host", "git": map[string]any{"repository": "https://git.example.org/p.git"}, "cpu": 1, "memory_gb": 1}
	status, p := call(t, env, "POST", "/api/v1/preprocesses", tok, def)
	if status != 201 {
		t.Fatalf("create: %d %v", status, p)
	}
	one := fmt.Sprintf("/api/v1/preprocesses/%d", int64(p["id"].(float64)))
	if status, out := call(t, env, "POST", "/api/v1/preprocesses", tok, map[string]any{"name": " "}); status != 422 {
		t.Fatalf("no name: %d %v", status, out)
	}
	status, runs := call(t, env, "POST", one+"/runs", tok, map[string]any{"data_ids": []int64{src}})
	if status != 201 || len(runs["items"].([]any)) != 1 {
		t.Fatalf("run: %d %v", status, runs)
	}
	item := runs["items"].([]any)[0].(map[string]any)
	if item["status"] != "queued" || !strings.HasSuffix(item["slurm_job_id"].(string), "_0") {
		t.Fatalf("run entry: %v", item)
	}
	def["command"] = "false"
	if status, out := call(t, env, "PUT", one, tok, def); status != 422 || !strings.Contains(out["error"].(string), "locked") {
		t.Fatalf("changing a used command: %d %v", status, out)
	}
	def["command"], def["memo"] = "true", "now with a memo"
	if status, out := call(t, env, "PUT", one, tok, def); status != 200 || out["memo"] != "now with a memo" {
		t.Fatalf("editing the memo: %d %v", status, out)
	}
	status, cp := call(t, env, "POST", one+"/copy", tok, nil)
	if status != 201 || cp["locked"] != false || cp["command"] != "true" {
		t.Fatalf("copy: %d %v", status, cp)
	}
	if status, out := call(t, env, "POST", one+"/runs", tok, map[string]any{"data_ids": []int64{src}}); status != 409 {
		t.Fatalf("running a datum twice: %d %v", status, out)
	}
}

// Another tenant gets 404 from every preprocess route given this tenant's
// preprocess, and this tenant's data are refused in its own runs and
// entries.
func TestPreprocessOfAnotherTenant(t *testing.T) {
	env := portaltest.New(t)
	env.Tenant(t, "lab-a")
	env.Tenant(t, "lab-b")
	env.User(t, "alice", pw, false, "lab-a")
	env.User(t, "bob", pw, false, "lab-b")
	aTok, bTok := token(t, env, "alice", "lab-a"), token(t, env, "bob", "lab-b")
	aData := dataWith(t, env, aTok, "a", []upload{{"a", []byte("a")}})
	aRun := dataWith(t, env, aTok, "a2", []upload{{"a", []byte("a")}})
	def := map[string]any{"name": "p", "command": "true", "image": "host", "git": map[string]any{"repository": "https://git.example.org/p.git"}, "cpu": 1, "memory_gb": 1}
	_, p := call(t, env, "POST", "/api/v1/preprocesses", aTok, def)
	one := fmt.Sprintf("/api/v1/preprocesses/%d", int64(p["id"].(float64)))
	call(t, env, "POST", one+"/histories", aTok, map[string]any{"data_id": aData})
	if status, out := call(t, env, "POST", one+"/runs", aTok, map[string]any{"data_ids": []int64{aRun}}); status != 201 {
		t.Fatalf("run: %d %v", status, out)
	}
	for _, entry := range []int64{aData, aRun} {
		e := fmt.Sprintf("%s/histories/%d", one, entry)
		for _, c := range []struct{ method, path string }{
			{"GET", one}, {"PUT", one}, {"DELETE", one}, {"POST", one + "/copy"}, {"POST", one + "/runs"},
			{"GET", one + "/histories"}, {"POST", one + "/histories"},
			{"GET", e}, {"DELETE", e}, {"GET", e + "/log"}, {"POST", e + "/stop"}, {"POST", e + "/outputs"}, {"POST", e + "/complete"},
		} {
			var body any
			ctype := "application/json"
			switch {
			case strings.HasSuffix(c.path, "/outputs"):
				b, ct := outputBody(t, "x", []upload{{"a", []byte("a")}})
				body, ctype = b, ct
			case c.method == "PUT":
				body = strings.NewReader(`{"name": "mine now"}`)
			case strings.HasSuffix(c.path, "/runs"):
				body = strings.NewReader(fmt.Sprintf(`{"data_ids": [%d]}`, aData))
			case strings.HasSuffix(c.path, "/histories") && c.method == "POST":
				body = strings.NewReader(fmt.Sprintf(`{"data_id": %d}`, aData))
			}
			var r io.Reader
			if body != nil {
				r = body.(io.Reader)
			}
			if resp, out := send(t, env, c.method, c.path, bTok, ctype, r); resp.StatusCode != 404 {
				t.Errorf("bob %s %s: %d %s", c.method, c.path, resp.StatusCode, out)
			}
		}
	}
	_, bp := call(t, env, "POST", "/api/v1/preprocesses", bTok, def)
	bOne := fmt.Sprintf("/api/v1/preprocesses/%d", int64(bp["id"].(float64)))
	if status, out := call(t, env, "POST", bOne+"/runs", bTok, map[string]any{"data_ids": []int64{aData}}); status != 422 {
		t.Fatalf("bob runs alice's datum: %d %v", status, out)
	}
	if status, out := call(t, env, "POST", bOne+"/histories", bTok, map[string]any{"data_id": aData}); status != 422 {
		t.Fatalf("bob opens an entry for alice's datum: %d %v", status, out)
	}
	if n := len(names(t, env, bTok, "/api/v1/preprocesses")); n != 1 {
		t.Fatalf("bob sees %d preprocesses", n)
	}
}

// A run through the API on the dev cluster, with the local and the SFTP
// file store: its entries complete with their data, the log is stdout_stderr.log, and deleting an entry deletes
// its data and lets the datum run again.
func TestPreprocessAPIOnTheCluster(t *testing.T) {
	for _, store := range []struct {
		name string
		opts []portaltest.Option
	}{{"local", []portaltest.Option{portaltest.WithCluster}}, {"sftp", []portaltest.Option{portaltest.WithCluster, portaltest.WithSFTP}}} {
		t.Run(store.name, func(t *testing.T) { testPreprocessOnTheCluster(t, store.opts...) })
	}
}

func testPreprocessOnTheCluster(t *testing.T, opts ...portaltest.Option) {
	env := portaltest.New(t, opts...)
	repo := os.Getenv("KQI_DEV_GIT_PUBLIC_REPO")
	if repo == "" {
		t.Fatal("KQI_DEV_GIT_PUBLIC_REPO is not set: run scripts/dev-cluster.sh up")
	}
	env.Tenant(t, "lab")
	env.User(t, "alice", pw, false, "lab")
	tok := token(t, env, "alice", "lab")
	a := dataWith(t, env, tok, "a", []upload{{"in.txt", []byte("first")}})
	b := dataWith(t, env, tok, "b", []upload{{"in.txt", []byte("second")}})
	_, p := call(t, env, "POST", "/api/v1/preprocesses", tok, map[string]any{"name": "copy", "image": "host", "git": map[string]any{"repository": repo},
		"command": `test -d /kqi/git/.git && mkdir -p /kqi/output/${DATA_NAME}_copy && cp /kqi/input/$DATA_ID/in.txt /kqi/output/${DATA_NAME}_copy/ && echo copied $DATA_NAME`,
		"cpu":     1, "memory_gb": 1})
	one := fmt.Sprintf("/api/v1/preprocesses/%d", int64(p["id"].(float64)))
	status, runs := call(t, env, "POST", one+"/runs", tok, map[string]any{"data_ids": []int64{a, b}, "partition": "cpu", "env": map[string]string{"MODE": "x"}})
	if status != 201 || len(runs["items"].([]any)) != 2 {
		t.Fatalf("run: %d %v", status, runs)
	}
	deadline := time.Now().Add(3 * time.Minute)
	var items []any
	for {
		if err := env.Jobs.Poll(context.Background()); err != nil {
			t.Fatal(err)
		}
		_, l := call(t, env, "GET", one+"/histories", tok, nil)
		items = l["items"].([]any)
		done := 0
		for _, it := range items {
			if s := it.(map[string]any)["status"]; s != "queued" && s != "running" {
				done++
			}
		}
		if done == len(items) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("histories: %v", items)
		}
		time.Sleep(500 * time.Millisecond)
	}
	for _, it := range items {
		e := it.(map[string]any)
		if e["status"] != "completed" || len(e["output_data_ids"].([]any)) != 1 || e["node"] == "" {
			t.Fatalf("entry %v", e)
		}
	}
	resp, log := send(t, env, "GET", fmt.Sprintf("%s/histories/%d/log", one, a), tok, "", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(log), "copied a") || !strings.Contains(resp.Header.Get("Content-Disposition"), "stdout_stderr.log") {
		t.Fatalf("log: %d %s %q", resp.StatusCode, resp.Header.Get("Content-Disposition"), log)
	}
	_, e := call(t, env, "GET", fmt.Sprintf("%s/histories/%d", one, a), tok, nil)
	out := ids(e["output_data_ids"])[0]
	resp, got := send(t, env, "GET", fmt.Sprintf("/api/v1/data/%d/files/in.txt", out), tok, "", nil)
	if resp.StatusCode != 200 || string(got) != "first" {
		t.Fatalf("produced file: %d %q", resp.StatusCode, got)
	}
	if resp, _ := send(t, env, "DELETE", fmt.Sprintf("%s/histories/%d", one, a), tok, "", nil); resp.StatusCode != 204 {
		t.Fatalf("delete entry: %d", resp.StatusCode)
	}
	if status, _ := call(t, env, "GET", fmt.Sprintf("/api/v1/data/%d", out), tok, nil); status != 404 {
		t.Fatalf("a deleted entry's datum: %d", status)
	}
	if status, out := call(t, env, "POST", one+"/runs", tok, map[string]any{"data_ids": []int64{a}}); status != 201 {
		t.Fatalf("run again: %d %v", status, out)
	}
	t.Cleanup(func() {
		_, l := call(t, env, "GET", one+"/histories", tok, nil)
		for _, it := range l["items"].([]any) {
			if id, _ := it.(map[string]any)["slurm_job_id"].(string); id != "" {
				env.Jobs.Cluster.Cancel(context.Background(), id)
			}
		}
	})
}
