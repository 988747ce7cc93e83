package server_test

import (
	"bytes"
	"context"
	"errors"
	"html"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"kqi/portal/data"
	"kqi/portal/i18n"
	"kqi/portal/portaltest"
	"kqi/storage"
	"kqi/storage/files"
)

// typedKinds are the fields a person types into, whose values a refused
// form must keep.
var typedKinds = map[string]bool{"text": true, "textarea": true, "password": true, "url": true, "email": true, "search": true}

// Every form of every page with a field a person types into, refused at
// the edge (a NUL, invalid UTF-8 or overlong text in one field), answers
// the same form again: the field's error shown, the offending value kept
// cleaned (bad characters as U+FFFD, long text whole), every other typed
// value kept. Passwords are never shown again. The forms come from the
// pages, so a form added later is held to it too. A list's bulk form
// (tags for the checked rows) has no page of its own: its refusals, its
// handler's and the edge's alike, are the error page naming the field.
func TestRefusedFormKeepsWhatWasTyped(t *testing.T) {
	w := newWorld(t)
	routes := routesOf(t, w.env.Router)
	b := w.env.Browser(t)
	b.SessionAs(w.lab.admin)
	forms := formsOf(t, w, b, routes)
	// The fixtures' dataset is in use, so its page is read-only: an
	// unused one's page has the edit form.
	svc := &data.Service{Store: w.env.Store, Files: w.env.Files, Log: slog.New(slog.DiscardHandler)}
	unused, err := svc.CreateDataset(context.Background(), data.Actor{TenantID: w.lab.tenant.ID, UserID: w.lab.admin.ID}, data.DatasetForm{Name: "unused-set"})
	if err != nil {
		t.Fatal(err)
	}
	unusedPage := "/datasets/" + strconv.FormatInt(unused, 10)
	addForms(w, forms, b.Get(unusedPage).Body)
	anon := w.env.Browser(t)
	var login []route
	for _, r := range routes {
		if r.name == "login" {
			login = append(login, r)
		}
	}
	anonForms := pageForms(t, w, anon, login)
	if _, ok := anonForms["loginCheck POST"]; !ok {
		t.Fatal("no login form found on the login page")
	}

	bad := []struct{ name, text, shown string }{
		{"nul", "a\x00b", "a\uFFFDb"},
		{"bad-utf8", "a\xffb\xfe", "a\uFFFDb\uFFFD"},
		{"overlong", strings.Repeat("x", 100_000), strings.Repeat("x", 100_000)},
	}
	csrf := map[*portaltest.Browser]string{b: b.CSRF("/settings"), anon: anon.CSRF("/login")}
	keys := map[string]string{"nul": "input.control", "bad-utf8": "input.bad_utf8", "overlong": "input.too_long"}
	tested := 0
	for _, r := range routes {
		if r.method != http.MethodPost || r.api() {
			continue
		}
		by, f := b, forms[r.name+" POST"]
		if r.name == "loginCheck" {
			by, f = anon, anonForms[r.name+" POST"]
		}
		typed := typedFields(f)
		if f.multipart || len(typed) == 0 {
			continue
		}
		path := r.build(func(v string) string { return w.fill(t, r, w.lab, v) })
		if r.name == "datasetUpdate" {
			path = unusedPage
		}
		for _, field := range typed {
			for _, v := range bad {
				t.Run(r.name+"/"+field+"/"+v.name, func(t *testing.T) {
					tested++
					form := cloneValues(f.fields)
					for _, g := range typed {
						form.Set(g, "kept-"+g)
					}
					form.Set(field, v.text)
					form.Set("csrf_token", csrf[by])
					p := by.Post(path, form)
					body := html.UnescapeString(p.Body)
					msg := i18n.T("en", keys[v.name], field)
					if strings.HasSuffix(r.name, "Bulk") {
						if p.Status < 400 || p.Status >= 500 || !strings.Contains(body, msg) {
							t.Errorf("status %d: want a 4xx page saying %q", p.Status, msg)
						}
						return
					}
					if p.Status < 200 || p.Status >= 300 && p.Status < 400 || p.Status >= 500 {
						t.Fatalf("status %d (location %q): want the form again", p.Status, p.Location)
					}
					if !strings.Contains(p.Body, `action="`+html.EscapeString(path)+`"`) {
						t.Fatalf("status %d: the answer is not the form (no form to %s): %.300s", p.Status, path, p.Body)
					}
					if !strings.Contains(body, msg) {
						t.Errorf("the field's error %q is not shown", msg)
					}
					if f.kinds[field] != "password" && !strings.Contains(body, v.shown) {
						t.Errorf("the refused value is not shown cleaned (%.20q)", v.shown)
					}
					for _, g := range typed {
						if g != field && f.kinds[g] != "password" && !strings.Contains(body, "kept-"+g) {
							t.Errorf("what was typed in %s is lost", g)
						}
					}
				})
			}
		}
	}
	if tested < 30 {
		t.Fatalf("only %d refused forms sent: the form reader is broken", tested)
	}
}

