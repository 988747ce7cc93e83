package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"testing"

	"kqi/portal/data"
	"kqi/portal/portaltest"
)

// upload is one file of a multipart registration.
type upload struct {
	name    string
	content []byte
}

// multipartBody builds a registration body: text fields first, then files.
func multipartBody(t *testing.T, fields map[string][]string, files []upload) (*bytes.Buffer, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, vs := range fields {
		for _, v := range vs {
			mw.WriteField(k, v)
		}
	}
	for _, f := range files {
		h := textproto.MIMEHeader{}
		// Written by hand: CreateFormFile would escape nothing, but the
		// point is to send the name exactly as given.
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, f.name))
		h.Set("Content-Type", "application/octet-stream")
		w, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(f.content)
	}
	mw.Close()
	return &buf, mw.FormDataContentType()
}

func send(t *testing.T, env *portaltest.Env, method, path, token, ctype string, body io.Reader) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, env.URL+path, body)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// The round trip the issue asks for, on both file stores.
func TestDataRoundTrip(t *testing.T) {
	for _, store := range []struct {
		name string
		opts []portaltest.Option
	}{{"local", nil}, {"sftp", []portaltest.Option{portaltest.WithSFTP}}} {
		t.Run(store.name, func(t *testing.T) {
			env := portaltest.New(t, store.opts...)
			lab := env.Tenant(t, "lab")
			env.User(t, "alice", pw, false, "lab")
			tok := token(t, env, "alice", "lab")

			big := random(3<<20 + 17)
			small := []byte("a,b\n1,2\n")
			body, ctype := multipartBody(t, map[string][]string{"name": {"cats"}, "memo": {"first try"}, "tags": {"img", "2026"}},
				[]upload{{"photo.bin", big}, {"データ 1.csv", small}})
			resp, raw := send(t, env, "POST", "/api/v1/data", tok, ctype, body)
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("register: %d %s", resp.StatusCode, raw)
			}
			var created struct {
				ID    int64
				Name  string
				Tags  []string
				Files []struct {
					Name string
					Size int64
				}
			}
			json.Unmarshal(raw, &created)
			if created.Name != "cats" || len(created.Files) != 2 || strings.Join(created.Tags, ",") != "img,2026" {
				t.Fatalf("created %s", raw)
			}

			status, list := call(t, env, "GET", "/api/v1/data?name=cat&per_page=10", tok, nil)
			if status != 200 || list["total"].(float64) != 1 {
				t.Fatalf("list: %d %v", status, list)
			}

			for _, f := range []upload{{"photo.bin", big}, {"データ 1.csv", small}} {
				resp, got := send(t, env, "GET", fmt.Sprintf("/api/v1/data/%d/files/%s", created.ID, pathEscape(f.name)), tok, "", nil)
				if resp.StatusCode != 200 || !bytes.Equal(got, f.content) {
					t.Fatalf("download %s: %d, %d bytes (want %d identical)", f.name, resp.StatusCode, len(got), len(f.content))
				}
			}

			resp, _ = send(t, env, "DELETE", fmt.Sprintf("/api/v1/data/%d", created.ID), tok, "", nil)
			if resp.StatusCode != http.StatusNoContent {
				t.Fatalf("delete: %d", resp.StatusCode)
			}
			if status, _ := call(t, env, "GET", fmt.Sprintf("/api/v1/data/%d", created.ID), tok, nil); status != 404 {
				t.Fatalf("deleted data still answers: %d", status)
			}
			assertNoFiles(t, env, data.DataDir(lab.ID, created.ID))
		})
	}
}

func pathEscape(s string) string { return url.PathEscape(s) }

// assertNoFiles fails when anything is left under dir in the file store.
func assertNoFiles(t *testing.T, env *portaltest.Env, dir string) {
	t.Helper()
	left, err := env.Files.List(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Fatalf("files left under %s: %+v", dir, left)
	}
}

