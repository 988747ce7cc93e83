package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"kqi/portal/i18n"
	"kqi/portal/jobs"
	"kqi/portal/portaltest"
	"kqi/slurm"
	"kqi/storage"
)

// stateJSON is the shape of GET /trainings/{id}/state as the page's
// script reads it.
type stateJSON struct {
	Status     string    `json:"status"`
	StatusText string    `json:"status_text"`
	Reason     string    `json:"reason"`
	Active     bool      `json:"active"`
	ExitCode   *int      `json:"exit_code"`
	SlurmJobID string    `json:"slurm_job_id"`
	Node       string    `json:"node"`
	QueuedAt   *timeJSON `json:"queued_at"`
	StartedAt  *timeJSON `json:"started_at"`
	EndedAt    *timeJSON `json:"ended_at"`
	Waited     string    `json:"waited"`
	Ran        string    `json:"ran"`
	Outputs    []struct {
		Path, Size, URL string
	} `json:"outputs"`
}

type timeJSON struct {
	Datetime string `json:"datetime"`
	Text     string `json:"text"`
}

// jobCase is one training in one state, as the test expects to see it.
type jobCase struct {
	name   string
	job    *storage.Job
	status slurm.Status
	cause  string // cause code, "" for none
	arg    string
	exit   *int
	parent int64 // 0 = none
	files  bool  // an output file and an attachment
}

