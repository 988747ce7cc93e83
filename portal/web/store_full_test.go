package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"kqi/portal/portaltest"
)

// An upload into a full file store says so (507), keeps the form, logs an
// error and registers nothing.
func TestUploadIntoAFullStore(t *testing.T) {
	env := portaltest.New(t, portaltest.WithSmallDisk(t, 1<<20))
	env.Tenant(t, "lab")
	env.User(t, "alice", pw, false, "lab")
	b := env.Browser(t)
	b.Login("alice", pw)

	p := postUpload(t, b, "/data/new", "/data", url.Values{"name": {"big one"}, "memo": {"kept memo"}},
		map[string]string{"big.bin": strings.Repeat("x", 3<<20)})
	if p.Status != http.StatusInsufficientStorage || !strings.Contains(p.Body, "The file store is full") ||
		!strings.Contains(p.Body, `value="big one"`) || !strings.Contains(p.Body, "kept memo") {
		t.Fatalf("upload into a full store: %d %s", p.Status, p.Body)
	}
	if logs := env.Logs(); !strings.Contains(logs, "level=ERROR") || !strings.Contains(logs, "the file store is full") {
		t.Errorf("not logged as an error:\n%s", logs)
	}
	if p := b.Get("/data"); strings.Contains(p.Body, "big one") {
		t.Errorf("the datum was registered:\n%s", p.Body)
	}
}