func TestDataBadInput(t *testing.T) {
	env := portaltest.New(t)
	lab := env.Tenant(t, "lab")
	env.User(t, "alice", pw, false, "lab")
	tok := token(t, env, "alice", "lab")
	file := []upload{{"ok.txt", []byte("x")}}

	tests := []struct {
		name   string
		fields map[string][]string
		files  []upload
		want   string
	}{
		{"empty name", map[string][]string{"name": {"  "}}, file, "name is required"},
		{"no file", map[string][]string{"name": {"n"}}, nil, "at least one file"},
		{"dot-dot name", map[string][]string{"name": {"n"}}, []upload{{"../escape.txt", []byte("x")}}, "cannot be stored"},
		{"absolute name", map[string][]string{"name": {"n"}}, []upload{{"/etc/passwd", []byte("x")}}, "cannot be stored"},
		{"dot-dot alone", map[string][]string{"name": {"n"}}, []upload{{"..", []byte("x")}}, "cannot be stored"},
		{"duplicate names", map[string][]string{"name": {"n"}}, []upload{{"a.txt", []byte("1")}, {"a.txt", []byte("2")}}, "already a file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body, ctype := multipartBody(t, tc.fields, tc.files)
			resp, raw := send(t, env, "POST", "/api/v1/data", tok, ctype, body)
			if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(raw), tc.want) {
				t.Fatalf("%d %s", resp.StatusCode, raw)
			}
		})
	}
	if _, total := listTotal(t, env, tok); total != 0 {
		t.Fatalf("refused uploads registered %d data", total)
	}
	assertNoFiles(t, env, fmt.Sprintf("tenants/%d/data", lab.ID))
	if _, err := env.Files.Stat(context.Background(), "escape.txt"); err == nil {
		t.Fatal("a ../ name escaped the data directory")
	}
}

func listTotal(t *testing.T, env *portaltest.Env, tok string) ([]any, int) {
	t.Helper()
	_, list := call(t, env, "GET", "/api/v1/data", tok, nil)
	return list["items"].([]any), int(list["total"].(float64))
}

