package web_test

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"kqi/portal/portaltest"
	"kqi/storage"
)

// postUpload sends a data form the way a browser does: the CSRF token as
// the first part, then the fields, then the files.
func postUpload(t *testing.T, b *portaltest.Browser, from, path string, fields url.Values, files map[string]string) portaltest.Page {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("csrf_token", b.CSRF(from))
	for k, vs := range fields {
		for _, v := range vs {
			mw.WriteField(k, v)
		}
	}
	for name, content := range files {
		w, _ := mw.CreateFormFile("file", name)
		w.Write([]byte(content))
	}
	mw.Close()
	resp, err := b.Client.Post(b.URL(path), mw.FormDataContentType(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	return portaltest.ReadPage(t, resp)
}

func TestDataPages(t *testing.T) {
	env := portaltest.New(t)
	env.Tenant(t, "lab")
	env.User(t, "alice", pw, false, "lab")
	b := env.Browser(t)
	b.Login("alice", pw)

	// Refused: the typed name, memo and tags come back with the message.
	p := postUpload(t, b, "/data/new", "/data", url.Values{"name": {"cats"}, "memo": {"kept memo"}, "tags": {"a, b"}}, nil)
	if p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Body, "Choose at least one file.") ||
		!strings.Contains(p.Body, `value="cats"`) || !strings.Contains(p.Body, "kept memo") || !strings.Contains(p.Body, `value="a, b"`) {
		t.Fatalf("no-file upload: %d %s", p.Status, p.Body)
	}
	// A form without the CSRF token is refused before any byte is stored.
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("name", "sneaky")
	w, _ := mw.CreateFormFile("file", "x.txt")
	w.Write([]byte("x"))
	mw.Close()
	resp, _ := b.Client.Post(b.URL("/data"), mw.FormDataContentType(), &buf)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("upload without CSRF token: %d", resp.StatusCode)
	}
	resp.Body.Close()

	p = postUpload(t, b, "/data/new", "/data", url.Values{"name": {"cats"}, "tags": {"img, pets"}},
		map[string]string{"cat 1.png": "\x89PNG fake", "notes.csv": "a,b"})
	if p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location, "/data/") {
		t.Fatalf("upload: %d %q %s", p.Status, p.Location, p.Body)
	}
	detailPath := p.Location
	detail := b.Get(detailPath)
	for _, want := range []string{"Data registered.", "cat 1.png", "notes.csv", `class="preview"`, "cat%201.png?inline=1"} {
		if !strings.Contains(detail.Body, want) {
			t.Errorf("detail page lacks %q in %s", want, detail.Body)
		}
	}
	list := b.Get("/data?tag=pets")
	if !strings.Contains(list.Body, ">cats</a>") || !strings.Contains(list.Body, "1 in all") {
		t.Fatalf("list by tag: %s", list.Body)
	}
	if list := b.Get("/data?tag=dogs"); strings.Contains(list.Body, ">cats</a>") {
		t.Fatalf("filter by another tag still lists cats")
	}
	dl := b.Get(detailPath + "/files/cat%201.png")
	if dl.Status != 200 || dl.Body != "\x89PNG fake" {
		t.Fatalf("download: %d %q", dl.Status, dl.Body)
	}

	// Edit with an empty name: refused, typed values kept.
	p = b.Submit(detailPath, detailPath, url.Values{"name": {""}, "memo": {"new memo"}, "tags": {"x"}})
	if p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Body, "A name is required.") || !strings.Contains(p.Body, "new memo") {
		t.Fatalf("edit with empty name: %d", p.Status)
	}
	p = b.Submit(detailPath, detailPath+"/files/notes.csv/delete", nil)
	if p.Status != http.StatusSeeOther {
		t.Fatalf("remove file: %d", p.Status)
	}
	if d := b.Get(detailPath); strings.Contains(d.Body, "notes.csv") {
		t.Fatal("removed file still listed")
	}
	p = b.Submit(detailPath, detailPath+"/delete", nil)
	if p.Status != http.StatusSeeOther {
		t.Fatalf("delete: %d", p.Status)
	}
	if d := b.Get(detailPath); d.Status != http.StatusNotFound {
		t.Fatalf("deleted data: %d", d.Status)
	}
}