// typedFields are the form's fields a person types into, sorted.
func typedFields(f form) []string {
	var out []string
	for name, kind := range f.kinds {
		if typedKinds[kind] {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// The edge's refusal and the handler's own are shown together, each next
// to its field, and nothing is submitted.
func TestEdgeAndFormRefusalsShowTogether(t *testing.T) {
	w := newWorld(t)
	b := w.env.Browser(t)
	b.SessionAs(w.lab.admin)
	p := b.Submit("/settings", "/trainings", url.Values{"name": {"edge"}, "dataset_id": {strconv.FormatInt(w.lab.dataset, 10)},
		"command": {"true"}, "cpu": {"many"}, "memory_gb": {"1"}, "gpu": {"0"}, "memo": {"bell\x07"}})
	body := html.UnescapeString(p.Body)
	for _, msg := range []string{i18n.T("en", "input.control", "memo"), i18n.T("en", "training.not_a_number")} {
		if !strings.Contains(body, msg) {
			t.Errorf("status %d: %q is not shown", p.Status, msg)
		}
	}
	if !strings.Contains(body, "bell\uFFFD") || !strings.Contains(body, `value="many"`) {
		t.Error("what was typed is not kept")
	}
	list, _, err := w.env.Store.ListJobs(context.Background(), w.lab.tenant.ID, storage.JobFilter{})
	if err != nil || len(list) != 0 {
		t.Errorf("jobs after a refused form: %d (%v)", len(list), err)
	}
}

// A multipart page form refused for a text field answers the same form
// again like a URL-encoded one: the field's error, the refused value
// cleaned, every other typed value kept, and a word that the files must be
// chosen again (a browser cannot keep them). Nothing is registered and no
// file is left in the store, the upload's own or a temporary one.
func TestRefusedUploadKeepsWhatWasTyped(t *testing.T) {
	w := newWorld(t)
	routes := routesOf(t, w.env.Router)
	b := w.env.Browser(t)
	b.SessionAs(w.lab.admin)
	forms := formsOf(t, w, b, routes)
	csrf := b.CSRF("/settings")
	ctx := context.Background()
	dataDir := "tenants/" + strconv.FormatInt(w.lab.tenant.ID, 10) + "/data"
	stored := func() (int, []string) {
		_, n, err := w.env.Store.ListData(ctx, w.lab.tenant.ID, storage.DataFilter{})
		if err != nil {
			t.Fatal(err)
		}
		return n, filesUnder(t, w, dataDir)
	}
	bad := []struct{ name, text, shown, key string }{
		{"nul", "a\x00b", "a\uFFFDb", "input.control"},
		{"bad-utf8", "a\xffb\xfe", "a\uFFFDb\uFFFD", "input.bad_utf8"},
		{"overlong", strings.Repeat("x", 100_000), strings.Repeat("x", 100_000), "input.too_long"},
	}
	tested := 0
	for _, r := range routes {
		f, ok := forms[r.name+" POST"]
		typed := typedFields(f)
		if !ok || !f.multipart || len(typed) == 0 {
			continue
		}
		path := r.build(func(v string) string { return w.fill(t, r, w.lab, v) })
		for _, field := range typed {
			for _, v := range bad {
				t.Run(r.name+"/"+field+"/"+v.name, func(t *testing.T) {
					tested++
					countBefore, filesBefore := stored()
					form := cloneValues(f.fields)
					for _, g := range typed {
						form.Set(g, "kept-"+g)
					}
					form.Set(field, v.text)
					form.Set("csrf_token", csrf)
					body, ctype := multipartBody(form, "kept.txt", "some bytes")
					resp, err := b.Client.Post(b.URL(path), ctype, bytes.NewReader(body))
					if err != nil {
						t.Fatal(err)
					}
					p := portaltest.ReadPage(t, resp)
					shown := html.UnescapeString(p.Body)
					if p.Status < 400 || p.Status >= 500 || !strings.Contains(p.Body, `action="`+html.EscapeString(path)+`"`) {
						t.Fatalf("status %d: want the form again: %.300s", p.Status, p.Body)
					}
					for _, msg := range []string{i18n.T("en", v.key, field), i18n.T("en", "upload.choose_files_again")} {
						if !strings.Contains(shown, msg) {
							t.Errorf("%q is not shown", msg)
						}
					}
					if !strings.Contains(shown, v.shown) {
						t.Errorf("the refused value is not shown cleaned (%.20q)", v.shown)
					}
					for _, g := range typed {
						if g != field && !strings.Contains(shown, "kept-"+g) {
							t.Errorf("what was typed in %s is lost", g)
						}
					}
					countAfter, filesAfter := stored()
					if countAfter != countBefore || !slices.Equal(filesAfter, filesBefore) {
						t.Errorf("a refused upload left data behind: %d → %d data, files %v → %v", countBefore, countAfter, filesBefore, filesAfter)
					}
				})
			}
		}
	}
	if tested < 9 {
		t.Fatalf("only %d refused uploads sent: want the new-data form's three text fields", tested)
	}
}

// filesUnder lists every path below dir in the file store, temporary
// names included, sorted.
func filesUnder(t *testing.T, w *world, dir string) []string {
	t.Helper()
	list, err := w.env.Files.ListNoFollow(context.Background(), dir)
	if errors.Is(err, files.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range list {
		out = append(out, dir+"/"+f.Name)
		if f.IsDir {
			out = append(out, filesUnder(t, w, dir+"/"+f.Name)...)
		}
	}
	sort.Strings(out)
	return out
}
