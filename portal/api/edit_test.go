package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"kqi/portal/api/apitypes"
	"kqi/portal/portaltest"
	"kqi/slurm"
)

func TestEditData(t *testing.T) {
	env := portaltest.New(t)
	env.Tenant(t, "lab-a")
	env.Tenant(t, "lab-b")
	env.User(t, "alice", pw, false, "lab-a")
	env.User(t, "bob", pw, false, "lab-b")
	aTok, bTok := token(t, env, "alice", "lab-a"), token(t, env, "bob", "lab-b")
	body, ctype := multipartBody(t, map[string][]string{"name": {"cats"}, "tags": {"img"}}, []upload{{"a.txt", []byte("aaa")}})
	resp, raw := send(t, env, "POST", "/api/v1/data", aTok, ctype, body)
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d %s", resp.StatusCode, raw)
	}
	var d apitypes.Data
	json.Unmarshal(raw, &d)
	path := fmt.Sprintf("/api/v1/data/%d", d.ID)

	status, out := call(t, env, "PATCH", path, aTok, map[string]any{"memo": "fluffy", "tags": []string{"x", "y"}})
	if status != 200 || out["name"] != "cats" || out["memo"] != "fluffy" || fmt.Sprint(out["tags"]) != "[x y]" {
		t.Fatalf("patch: %d %v", status, out)
	}
	if status, out := call(t, env, "PATCH", path, aTok, map[string]any{"name": ""}); status != 422 || !strings.Contains(fmt.Sprint(out["fields"]), "name") {
		t.Errorf("empty name: %d %v", status, out)
	}
	if status, _ := call(t, env, "PATCH", path, bTok, map[string]any{"memo": "mine"}); status != 404 {
		t.Errorf("another tenant's patch: %d", status)
	}

	body, ctype = multipartBody(t, nil, []upload{{"b.txt", []byte("bbbb")}})
	resp, raw = send(t, env, "POST", path+"/files", aTok, ctype, body)
	if resp.StatusCode != 201 || !strings.Contains(string(raw), `"b.txt"`) || !strings.Contains(string(raw), `"file_count":2`) {
		t.Fatalf("add file: %d %s", resp.StatusCode, raw)
	}
	body, ctype = multipartBody(t, nil, []upload{{"a.txt", []byte("again")}})
	if resp, raw := send(t, env, "POST", path+"/files", aTok, ctype, body); resp.StatusCode != 422 {
		t.Errorf("a taken name: %d %s", resp.StatusCode, raw)
	}
	body, ctype = multipartBody(t, nil, []upload{{"c.txt", []byte("c")}})
	if resp, _ := send(t, env, "POST", path+"/files", bTok, ctype, body); resp.StatusCode != 404 {
		t.Errorf("another tenant's add: %d", resp.StatusCode)
	}
	if resp, _ := send(t, env, "DELETE", path+"/files/a.txt", bTok, "", nil); resp.StatusCode != 404 {
		t.Errorf("another tenant's remove: %d", resp.StatusCode)
	}
	if resp, raw := send(t, env, "DELETE", path+"/files/a.txt", aTok, "", nil); resp.StatusCode != 204 {
		t.Fatalf("remove: %d %s", resp.StatusCode, raw)
	}
	_, out = call(t, env, "GET", path, aTok, nil)
	if fmt.Sprint(out["files"]) != "[map[name:b.txt size:4]]" {
		t.Errorf("after remove: %v", out["files"])
	}
}

func TestEditDataset(t *testing.T) {
	env := portaltest.New(t)
	env.Tenant(t, "lab-a")
	env.Tenant(t, "lab-b")
	env.User(t, "alice", pw, false, "lab-a")
	env.User(t, "bob", pw, false, "lab-b")
	aTok, bTok := token(t, env, "alice", "lab-a"), token(t, env, "bob", "lab-b")
	id := datasetWith(t, env, aTok, []upload{{"a.txt", []byte("a")}})
	path := fmt.Sprintf("/api/v1/datasets/%d", id)
	status, out := call(t, env, "PATCH", path, aTok, map[string]any{"name": "renamed", "memo": "m"})
	if status != 200 || out["name"] != "renamed" || out["memo"] != "m" || fmt.Sprint(out["counts"]) != "map[testing:0 training:1 validation:0]" {
		t.Fatalf("patch: %d %v", status, out)
	}
	trainingIDs := out["entries"].(map[string]any)["training"]
	status, out = call(t, env, "PATCH", path, aTok, map[string]any{"entries": map[string]any{"validation": trainingIDs}})
	if status != 200 || fmt.Sprint(out["counts"]) != "map[testing:0 training:0 validation:1]" {
		t.Fatalf("move entries: %d %v", status, out)
	}
	if status, _ := call(t, env, "PATCH", path, aTok, map[string]any{"entries": map[string]any{"nowhere": trainingIDs}}); status != 422 {
		t.Errorf("bad area: %d", status)
	}
	if status, _ := call(t, env, "PATCH", path, bTok, map[string]any{"name": "x"}); status != 404 {
		t.Errorf("another tenant's: %d", status)
	}
}