// Every page of a training renders in every state a training can be in,
// with and without a parent and files, in both languages: status and cause
// are translated and no formatting artefact or raw catalog key shows. (A
// child's page was a 500 that no test rendered.)
func TestTrainingPagesInEveryState(t *testing.T) {
	env := portaltest.New(t)
	lab := env.Tenant(t, "lab")
	other := env.Tenant(t, "other")
	alice := env.User(t, "alice", pw, false, "lab")
	env.User(t, "akira", pw, false, "lab")
	ctx := context.Background()
	dsID, err := env.Store.CreateDataset(ctx, storage.NewDataset{TenantID: lab.ID, Name: "d"})
	if err != nil {
		t.Fatal(err)
	}
	who := jobs.Actor{TenantID: lab.ID, UserID: alice.ID}

	submit := func(name string, parent int64) *storage.Job {
		t.Helper()
		req := jobs.Request{Name: name, DatasetID: dsID, CPU: 1, MemoryGB: 1, Command: "python3 train.py"}
		if parent != 0 {
			req.ParentIDs = []int64{parent}
		}
		j, err := env.Jobs.Submit(ctx, who, jobs.Training, req)
		if err != nil {
			t.Fatalf("submit %s: %v", name, err)
		}
		return j
	}
	// record writes what the batch script leaves in the job directory.
	record := func(j *storage.Job, file, content string) {
		t.Helper()
		if _, err := env.Files.Put(ctx, j.JobDir+"/"+file, strings.NewReader(content)); err != nil {
			t.Fatal(err)
		}
	}
	// slurmSays makes the fake cluster report change and polls.
	slurmSays := func(j *storage.Job, change func(*slurm.JobInfo)) {
		t.Helper()
		env.Fake.Set(j.SlurmJobID, change)
		if err := env.Jobs.Poll(ctx); err != nil {
			t.Fatal(err)
		}
	}
	started := time.Now().Add(-5 * time.Minute).Truncate(time.Second)
	ended := started.Add(3 * time.Minute)
	exitCode := func(n int) *int { return &n }
	// The rows made without Slurm come last: a poll past the submit grace
	// would settle one still submitting.
	states := []struct {
		name   string
		status slurm.Status
		cause  string
		arg    string
		exit   *int
		make   func(name string, parent int64) *storage.Job
	}{
		{"queued", slurm.StatusQueued, slurm.CauseSlurm, "Resources", nil, func(name string, parent int64) *storage.Job {
			j := submit(name, parent)
			slurmSays(j, func(i *slurm.JobInfo) { i.Reason = "Resources" })
			return j
		}},
		{"running", slurm.StatusRunning, "", "", nil, func(name string, parent int64) *storage.Job {
			j := submit(name, parent)
			slurmSays(j, func(i *slurm.JobInfo) { i.State, i.Node, i.StartTime = "RUNNING", "gpu-node-1", started })
			return j
		}},
		{"suspended", slurm.StatusRunning, slurm.CauseSuspended, "", nil, func(name string, parent int64) *storage.Job {
			j := submit(name, parent)
			slurmSays(j, func(i *slurm.JobInfo) { i.State, i.Node, i.StartTime = "SUSPENDED", "gpu-node-1", started })
			return j
		}},
		{"completed", slurm.StatusCompleted, "", "", exitCode(0), func(name string, parent int64) *storage.Job {
			j := submit(name, parent)
			record(j, slurm.ExitCodeFile, "0\n")
			slurmSays(j, func(i *slurm.JobInfo) {
				i.State, i.Node, i.StartTime, i.EndTime = "COMPLETED", "gpu-node-1", started, ended
			})
			return j
		}},
		{"failed", slurm.StatusFailed, "", "", exitCode(3), func(name string, parent int64) *storage.Job {
			j := submit(name, parent)
			record(j, slurm.ExitCodeFile, "3\n")
			slurmSays(j, func(i *slurm.JobInfo) { i.State, i.ExitCode, i.StartTime, i.EndTime = "FAILED", 3, started, ended })
			return j
		}},
		{"killed", slurm.StatusKilled, slurm.CauseStoppedByUser, "", nil, func(name string, parent int64) *storage.Job {
			j := submit(name, parent)
			if err := env.Jobs.Stop(ctx, lab.ID, jobs.Training, j.ID); err != nil {
				t.Fatal(err)
			}
			env.Jobs.Poll(ctx) // cancels the job in the fake
			env.Jobs.Poll(ctx) // sees it cancelled
			return j
		}},
		{"time-limit", slurm.StatusError, slurm.CauseTimeLimit, "", nil, func(name string, parent int64) *storage.Job {
			j := submit(name, parent)
			slurmSays(j, func(i *slurm.JobInfo) { i.State, i.StartTime, i.EndTime = "TIMEOUT", started, ended })
			return j
		}},
		{"out-of-memory", slurm.StatusError, slurm.CauseOutOfMemory, "", nil, func(name string, parent int64) *storage.Job {
			j := submit(name, parent)
			slurmSays(j, func(i *slurm.JobInfo) { i.State, i.StartTime, i.EndTime = "OUT_OF_MEMORY", started, ended })
			return j
		}},
		{"node-fail", slurm.StatusError, slurm.CauseNodeFail, "NodeDown", nil, func(name string, parent int64) *storage.Job {
			j := submit(name, parent)
			slurmSays(j, func(i *slurm.JobInfo) {
				i.State, i.Reason, i.StartTime, i.EndTime = "NODE_FAIL", "NodeDown", started, ended
			})
			return j
		}},
		{"cancelled-outside", slurm.StatusError, slurm.CauseCancelledOutside, "", nil, func(name string, parent int64) *storage.Job {
			j := submit(name, parent)
			slurmSays(j, func(i *slurm.JobInfo) { i.State = "CANCELLED" })
			return j
		}},
		{"clone-failed", slurm.StatusError, slurm.CauseCloneFailed, "fatal: repository 'https://git.example/m.git' not found", nil, func(name string, parent int64) *storage.Job {
			j := submit(name, parent)
			record(j, slurm.ErrorFile, "clone failed: fatal: repository 'https://git.example/m.git' not found\n")
			slurmSays(j, func(i *slurm.JobInfo) { i.State, i.ExitCode, i.StartTime, i.EndTime = "FAILED", 1, started, ended })
			return j
		}},
		{"submit-failed", slurm.StatusError, slurm.CauseSubmitFailed, "sbatch: error: invalid account", nil, func(name string, parent int64) *storage.Job {
			env.Fake.OnSubmit = func(string, slurm.JobSpec) error { return errors.New("sbatch: error: invalid account") }
			defer func() { env.Fake.OnSubmit = nil }()
			return submit(name, parent)
		}},
		// The states a running portal reaches without Slurm's help.
		{"submit-interrupted", slurm.StatusError, slurm.CauseSubmitInterrupted, "", nil, func(name string, parent int64) *storage.Job {
			j := createSubmitting(t, env, lab.ID, dsID, name, parent)
			if err := env.Store.FailSubmitting(ctx, j.ID, slurm.CauseSubmitInterrupted, ""); err != nil {
				t.Fatal(err)
			}
			return j
		}},
		{"submitting", slurm.StatusSubmitting, "", "", nil, func(name string, parent int64) *storage.Job {
			return createSubmitting(t, env, lab.ID, dsID, name, parent)
		}},
	}

	parent := submit("parent", 0)
	record(parent, slurm.ExitCodeFile, "0\n")
	slurmSays(parent, func(i *slurm.JobInfo) { i.State = "COMPLETED" })

	var cases []jobCase
	for _, st := range states {
		for _, v := range []struct {
			suffix string
			parent int64
			files  bool
		}{{"", 0, false}, {"-files", 0, true}, {"-child", parent.ID, false}, {"-child-files", parent.ID, true}} {
			c := jobCase{name: st.name + v.suffix, status: st.status, cause: st.cause, arg: st.arg, exit: st.exit, parent: v.parent, files: v.files}
			c.job = st.make(c.name, c.parent)
			if c.files {
				// While it is still submitting a row may have no directory
				// yet; this one is past that step of the launch.
				if c.job.JobDir == "" {
					c.job.JobDir = jobs.JobDir(lab.ID, c.job.ID)
					if err := env.Store.SetJobDir(ctx, c.job.ID, c.job.JobDir); err != nil {
						t.Fatal(err)
					}
				}
				record(c.job, slurm.OutputDir+"/metrics/loss.csv", "epoch,loss\n")
				record(c.job, slurm.AttachDir+"/notes.txt", "lr=0.1")
			}
			got, err := env.Store.JobByID(ctx, lab.ID, c.job.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != string(c.status) || got.Reason != c.cause || got.ReasonArg != c.arg {
				t.Fatalf("%s: the setup made it %s (%s %q), want %s (%s %q)", c.name, got.Status, got.Reason, got.ReasonArg, c.status, c.cause, c.arg)
			}
			c.job = got
			cases = append(cases, c)
		}
	}

	browsers := map[string]*portaltest.Browser{"en": env.Browser(t), "ja": env.Browser(t)}
	browsers["en"].Login("alice", pw)
	browsers["ja"].Login("akira", pw)
	if p := browsers["ja"].Submit("/settings", "/settings/language", url.Values{"lang": {"ja"}}); p.Status != http.StatusSeeOther {
		t.Fatalf("set language: %d", p.Status)
	}

	for _, lang := range i18n.Languages {
		b := browsers[lang]
		for _, c := range cases {
			t.Run(lang+"/"+c.name, func(t *testing.T) {
				path := fmt.Sprintf("/trainings/%d", c.job.ID)
				p := b.Get(path)
				if p.Status != http.StatusOK {
					t.Fatalf("GET %s: %d", path, p.Status)
				}
				checkPage(t, lang, p.Body)
				checkDetail(t, lang, c, p.Body)

				sp := b.Get(path + "/state")
				if sp.Status != http.StatusOK {
					t.Fatalf("GET %s/state: %d", path, sp.Status)
				}
				checkClean(t, lang, sp.Body)
				checkState(t, lang, c, sp.Body, p.Body)
			})
		}
		t.Run(lang+"/list", func(t *testing.T) {
			p := b.Get("/trainings?per_page=100")
			if p.Status != http.StatusOK {
				t.Fatalf("list: %d", p.Status)
			}
			checkPage(t, lang, p.Body)
			rows := map[string]string{}
			for _, m := range listRow.FindAllStringSubmatch(p.Body, -1) {
				rows[m[1]] = m[2]
			}
			for _, c := range cases {
				row, ok := rows[fmt.Sprint(c.job.ID)]
				if !ok {
					t.Errorf("%s is not listed", c.name)
					continue
				}
				if got := textOf(t, row, `data-status>`); got != statusText(lang, c.status) {
					t.Errorf("%s: status %q, want %q", c.name, got, statusText(lang, c.status))
				}
				if got := textOf(t, row, `data-reason>`); got != causeText(t, lang, c.cause, c.arg) {
					t.Errorf("%s: reason %q, want %q", c.name, got, causeText(t, lang, c.cause, c.arg))
				}
			}
		})
	}

	// The state of another tenant's training, another kind's job or none
	// is not found.
	foreign, err := env.Store.CreateJob(ctx, storage.NewJob{Kind: "training", TenantID: other.ID, Name: "theirs",
		Image: slurm.HostImage, Command: "true", CPU: 1, MemoryGB: 1, Partition: "cpu"})
	if err != nil {
		t.Fatal(err)
	}
	inference, err := env.Store.CreateJob(ctx, storage.NewJob{Kind: "inference", TenantID: lab.ID, Name: "infer",
		Image: slurm.HostImage, Command: "true", CPU: 1, MemoryGB: 1, Partition: "cpu"})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{foreign.ID, inference.ID, inference.ID + 1000} {
		if p := browsers["en"].Get(fmt.Sprintf("/trainings/%d/state", id)); p.Status != http.StatusNotFound || strings.Contains(p.Body, "theirs") {
			t.Errorf("state of job %d: %d", id, p.Status)
		}
	}
}

// createSubmitting records a training as the portal does before Slurm has
// it; only a crash (or the test) leaves it there.
func createSubmitting(t *testing.T, env *portaltest.Env, tenantID, dsID int64, name string, parent int64) *storage.Job {
	t.Helper()
	n := storage.NewJob{Kind: "training", TenantID: tenantID, Name: name, DatasetID: dsID,
		Image: slurm.HostImage, Command: "python3 train.py", CPU: 1, MemoryGB: 1, Partition: "cpu"}
	if parent != 0 {
		n.ParentIDs = []int64{parent}
	}
	j, err := env.Store.CreateJob(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

var (
	listRow = regexp.MustCompile(`(?s)<tr data-id="(\d+)">(.*?)</tr>`)
	// dynamicKey is a key a template builds (status.%s, cause.%s) that the
	// catalog lacks, shown as itself.
	dynamicKey = regexp.MustCompile(`\b(?:status|cause)\.[a-z_]+`)
)

// checkPage checks a whole page: in lang, and clean.
func checkPage(t *testing.T, lang, body string) {
	t.Helper()
	if !strings.Contains(body, `<html lang="`+lang+`">`) {
		t.Errorf("the page is not in %s", lang)
	}
	checkClean(t, lang, body)
}

// checkClean fails on formatting artefacts and on catalog keys shown in
// place of their text.
func checkClean(t *testing.T, lang, body string) {
	t.Helper()
	if i := strings.Index(body, "%!"); i >= 0 {
		t.Errorf("formatting artefact: …%s…", body[max(i-60, 0):min(i+60, len(body))])
	}
	if k := dynamicKey.FindString(body); k != "" {
		t.Errorf("raw key %q", k)
	}
	for _, k := range i18n.Keys(lang) {
		if strings.Contains(body, k) {
			t.Errorf("raw key %q", k)
		}
	}
}

func checkDetail(t *testing.T, lang string, c jobCase, body string) {
	t.Helper()
	if got := textOf(t, body, `id="training-status">`); got != statusText(lang, c.status) {
		t.Errorf("status badge %q, want %q", got, statusText(lang, c.status))
	}
	reason := causeText(t, lang, c.cause, c.arg)
	if reason == "" {
		if !strings.Contains(body, `id="training-reason" hidden>`) {
			t.Error("a reason is shown where there is none")
		}
	} else if got := textOf(t, body, `id="training-reason" >`); got != reason {
		t.Errorf("reason %q, want %q", got, reason)
	}
	if c.exit != nil {
		if got := textOf(t, body, `id="training-exit-code">`); got != fmt.Sprint(*c.exit) || strings.Contains(body, `id="training-exit" hidden`) {
			t.Errorf("exit code %q shown (hidden: %v), want %d", got, strings.Contains(body, `id="training-exit" hidden`), *c.exit)
		}
	} else if !strings.Contains(body, `id="training-exit" hidden`) {
		t.Error("an exit code is shown where there is none")
	}
	if c.parent != 0 && !strings.Contains(body, fmt.Sprintf(`<a href="/trainings/%d">#%d</a>`, c.parent, c.parent)) {
		t.Error("no link to the parent")
	}
	hasFiles := strings.Contains(body, `class="output-link">metrics/loss.csv</a>`) && strings.Contains(body, "<li>notes.txt (6 B)</li>")
	if hasFiles != c.files {
		t.Errorf("output and attachment shown: %v, want %v", hasFiles, c.files)
	}
	if !c.files && !strings.Contains(body, "<td>"+html.EscapeString(i18n.T(lang, "training.no_outputs"))+"</td>") {
		t.Error("no word that there are no outputs")
	}
	stop := strings.Contains(body, `id="training-stop" data-confirm="`+html.EscapeString(i18n.T(lang, "training.confirm_stop"))+`"`)
	del := strings.Contains(body, fmt.Sprintf(`action="/trainings/%d/delete"`, c.job.ID))
	if final := c.status.Final(); stop == final || del != final {
		t.Errorf("final %v: Stop (confirming) offered %v, Delete offered %v", final, stop, del)
	}
	if active := fmt.Sprintf(`data-active="%v"`, !c.status.Final()); strings.Count(body, active) != 2 {
		t.Errorf("the state card and the log do not both say %s", active)
	}
}

// checkState checks the state JSON against the case and against the page
// (same times, same durations once final).
func checkState(t *testing.T, lang string, c jobCase, body, page string) {
	t.Helper()
	var st stateJSON
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("state %s: %v", body, err)
	}
	if st.Status != string(c.status) || st.StatusText != statusText(lang, c.status) || st.Active == c.status.Final() {
		t.Errorf("state %q %q active %v, want %q %q", st.Status, st.StatusText, st.Active, c.status, statusText(lang, c.status))
	}
	if want := causeText(t, lang, c.cause, c.arg); st.Reason != want {
		t.Errorf("state reason %q, want %q", st.Reason, want)
	}
	if (st.ExitCode == nil) != (c.exit == nil) || (c.exit != nil && *st.ExitCode != *c.exit) {
		t.Errorf("state exit code %v, want %v", st.ExitCode, c.exit)
	}
	if st.SlurmJobID != c.job.SlurmJobID || st.Node != c.job.Node {
		t.Errorf("state slurm job %q node %q, want %q %q", st.SlurmJobID, st.Node, c.job.SlurmJobID, c.job.Node)
	}
	if (st.EndedAt != nil) != c.status.Final() {
		t.Errorf("state ended_at %v for %s", st.EndedAt, c.status)
	}
	for name, tm := range map[string]*timeJSON{"queued": st.QueuedAt, "started": st.StartedAt, "ended": st.EndedAt} {
		if tm == nil {
			continue
		}
		if shown := `<time datetime="` + tm.Datetime + `">` + tm.Text + `</time>`; !strings.Contains(page, shown) {
			t.Errorf("%s time %s is not as the page shows it", name, shown)
		}
	}
	if c.status.Final() {
		for _, d := range []struct{ id, v string }{{"training-waited", st.Waited}, {"training-ran", st.Ran}} {
			if !strings.Contains(page, `id="`+d.id+`">`+d.v+`<`) {
				t.Errorf("%s %q is not what the page shows", d.id, d.v)
			}
		}
	}
	want := 0
	if c.files {
		want = 1
	}
	if len(st.Outputs) != want {
		t.Fatalf("state outputs %+v", st.Outputs)
	}
	if c.files {
		o := st.Outputs[0]
		if o.Path != "metrics/loss.csv" || o.Size != "11 B" || o.URL != fmt.Sprintf("/trainings/%d/files/metrics/loss.csv", c.job.ID) {
			t.Errorf("state output %+v", o)
		}
	}
}

// textOf is the unescaped text right after marker in body, up to the next
// tag.
func textOf(t *testing.T, body, marker string) string {
	t.Helper()
	_, rest, ok := strings.Cut(body, marker)
	if !ok {
		t.Errorf("no %s", marker)
		return ""
	}
	text, _, _ := strings.Cut(rest, "<")
	return strings.TrimSpace(html.UnescapeString(text))
}

func statusText(lang string, s slurm.Status) string {
	return i18n.T(lang, "status."+string(s))
}

// causeText is what a page should say for a cause: its catalog text
// (which must exist, so no code shows raw) with the argument.
func causeText(t *testing.T, lang, code, arg string) string {
	t.Helper()
	if code == "" {
		return ""
	}
	if !i18n.Has(lang, "cause."+code) {
		t.Fatalf("%s lacks cause.%s", lang, code)
	}
	return strings.TrimSpace(i18n.T(lang, "cause."+code, arg))
}