func TestDataPagesOfAnotherTenant(t *testing.T) {
	env := portaltest.New(t)
	a := env.Tenant(t, "lab-a")
	bTenant := env.Tenant(t, "lab-b")
	env.User(t, "alice", pw, false, "lab-a")
	ctx := context.Background()
	id, _ := env.Store.NextDataID(ctx)
	if err := env.Store.CreateData(ctx, storage.NewData{ID: id, TenantID: bTenant.ID, Name: "b-secret", Files: []storage.NewFile{{Name: "s.txt", Size: 1}}}); err != nil {
		t.Fatal(err)
	}
	dsID, err := env.Store.CreateDataset(ctx, storage.NewDataset{TenantID: bTenant.ID, Name: "b-set"})
	if err != nil {
		t.Fatal(err)
	}
	b := env.Browser(t)
	b.Login("alice", pw)
	idS, dsS := strconv.FormatInt(id, 10), strconv.FormatInt(dsID, 10)
	for _, path := range []string{"/data/" + idS, "/data/" + idS + "/files/s.txt", "/datasets/" + dsS} {
		if p := b.Get(path); p.Status != http.StatusNotFound || strings.Contains(p.Body, "b-s") {
			t.Errorf("GET %s: %d", path, p.Status)
		}
	}
	for _, path := range []string{"/data/" + idS, "/data/" + idS + "/delete", "/data/" + idS + "/files/s.txt/delete",
		"/datasets/" + dsS, "/datasets/" + dsS + "/delete", "/datasets/" + dsS + "/copy"} {
		if p := b.Submit("/", path, url.Values{"name": {"hijack"}}); p.Status != http.StatusNotFound {
			t.Errorf("POST %s: %d", path, p.Status)
		}
	}
	if d, err := env.Store.DataByID(ctx, bTenant.ID, id); err != nil || d.Name != "b-secret" {
		t.Fatalf("tenant B's datum changed: %v %v", d, err)
	}
	_ = a
}

func TestDatasetPages(t *testing.T) {
	env := portaltest.New(t)
	lab := env.Tenant(t, "lab")
	env.User(t, "alice", pw, false, "lab")
	ctx := context.Background()
	var ids []string
	for i := 0; i < 3; i++ {
		id, _ := env.Store.NextDataID(ctx)
		env.Store.CreateData(ctx, storage.NewData{ID: id, TenantID: lab.ID, Name: fmt.Sprintf("d%d", i), Files: []storage.NewFile{{Name: "f", Size: 1}}})
		ids = append(ids, strconv.FormatInt(id, 10))
	}
	b := env.Browser(t)
	b.Login("alice", pw)

	p := b.Submit("/datasets/new", "/datasets", url.Values{"name": {""}, "memo": {"m1"}, "area_" + ids[0]: {"training"}})
	if p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Body, "A name is required.") || !strings.Contains(p.Body, `<option value="training" selected>`) {
		t.Fatalf("empty name: %d %s", p.Status, p.Body)
	}
	p = b.Submit("/datasets/new", "/datasets", url.Values{"name": {"split"}, "area_" + ids[0]: {"training"}, "area_" + ids[1]: {"validation"}, "area_" + ids[2]: {""}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("create: %d %s", p.Status, p.Body)
	}
	dsPath := p.Location
	dsID, _ := strconv.ParseInt(strings.TrimPrefix(dsPath, "/datasets/"), 10, 64)
	ds, err := env.Store.DatasetByID(ctx, lab.ID, dsID)
	if err != nil || ds.Counts["training"] != 1 || ds.Counts["validation"] != 1 || ds.Counts["testing"] != 0 {
		t.Fatalf("dataset %+v %v", ds, err)
	}
	// Move d0 to testing.
	p = b.Submit(dsPath, dsPath, url.Values{"name": {"split"}, "area_" + ids[0]: {"testing"}, "area_" + ids[1]: {"validation"}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("update: %d", p.Status)
	}
	if ds, _ := env.Store.DatasetByID(ctx, lab.ID, dsID); ds.Counts["testing"] != 1 || ds.Counts["training"] != 0 {
		t.Fatalf("after update %+v", ds.Counts)
	}

	// Frozen: edits are refused with a clear message and change nothing.
	env.Store.FreezeDataset(ctx, lab.ID, dsID)
	p = b.Submit(dsPath, dsPath, url.Values{"name": {"renamed"}, "area_" + ids[2]: {"training"}})
	if p.Status != http.StatusConflict || !strings.Contains(p.Body, "cannot change") {
		t.Fatalf("edit after freezing: %d %s", p.Status, p.Body)
	}
	if ds, _ := env.Store.DatasetByID(ctx, lab.ID, dsID); ds.Name != "split" || ds.Counts["training"] != 0 {
		t.Fatalf("frozen dataset changed: %+v", ds)
	}
	if p := b.Get("/data/" + ids[0]); !strings.Contains(p.Body, "its files are fixed") {
		t.Fatal("data page does not say it is frozen")
	}
	p = b.Submit("/data/"+ids[0], "/data/"+ids[0]+"/delete", nil)
	if p.Status != http.StatusConflict {
		t.Fatalf("deleting frozen data: %d", p.Status)
	}
	// Copy gives an editable dataset.
	p = b.Submit(dsPath, dsPath+"/copy", nil)
	if p.Status != http.StatusSeeOther || p.Location == dsPath {
		t.Fatalf("copy: %d %q", p.Status, p.Location)
	}
	if cp := b.Get(p.Location); !strings.Contains(cp.Body, `id="dataset-form"`) || !strings.Contains(cp.Body, "split (copy)") {
		t.Fatalf("copy is not editable: %s", cp.Body)
	}
}
