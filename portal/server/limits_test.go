package server_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"kqi/portal/jobs"
	"kqi/storage"
)

// The inputs issue 16 found answered 500 are refused with a 4xx naming
// the field, and nothing is recorded for them.
func TestBadInputIsRefusedNotFailed(t *testing.T) {
	w := newWorld(t)
	tr := w.job(t, w.lab, jobs.Training)
	tok := w.env.APIToken(t, w.lab.admin, w.lab.tenant.ID)
	api := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, w.env.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	training := func(member string) string {
		return fmt.Sprintf(`{"name": "t", "dataset_id": %d, "command": "true", "cpu": 1, "memory_gb": 1, %s}`, w.lab.dataset, member)
	}
	for _, c := range []struct {
		name, method, path, body string
		want                     int
		field                    string
	}{
		{"NUL in a list filter", "GET", "/api/v1/data?name=%00", "", 400, "name"},
		{"bad UTF-8 in a list filter", "GET", "/api/v1/data?tag=%FF", "", 400, "tag"},
		{"page past int64 offsets", "GET", "/api/v1/data?page=307445734561825862", "", 200, ""},
		{"NUL in a memo", "POST", "/api/v1/trainings", training(`"memo": "a\u0000b"`), 400, "memo"},
		{"a memo past the limit", "POST", "/api/v1/trainings", training(`"memo": "` + strings.Repeat("m", 5000) + `"`), 422, "memo"},
		{"memory_gb*1024 overflowing", "POST", "/api/v1/trainings", training(`"memory_gb": 9007199254740992`), 422, "memory_gb"},
		{"time limit of 2^40 minutes", "POST", "/api/v1/trainings", training(`"time_limit_minutes": 1099511627776`), 422, "time_limit"},
		{"a quota past INTEGER", "PUT", fmt.Sprintf("/api/v1/admin/tenants/%d/quota", w.lab.tenant.ID), `{"cpu": 3000000000}`, 422, "cpu"},
		{"NUL in a dataset name", "POST", "/api/v1/datasets", `{"name": "a\u0000"}`, 400, "name"},
		{"a directory as an output file", "GET", fmt.Sprintf("/api/v1/trainings/%d/files/sub", tr.ID), "", 404, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, body := api(c.method, c.path, c.body)
			if status != c.want {
				t.Fatalf("%s %s: %d %s, want %d", c.method, c.path, status, body, c.want)
			}
			if c.field != "" {
				var e struct {
					Fields []struct{ Field string }
				}
				json.Unmarshal([]byte(body), &e)
				if len(e.Fields) == 0 || e.Fields[0].Field != c.field {
					t.Errorf("refusal %s does not name %s", body, c.field)
				}
			}
		})
	}
	if _, total, err := w.env.Store.ListJobs(context.Background(), w.lab.tenant.ID, storage.JobFilter{Kind: "training"}); err != nil || total != 1 {
		t.Errorf("jobs recorded: %d (%v), want only the fixture", total, err)
	}

	// The pages: a training's memo and tags have the data's limits.
	b := w.env.Browser(t)
	b.SessionAs(w.lab.admin)
	detail := fmt.Sprintf("/trainings/%d", tr.ID)
	for name, form := range map[string]url.Values{
		"memo":      {"memo": {strings.Repeat("m", 5000)}},
		"many tags": {"tags": {""}},
		"NUL":       {"memo": {"a\x00b"}},
	} {
		manyTags := make([]string, 40)
		for i := range manyTags {
			manyTags[i] = fmt.Sprint("t", i)
		}
		if name == "many tags" {
			form.Set("tags", strings.Join(manyTags, ","))
		}
		if p := b.Submit(detail, detail, form); p.Status < 400 || p.Status >= 500 {
			t.Errorf("%s: %d, want a refusal", name, p.Status)
		}
	}
}

// A list's status poll looks up at most 200 ids, capped before any lookup
// and in one query: unknown ids took one query each before, and an id
// after hundreds of them was still looked up. (Thousands of ids are past
// the edge's length limit of a query value, a 400.)
func TestStatusPollIsCappedBeforeLookup(t *testing.T) {
	w := newWorld(t)
	tr := w.job(t, w.lab, jobs.Training)
	b := w.env.Browser(t)
	b.SessionAs(w.lab.admin)
	unknown := make([]string, 400)
	for i := range unknown {
		unknown[i] = fmt.Sprint(90000 + i)
	}
	real := fmt.Sprint(tr.ID)
	poll := func(ids []string) map[string]map[string]string {
		p := b.Get("/trainings/status?ids=" + strings.Join(ids, ","))
		out := map[string]map[string]string{}
		if err := json.Unmarshal([]byte(p.Body), &out); p.Status != http.StatusOK || err != nil {
			t.Fatalf("status poll: %d %v %s", p.Status, err, p.Body)
		}
		return out
	}
	if got := poll(append([]string{real}, unknown...)); got[real]["status"] != "completed" || len(got) != 1 {
		t.Errorf("the real id first: %v", got)
	}
	if got := poll(append(unknown[:250], real)); len(got) != 0 {
		t.Errorf("an id past the cap was looked up: %v", got)
	}
}

// output.zip holds every output whose name a zip can hold safely, with /
// only and nothing starting with .. or /, and lists the rest in
// KQI-NOT-INCLUDED.txt; it was an empty 200 before.
func TestOutputZipReportsNamesItCannotHold(t *testing.T) {
	w := newWorld(t)
	tr := w.job(t, w.lab, jobs.Training)
	out := w.env.Files.LocalPath(tr.JobDir + "/output")
	for _, name := range []string{"..hidden", `a\b.txt`, "dir/ok.txt", "x:y"} {
		p := filepath.Join(out, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte("data"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tok := w.env.APIToken(t, w.lab.admin, w.lab.tenant.ID)
	for _, path := range []string{fmt.Sprintf("/api/v1/trainings/%d/output.zip", tr.ID), fmt.Sprintf("/trainings/%d/output.zip", tr.ID)} {
		req, _ := http.NewRequest("GET", w.env.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		client := http.DefaultClient
		if !strings.HasPrefix(path, "/api/") {
			b := w.env.Browser(t)
			b.SessionAs(w.lab.admin)
			client = b.Client
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
		if resp.StatusCode != 200 || err != nil {
			t.Fatalf("%s: %d, %v", path, resp.StatusCode, err)
		}
		var names []string
		report := ""
		for _, f := range zr.File {
			names = append(names, f.Name)
			if strings.HasPrefix(f.Name, "..") || strings.HasPrefix(f.Name, "/") || strings.Contains(f.Name, `\`) {
				t.Errorf("%s: entry %q", path, f.Name)
			}
			if f.Name == jobs.NotIncludedName {
				r, _ := f.Open()
				b, _ := io.ReadAll(r)
				report = string(b)
			}
		}
		sort.Strings(names)
		if want := []string{jobs.NotIncludedName, "dir/ok.txt", outputFile}; !slices.Equal(names, want) {
			t.Errorf("%s: entries %q, want %q", path, names, want)
		}
		for _, left := range []string{`"..hidden"`, `"a\\b.txt"`, `"x:y"`} {
			if !strings.Contains(report, left) {
				t.Errorf("%s: the report does not name %s:\n%s", path, left, report)
			}
		}
	}
}