func TestEditJobNotesAttachmentsAndLogOffset(t *testing.T) {
	env := portaltest.New(t)
	a := env.Tenant(t, "lab-a")
	env.Tenant(t, "lab-b")
	alice := env.User(t, "alice", pw, false, "lab-a")
	env.User(t, "bob", pw, false, "lab-b")
	aTok, bTok := token(t, env, "alice", "lab-a"), token(t, env, "bob", "lab-b")
	tr := completedTraining(t, env, a.ID, alice.ID, "notes")
	path := fmt.Sprintf("/api/v1/trainings/%d", tr.ID)

	status, out := call(t, env, "PATCH", path, aTok, map[string]any{"memo": "good run", "tags": []string{"best"}, "favorite": true})
	if status != 200 || out["memo"] != "good run" || fmt.Sprint(out["tags"]) != "[best]" || out["favorite"] != true || out["status"] != "completed" {
		t.Fatalf("patch: %d %v", status, out)
	}
	if status, _ := call(t, env, "PATCH", path, aTok, map[string]any{"memo": strings.Repeat("m", 5000)}); status != 422 {
		t.Errorf("long memo: %d", status)
	}
	if status, _ := call(t, env, "PATCH", path, bTok, map[string]any{"memo": "x"}); status != 404 {
		t.Errorf("another tenant's: %d", status)
	}
	if status, _ := call(t, env, "PATCH", fmt.Sprintf("/api/v1/inferences/%d", tr.ID), aTok, map[string]any{"memo": "x"}); status != 404 {
		t.Errorf("a training as an inference: %d", status)
	}

	body, ctype := multipartBody(t, nil, []upload{{"notes.txt", []byte("hello")}})
	resp, raw := send(t, env, "POST", path+"/attachments", aTok, ctype, body)
	if resp.StatusCode != 201 || !strings.Contains(string(raw), `{"name":"notes.txt","size":5}`) {
		t.Fatalf("attach: %d %s", resp.StatusCode, raw)
	}
	body, ctype = multipartBody(t, nil, []upload{{"..", []byte("x")}})
	if resp, _ := send(t, env, "POST", path+"/attachments", aTok, ctype, body); resp.StatusCode != 422 {
		t.Errorf("bad name: %d", resp.StatusCode)
	}
	body, ctype = multipartBody(t, nil, []upload{{"b.txt", []byte("x")}})
	if resp, _ := send(t, env, "POST", path+"/attachments", bTok, ctype, body); resp.StatusCode != 404 {
		t.Errorf("another tenant's attach: %d", resp.StatusCode)
	}

	// The log read from offsets: each read sends what is new, once.
	readFrom := func(offset string) (int, string, string) {
		resp, raw := send(t, env, "GET", path+"/log?offset="+offset, aTok, "", nil)
		return resp.StatusCode, string(raw), resp.Header.Get(apitypes.NextOffsetHeader)
	}
	logPath := tr.JobDir + "/" + slurm.LogFile
	env.Files.Remove(context.Background(), logPath)
	if s, b, next := readFrom("0"); s != 200 || b != "" || next != "0" {
		t.Errorf("no log yet: %d %q next %q", s, b, next)
	}
	env.Files.Put(context.Background(), logPath, strings.NewReader("one\ntw"))
	s, b, next := readFrom("0")
	if s != 200 || b != "one\ntw" || next != "6" {
		t.Fatalf("first read: %d %q next %q", s, b, next)
	}
	env.Files.Put(context.Background(), logPath, strings.NewReader("one\ntwo\nthree\n"))
	if s, b, next := readFrom(next); s != 200 || b != "o\nthree\n" || next != "14" {
		t.Errorf("second read: %d %q next %q", s, b, next)
	}
	if s, b, next := readFrom("14"); s != 200 || b != "" || next != "14" {
		t.Errorf("nothing new: %d %q next %q", s, b, next)
	}
	for _, bad := range []string{"-1", "x"} {
		if s, _, _ := readFrom(bad); s != http.StatusBadRequest {
			t.Errorf("offset %s: %d", bad, s)
		}
	}
	if resp, _ := send(t, env, "GET", path+"/log?offset=0", bTok, "", nil); resp.StatusCode != 404 {
		t.Errorf("another tenant's log: %d", resp.StatusCode)
	}
}
