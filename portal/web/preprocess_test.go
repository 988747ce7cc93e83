package web_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"kqi/portal/jobs"
	"kqi/portal/portaltest"
	"kqi/portal/preprocess"
	"kqi/portal/transfer"
	"kqi/slurm"
	"kqi/storage"
)

// preSetup is a tenant with preprocesses and data on the fake cluster.
type preSetup struct {
	env *portaltest.Env
	svc *preprocess.Service
	lab *storage.Tenant
	who preprocess.Actor
	pre *storage.Preprocess // runnable
}

func newPreSetup(t *testing.T) *preSetup {
	t.Helper()
	env := portaltest.New(t)
	lab := env.Tenant(t, "lab")
	alice := env.User(t, "alice", pw, false, "lab")
	s := &preSetup{env: env, lab: lab, who: preprocess.Actor{TenantID: lab.ID, UserID: alice.ID},
		svc: &preprocess.Service{Store: env.Store, Files: env.Files, Jobs: env.Jobs, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}}
	var err error
	s.pre, err = s.svc.Create(context.Background(), s.who, preprocess.Fields{Name: "Resize <64>", Command: "python3 resize.py",
		Image: slurm.HostImage, GitRepository: "https://git.example.org/lab/pre.git", CPU: 1, MemoryGB: 1, Memo: "to 64×64"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *preSetup) datum(t *testing.T, name string) int64 {
	t.Helper()
	ctx := context.Background()
	id, _ := s.env.Store.NextDataID(ctx)
	p := fmt.Sprintf("tenants/%d/data/%d/a.png", s.lab.ID, id)
	if _, err := s.env.Files.Put(ctx, p, strings.NewReader("png")); err != nil {
		t.Fatal(err)
	}
	if err := s.env.Store.CreateData(ctx, storage.NewData{ID: id, TenantID: s.lab.ID, Name: name, Files: []storage.NewFile{{Name: "a.png", Size: 3}}}); err != nil {
		t.Fatal(err)
	}
	return id
}

// run runs the preprocess on a datum; the fake holds the task pending.
func (s *preSetup) run(t *testing.T, dataID int64) *storage.History {
	t.Helper()
	hs, err := s.svc.Run(context.Background(), s.who, s.pre.ID, preprocess.Run{DataIDs: []int64{dataID}, CPU: 1, MemoryGB: 1})
	if err != nil {
		t.Fatal(err)
	}
	return hs[0]
}

// ends has the fake report the task of h and its job directory its
// exit code and outputs, then polls.
func (s *preSetup) ends(t *testing.T, h *storage.History, state string, exit int, outputs map[string]string) {
	t.Helper()
	ctx := context.Background()
	for p, content := range outputs {
		if _, err := s.env.Files.Put(ctx, h.Job.JobDir+"/output/"+p, strings.NewReader(content)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.env.Files.Put(ctx, h.Job.JobDir+"/"+slurm.ExitCodeFile, strings.NewReader(strconv.Itoa(exit)+"\n")); err != nil {
		t.Fatal(err)
	}
	s.env.Files.Put(ctx, h.Job.JobDir+"/"+slurm.LogFile, strings.NewReader("[kqi] the command exited\n"))
	s.env.Fake.Set(h.Job.SlurmJobID, func(i *slurm.JobInfo) { i.State, i.Node = state, "vm" })
	if err := s.env.Jobs.Poll(ctx); err != nil {
		t.Fatal(err)
	}
}

func (s *preSetup) entry(t *testing.T, dataID int64) *storage.History {
	t.Helper()
	h, err := s.svc.History(context.Background(), s.lab.ID, s.pre.ID, dataID)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

var historyRow = regexp.MustCompile(`(?s)<tr data-data-id="(\d+)" class="history-entry">(.*?)</tr>`)

// Every preprocessing page renders in every state its object can be in,
// in English and Japanese: a definition fresh and used (locked), and a
// history entry submitting, queued, running, completed (with its data),
// failed, error (outputs refused), stopped, and external open and
// completed; the data pages show where a datum came from and what was
// made from it.
func TestPreprocessPagesInEveryState(t *testing.T) {
	s := newPreSetup(t)
	env := s.env
	ctx := context.Background()
	env.User(t, "akira", pw, false, "lab")
	fresh, err := s.svc.Create(ctx, s.who, preprocess.Fields{Name: "only a name"})
	if err != nil {
		t.Fatal(err)
	}
	type entry struct {
		name, status, cause string
		dataID              int64
		outputs             int
		log                 bool
	}
	var entries []entry
	add := func(name, status, cause string, outputs int, log bool, make func(d int64)) {
		d := s.datum(t, "src-"+name)
		make(d)
		entries = append(entries, entry{name, status, cause, d, outputs, log})
	}
	add("queued", "queued", "Slurm: JobArrayTaskLimit", 0, false, func(d int64) {
		h := s.run(t, d)
		env.Fake.Set(h.Job.SlurmJobID, func(i *slurm.JobInfo) { i.Reason = "JobArrayTaskLimit" })
		env.Jobs.Poll(ctx)
	})
	add("running", "running", "", 0, false, func(d int64) {
		h := s.run(t, d)
		env.Fake.Set(h.Job.SlurmJobID, func(i *slurm.JobInfo) { i.State, i.Node = "RUNNING", "vm" })
		env.Jobs.Poll(ctx)
	})
	add("completed", "completed", "", 2, true, func(d int64) {
		s.ends(t, s.run(t, d), "COMPLETED", 0, map[string]string{"small/a.png": "s", "gray/sub/b.png": "g", "top.txt": "ignored"})
	})
	add("failed", "failed", "", 0, true, func(d int64) {
		s.ends(t, s.run(t, d), "FAILED", 1, map[string]string{"half/a.png": "h"})
	})
	add("error", "error", "outputs cannot become data", 0, true, func(d int64) {
		s.ends(t, s.run(t, d), "COMPLETED", 0, map[string]string{"bad name!/a.png": "x"})
	})
	add("stopped", "killed", "", 0, false, func(d int64) {
		s.run(t, d)
		if err := s.svc.Stop(ctx, s.lab.ID, s.pre.ID, d); err != nil {
			t.Fatal(err)
		}
		env.Jobs.Poll(ctx) // cancels
		env.Jobs.Poll(ctx) // sees it cancelled
		if h := s.entry(t, d); h.Status() != "killed" {
			t.Fatalf("stopped entry: %s", h.Status())
		}
	})
	add("external-open", "open", "", 0, false, func(d int64) {
		if _, err := s.svc.Open(ctx, s.who, s.pre.ID, d); err != nil {
			t.Fatal(err)
		}
	})
	add("external-completed", "completed", "", 1, false, func(d int64) {
		if _, err := s.svc.Open(ctx, s.who, s.pre.ID, d); err != nil {
			t.Fatal(err)
		}
		var body strings.Builder
		mw := multipart.NewWriter(&body)
		mw.WriteField("name", "laptop_result")
		fw, _ := mw.CreateFormFile("file", "r.csv")
		fw.Write([]byte("1,2"))
		mw.Close()
		form, err := transfer.NewForm(strings.NewReader(body.String()), mw.Boundary())
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.svc.Upload(ctx, s.who, s.pre.ID, d, form); err != nil {
			t.Fatal(err)
		}
		if _, err := s.svc.Complete(ctx, s.who, s.pre.ID, d); err != nil {
			t.Fatal(err)
		}
	})
	// Last: a row only a crash leaves submitting (a poll would settle it).
	add("submitting", "submitting", "", 0, false, func(d int64) {
		if _, err := env.Store.CreatePreprocessRun(ctx, storage.PreprocessRun{PreprocessID: s.pre.ID, DataIDs: []int64{d},
			Job: storage.NewJob{TenantID: s.lab.ID, Kind: jobs.Preprocess.Name(), Name: "resize", Image: slurm.HostImage, Command: "x", CPU: 1, MemoryGB: 1, Partition: "cpu"}}); err != nil {
			t.Fatal(err)
		}
	})

	completed := s.entry(t, entries[2].dataID)
	for _, u := range []struct{ name, lang string }{{"alice", "en"}, {"akira", "ja"}} {
		t.Run(u.lang, func(t *testing.T) {
			b := env.Browser(t)
			b.Login(u.name, pw)
			if u.lang == "ja" {
				b.Submit("/settings", "/settings/language", url.Values{"lang": {"ja"}})
			}
			get := func(path string) string {
				t.Helper()
				p := b.Get(path)
				if p.Status != http.StatusOK {
					t.Fatalf("GET %s: %d\n%s", path, p.Status, p.Body)
				}
				checkPage(t, u.lang, p.Body)
				return p.Body
			}
			list := get("/preprocessing")
			if !strings.Contains(list, "Resize &lt;64&gt;") || !strings.Contains(list, "only a name") || strings.Count(list, `class="badge"`) != 1 {
				t.Errorf("list: %s", list)
			}
			used := get(fmt.Sprintf("/preprocessing/%d", s.pre.ID))
			if !strings.Contains(used, `id="preprocess-locked"`) || !strings.Contains(used, `name="command" id="preprocess-command" rows="3" readonly`) || strings.Contains(used, `id="preprocess-delete"`) {
				t.Errorf("a used definition's page is not locked: %s", used)
			}
			unused := get(fmt.Sprintf("/preprocessing/%d", fresh.ID))
			if strings.Contains(unused, `id="preprocess-locked"`) || strings.Contains(unused, "readonly") || !strings.Contains(unused, `id="preprocess-delete"`) {
				t.Errorf("a fresh definition's page: %s", unused)
			}
			get("/preprocessing/new")
			run := get(fmt.Sprintf("/preprocessing/run?preprocess_id=%d&data_ids=%d&data_ids=%d", s.pre.ID, entries[0].dataID, entries[1].dataID))
			if !strings.Contains(run, fmt.Sprintf(`name="data_ids" value="%d" checked`, entries[1].dataID)) || !strings.Contains(run, fmt.Sprintf(`<option value="%d" selected>`, s.pre.ID)) {
				t.Errorf("run form: %s", run)
			}
			pick := get(fmt.Sprintf("/preprocessing/run?preprocess_id=%d", s.pre.ID))
			if !strings.Contains(pick, `id="run-pick"`) || !strings.Contains(pick, fmt.Sprintf(`name="data_ids" value="%d">`, entries[0].dataID)) || !strings.Contains(pick, `name="cpu" min="1" value="1"`) {
				t.Errorf("the run form from a preprocess's page offers no data to pick or no defaults: %s", pick)
			}
			get(fmt.Sprintf("/preprocessing/%d/histories", fresh.ID))
			hist := get(fmt.Sprintf("/preprocessing/%d/histories", s.pre.ID))
			rows := map[string]string{}
			for _, m := range historyRow.FindAllStringSubmatch(hist, -1) {
				rows[m[1]] = m[2]
			}
			for _, e := range entries {
				row, ok := rows[strconv.FormatInt(e.dataID, 10)]
				if !ok {
					t.Errorf("%s: no row", e.name)
					continue
				}
				if !strings.Contains(row, `status-`+e.status+`"`) {
					t.Errorf("%s: row %s", e.name, row)
				}
				if got := strings.Count(row, `class="output-link"`); got != e.outputs {
					t.Errorf("%s: %d outputs shown, want %d", e.name, got, e.outputs)
				}
				if has := strings.Contains(row, `class="log-link"`); has != (e.log || e.status == "queued" || e.status == "running" || e.status == "killed") {
					t.Errorf("%s: log link %v", e.name, has)
				}
				if u.lang == "en" && e.cause != "" && !strings.Contains(row, e.cause) {
					t.Errorf("%s: cause %q not shown: %s", e.name, e.cause, row)
				}
			}
			for _, o := range completed.Outputs {
				page := get(fmt.Sprintf("/data/%d", o.ID))
				if !strings.Contains(page, fmt.Sprintf(`href="/data/%d">#%d src-completed</a>`, entries[2].dataID, entries[2].dataID)) {
					t.Errorf("output %s does not say where it came from", o.Name)
				}
			}
			src := get(fmt.Sprintf("/data/%d", entries[2].dataID))
			for _, o := range completed.Outputs {
				if !strings.Contains(src, fmt.Sprintf(`href="/data/%d">#%d %s</a>`, o.ID, o.ID, o.Name)) {
					t.Errorf("source does not list %s", o.Name)
				}
			}
			gray := completed.Outputs[0]
			if p := b.Get(fmt.Sprintf("/data/%d/files/sub/b.png", gray.ID)); p.Status != 200 || p.Body != "g" {
				t.Errorf("a file in a subdirectory of a produced datum: %d %q", p.Status, p.Body)
			}
			resp, err := b.Client.Get(b.URL(fmt.Sprintf("/preprocessing/%d/histories/%d/log", s.pre.ID, entries[2].dataID)))
			if err != nil {
				t.Fatal(err)
			}
			logBody, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Disposition"), "stdout_stderr.log") || !strings.Contains(string(logBody), "exited") {
				t.Errorf("log: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Disposition"), logBody)
			}
		})
	}
}

// The forms keep what was typed when refused, and say why: a definition
// without a name, a run of a datum already run (409, pointing at the
// history), a run of nothing.
func TestPreprocessFormsRefused(t *testing.T) {
	s := newPreSetup(t)
	b := s.env.Browser(t)
	b.Login("alice", pw)
	p := b.Submit("/preprocessing/new", "/preprocessing", url.Values{"name": {" "}, "command": {"echo kept"}, "cpu": {"x"}})
	if p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Body, "echo kept") || !strings.Contains(p.Body, "Enter a name.") {
		t.Fatalf("definition without a name: %d %s", p.Status, p.Body)
	}
	d := s.datum(t, "once")
	form := url.Values{"preprocess_id": {strconv.FormatInt(s.pre.ID, 10)}, "data_ids": {strconv.FormatInt(d, 10)}, "env": {"SIZE=64"}, "open_history": {"1"}}
	p = b.Submit("/preprocessing/run", "/preprocessing/run", form)
	if p.Status != http.StatusSeeOther || p.Location != fmt.Sprintf("/preprocessing/%d/histories", s.pre.ID) {
		t.Fatalf("run: %d %q %s", p.Status, p.Location, p.Body)
	}
	p = b.Submit("/preprocessing/run", "/preprocessing/run", form)
	if p.Status != http.StatusConflict || !strings.Contains(p.Body, "already been preprocessed") || !strings.Contains(p.Body, "SIZE=64") {
		t.Fatalf("run again: %d %s", p.Status, p.Body)
	}
	p = b.Submit("/preprocessing/run", "/preprocessing/run", url.Values{"preprocess_id": {strconv.FormatInt(s.pre.ID, 10)}})
	if p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Body, "Choose at least one datum.") {
		t.Fatalf("run of nothing: %d %s", p.Status, p.Body)
	}
	// Not opening the history returns where the form came from.
	d2 := s.datum(t, "back")
	form.Set("data_ids", strconv.FormatInt(d2, 10))
	form.Del("open_history")
	form.Set("back", fmt.Sprintf("/data/%d", d2))
	if p = b.Submit("/preprocessing/run", "/preprocessing/run", form); p.Status != http.StatusSeeOther || p.Location != fmt.Sprintf("/data/%d", d2) {
		t.Fatalf("run without opening the history: %d %q", p.Status, p.Location)
	}
	form.Set("back", "https://evil.example/")
	d3 := s.datum(t, "evil")
	form.Set("data_ids", strconv.FormatInt(d3, 10))
	if p = b.Submit("/preprocessing/run", "/preprocessing/run", form); p.Status != http.StatusSeeOther || strings.Contains(p.Location, "evil") {
		t.Fatalf("back to another site: %d %q", p.Status, p.Location)
	}
	// The data list's checked rows go to the run form.
	p = b.Submit("/data", "/data/preprocess", url.Values{"ids": {strconv.FormatInt(d, 10), strconv.FormatInt(d2, 10)}})
	if p.Status != http.StatusSeeOther || !strings.Contains(p.Location, fmt.Sprintf("data_ids=%d&data_ids=%d", d, d2)) || strings.Contains(p.Location, "csrf") {
		t.Fatalf("run the checked data: %d %q", p.Status, p.Location)
	}
}

// Another tenant's preprocess, history entry and log are 404 on every
// page and action, and its data cannot be run.
func TestPreprocessPagesOfAnotherTenant(t *testing.T) {
	s := newPreSetup(t)
	env := s.env
	env.Tenant(t, "other")
	env.User(t, "bob", pw, false, "other")
	d := s.datum(t, "mine")
	h := s.run(t, d)
	s.ends(t, h, "COMPLETED", 0, map[string]string{"out/a": "a"})
	b := env.Browser(t)
	b.Login("bob", pw)
	one := fmt.Sprintf("/preprocessing/%d", s.pre.ID)
	entry := fmt.Sprintf("%s/histories/%d", one, d)
	for _, path := range []string{one, one + "/histories", entry + "/log", fmt.Sprintf("/data/%d", d)} {
		if p := b.Get(path); p.Status != http.StatusNotFound {
			t.Errorf("GET %s: %d", path, p.Status)
		}
	}
	for _, path := range []string{one, one + "/copy", one + "/delete", entry + "/stop", entry + "/delete"} {
		if p := b.Submit("/preprocessing", path, url.Values{"name": {"mine now"}}); p.Status != http.StatusNotFound {
			t.Errorf("POST %s: %d", path, p.Status)
		}
	}
	if p := b.Submit("/preprocessing", "/preprocessing/run", url.Values{"preprocess_id": {strconv.FormatInt(s.pre.ID, 10)}, "data_ids": {strconv.FormatInt(d, 10)}}); p.Status != http.StatusNotFound {
		t.Errorf("running another tenant's preprocess: %d", p.Status)
	}
	b.Submit("/preprocessing/new", "/preprocessing", url.Values{"name": {"bob's"}, "command": {"true"}, "image": {"host"}, "git_repository": {"https://git.example.org/x.git"}, "cpu": {"1"}, "memory_gb": {"1"}})
	list, _, err := env.Store.ListPreprocesses(context.Background(), s.lab.ID, storage.PreprocessFilter{})
	if err != nil || len(list) != 1 {
		t.Fatalf("lab's preprocesses: %d %v", len(list), err)
	}
	page := b.Get("/preprocessing")
	m := regexp.MustCompile(`<tr data-id="(\d+)">`).FindAllStringSubmatch(page.Body, -1)
	if len(m) != 1 || m[0][1] == strconv.FormatInt(s.pre.ID, 10) {
		t.Fatalf("bob's list shows %v", m)
	}
	p := b.Submit("/preprocessing/run", "/preprocessing/run", url.Values{"preprocess_id": {m[0][1]}, "data_ids": {strconv.FormatInt(d, 10)}})
	if p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Body, "do not exist") {
		t.Fatalf("bob runs lab's datum: %d %s", p.Status, p.Body)
	}
	if p := b.Get(fmt.Sprintf("/preprocessing/run?data_ids=%d", d)); p.Status != 200 || strings.Contains(p.Body, "mine") {
		t.Fatalf("the run form shows another tenant's datum: %d", p.Status)
	}
}