// An upload whose body breaks off halfway registers nothing and leaves no
// file, not even a temporary one.
func TestDataUploadCutOff(t *testing.T) {
	env := portaltest.New(t)
	lab := env.Tenant(t, "lab")
	env.User(t, "alice", pw, false, "lab")
	tok := token(t, env, "alice", "lab")
	body, ctype := multipartBody(t, map[string][]string{"name": {"half"}}, []upload{{"big.bin", random(2 << 20)}})
	cut := io.MultiReader(bytes.NewReader(body.Bytes()[:body.Len()/2]), errReader{})
	req, _ := http.NewRequest("POST", env.URL+"/api/v1/data", cut)
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.ContentLength = int64(body.Len())
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
	// The server notices the broken body on its own time.
	portaltest.Eventually(t, func() error {
		if _, n := listTotal(t, env, tok); n != 0 {
			return fmt.Errorf("%d data registered", n)
		}
		left, err := env.Files.List(context.Background(), fmt.Sprintf("tenants/%d/data", lab.ID))
		if err != nil {
			return err
		}
		for _, d := range left {
			inner, _ := env.Files.List(context.Background(), fmt.Sprintf("tenants/%d/data/%s", lab.ID, d.Name))
			if len(inner) > 0 {
				return fmt.Errorf("stray files in %s: %+v", d.Name, inner)
			}
		}
		return nil
	})
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

func TestDataOfAnotherTenantIsNotFound(t *testing.T) {
	env := portaltest.New(t)
	env.Tenant(t, "lab-a")
	env.Tenant(t, "lab-b")
	env.User(t, "alice", pw, false, "lab-a")
	env.User(t, "bob", pw, false, "lab-b")
	aTok, bTok := token(t, env, "alice", "lab-a"), token(t, env, "bob", "lab-b")
	body, ctype := multipartBody(t, map[string][]string{"name": {"secret"}}, []upload{{"s.txt", []byte("b's secret")}})
	resp, raw := send(t, env, "POST", "/api/v1/data", bTok, ctype, body)
	if resp.StatusCode != 201 {
		t.Fatalf("%d %s", resp.StatusCode, raw)
	}
	var d struct{ ID int64 }
	json.Unmarshal(raw, &d)

	for _, probe := range []struct{ method, path string }{
		{"GET", fmt.Sprintf("/api/v1/data/%d", d.ID)},
		{"GET", fmt.Sprintf("/api/v1/data/%d/files/s.txt", d.ID)},
		{"DELETE", fmt.Sprintf("/api/v1/data/%d", d.ID)},
	} {
		resp, raw := send(t, env, probe.method, probe.path, aTok, "", nil)
		if resp.StatusCode != 404 || strings.Contains(string(raw), "secret") {
			t.Errorf("%s %s as tenant A: %d %s", probe.method, probe.path, resp.StatusCode, raw)
		}
	}
	if items, _ := listTotal(t, env, aTok); len(items) != 0 {
		t.Errorf("tenant A lists tenant B's data")
	}
	// A dataset in tenant A cannot take B's datum either.
	status, out := call(t, env, "POST", "/api/v1/datasets", aTok, map[string]any{"name": "x", "entries": map[string][]int64{"training": {d.ID}}})
	if status != 422 || !strings.Contains(out["error"].(string), "does not exist in this tenant") {
		t.Errorf("dataset with a foreign datum: %d %v", status, out)
	}
	if resp, _ := send(t, env, "GET", fmt.Sprintf("/api/v1/data/%d", d.ID), bTok, "", nil); resp.StatusCode != 200 {
		t.Errorf("B's own datum: %d", resp.StatusCode)
	}
}

func TestDatasetsAPI(t *testing.T) {
	env := portaltest.New(t)
	lab := env.Tenant(t, "lab")
	u := env.User(t, "alice", pw, false, "lab")
	tok := token(t, env, "alice", "lab")
	var ids []int64
	for i := 0; i < 3; i++ {
		body, ctype := multipartBody(t, map[string][]string{"name": {fmt.Sprintf("d%d", i)}}, []upload{{"f.txt", []byte{byte(i)}}})
		_, raw := send(t, env, "POST", "/api/v1/data", tok, ctype, body)
		var d struct{ ID int64 }
		json.Unmarshal(raw, &d)
		ids = append(ids, d.ID)
	}
	status, ds := call(t, env, "POST", "/api/v1/datasets", tok, map[string]any{
		"name": "split", "memo": "m", "entries": map[string][]int64{"training": {ids[0], ids[1]}, "testing": {ids[2]}}})
	if status != 201 || ds["counts"].(map[string]any)["training"].(float64) != 2 {
		t.Fatalf("create dataset: %d %v", status, ds)
	}
	dsID := int64(ds["id"].(float64))
	if status, out := call(t, env, "POST", "/api/v1/datasets", tok, map[string]any{"name": "bad", "entries": map[string][]int64{"train": {ids[0]}}}); status != 422 {
		t.Fatalf("unknown area: %d %v", status, out)
	}
	if status, _ := call(t, env, "POST", "/api/v1/datasets", tok, map[string]any{"name": "", "entries": map[string][]int64{}}); status != 422 {
		t.Fatalf("empty name: %d", status)
	}

	// Once a training uses it, it is frozen: its data cannot be deleted.
	if err := env.Store.FreezeDataset(context.Background(), lab.ID, dsID); err != nil {
		t.Fatal(err)
	}
	if resp, raw := send(t, env, "DELETE", fmt.Sprintf("/api/v1/data/%d", ids[0]), tok, "", nil); resp.StatusCode != 409 || !strings.Contains(string(raw), "cannot be deleted") {
		t.Fatalf("delete frozen data: %d %s", resp.StatusCode, raw)
	}
	if resp, _ := send(t, env, "DELETE", fmt.Sprintf("/api/v1/datasets/%d", dsID), tok, "", nil); resp.StatusCode != 409 {
		t.Fatalf("delete frozen dataset: %d", resp.StatusCode)
	}
	status, cp := call(t, env, "POST", fmt.Sprintf("/api/v1/datasets/%d/copy", dsID), tok, nil)
	if status != 201 || cp["frozen"] != false || cp["name"] != "split (copy)" || len(cp["entries"].(map[string]any)["training"].([]any)) != 2 {
		t.Fatalf("copy: %d %v", status, cp)
	}
	_ = u
}
