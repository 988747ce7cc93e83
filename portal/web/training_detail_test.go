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
	"strconv"
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

// jobCase is one job in one state, as the test expects to see it.
type jobCase struct {
	name    string
	job     *storage.Job
	status  slurm.Status
	cause   string // cause code, "" for none
	arg     string
	exit    *int
	parents []*storage.Job
	files   bool     // an output file and an attachment
	value   string   // what the job left in value.txt ("" none)
	want    *float64 // the output value the pages show
}

// pageKind is one kind of job whose pages are checked in every state.
type pageKind struct {
	kind jobs.Kind
	path string // of the list
	// variants are the shapes a job of the kind takes beyond its state:
	// its parents (made by the test) and whether it has files.
	variants func(t *testing.T, s *stateSetup) []variant
	// values are what a completed job of the kind leaves in value.txt.
	values []valueCase
}

type variant struct {
	suffix  string
	parents []*storage.Job
	files   bool
}

type valueCase struct {
	suffix, content string
	want            *float64
}

// stateSetup is what every case of TestJobPagesInEveryState shares.
type stateSetup struct {
	env  *portaltest.Env
	lab  *storage.Tenant
	who  jobs.Actor
	dsID int64
}

// submit submits a job of kind; Slurm (the fake) holds it queued.
func (s *stateSetup) submit(t *testing.T, kind jobs.Kind, name string, parents []*storage.Job) *storage.Job {
	t.Helper()
	req := jobs.Request{Name: name, DatasetID: s.dsID, CPU: 1, MemoryGB: 1, Command: "python3 train.py"}
	for _, p := range parents {
		req.ParentIDs = append(req.ParentIDs, p.ID)
	}
	j, err := s.env.Jobs.Submit(context.Background(), s.who, kind, req)
	if err != nil {
		t.Fatalf("submit %s: %v", name, err)
	}
	return j
}

// record writes what the batch script (or the job) leaves in the job
// directory.
func (s *stateSetup) record(t *testing.T, j *storage.Job, file, content string) {
	t.Helper()
	if _, err := s.env.Files.Put(context.Background(), j.JobDir+"/"+file, strings.NewReader(content)); err != nil {
		t.Fatal(err)
	}
}

// slurmSays makes the fake cluster report change and polls.
func (s *stateSetup) slurmSays(t *testing.T, j *storage.Job, change func(*slurm.JobInfo)) {
	t.Helper()
	s.env.Fake.Set(j.SlurmJobID, change)
	if err := s.env.Jobs.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// completed submits a job of kind and has it complete.
func (s *stateSetup) completed(t *testing.T, kind jobs.Kind, name string, parents ...*storage.Job) *storage.Job {
	t.Helper()
	j := s.submit(t, kind, name, parents)
	s.record(t, j, slurm.ExitCodeFile, "0\n")
	s.slurmSays(t, j, func(i *slurm.JobInfo) { i.State = "COMPLETED" })
	return j
}

// Every page of a training renders in every state a training can be in,
// with and without a parent and files, in both languages: status and cause
// are translated and no formatting artefact or raw catalog key shows. (A
// child's page was a 500 that no test rendered.)
func TestTrainingPagesInEveryState(t *testing.T) {
	testJobPagesInEveryState(t, pageKind{kind: jobs.Training, path: "/trainings",
		variants: func(t *testing.T, s *stateSetup) []variant {
			parent := s.completed(t, jobs.Training, "parent")
			return []variant{{"", nil, false}, {"-files", nil, true}, {"-child", []*storage.Job{parent}, false}, {"-child-files", []*storage.Job{parent}, true}}
		}})
}

// Every page of an inference renders in every state, with one parent or
// two (a training and an earlier inference), with and without files, and
// once completed with a value, without one and with text that is no
// number, in both languages.
func TestInferencePagesInEveryState(t *testing.T) {
	v := 0.93
	testJobPagesInEveryState(t, pageKind{kind: jobs.Inference, path: "/inferences",
		variants: func(t *testing.T, s *stateSetup) []variant {
			training := s.completed(t, jobs.Training, "model")
			earlier := s.completed(t, jobs.Inference, "earlier", training)
			one, two := []*storage.Job{training}, []*storage.Job{training, earlier}
			return []variant{{"", one, false}, {"-files", one, true}, {"-2p", two, false}, {"-2p-files", two, true}}
		},
		values: []valueCase{{"-value", "0.93\n", &v}, {"-text", "n/a\n", nil}}})
}

func testJobPagesInEveryState(t *testing.T, k pageKind) {
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
	s := &stateSetup{env: env, lab: lab, who: jobs.Actor{TenantID: lab.ID, UserID: alice.ID}, dsID: dsID}
	submit := func(name string, parents []*storage.Job) *storage.Job { return s.submit(t, k.kind, name, parents) }
	record := func(j *storage.Job, file, content string) { s.record(t, j, file, content) }
	slurmSays := func(j *storage.Job, change func(*slurm.JobInfo)) { s.slurmSays(t, j, change) }
	started := time.Now().Add(-5 * time.Minute).Truncate(time.Second)
	ended := started.Add(3 * time.Minute)
	exitCode := func(n int) *int { return &n }
	type state struct {
		name   string
		status slurm.Status
		cause  string
		arg    string
		exit   *int
		value  valueCase
		make   func(name string, parents []*storage.Job) *storage.Job
	}
	completed := func(v valueCase) state {
		return state{"completed" + v.suffix, slurm.StatusCompleted, "", "", exitCode(0), v, func(name string, parents []*storage.Job) *storage.Job {
			j := submit(name, parents)
			record(j, slurm.ExitCodeFile, "0\n")
			if v.content != "" {
				record(j, slurm.OutputDir+"/value.txt", v.content)
			}
			slurmSays(j, func(i *slurm.JobInfo) {
				i.State, i.Node, i.StartTime, i.EndTime = "COMPLETED", "gpu-node-1", started, ended
			})
			return j
		}}
	}
	// The rows made without Slurm come last: a poll past the submit grace
	// would settle one still submitting.
	states := []state{
		{"queued", slurm.StatusQueued, slurm.CauseSlurm, "Resources", nil, valueCase{}, func(name string, parents []*storage.Job) *storage.Job {
			j := submit(name, parents)
			slurmSays(j, func(i *slurm.JobInfo) { i.Reason = "Resources" })
			return j
		}},
		{"running", slurm.StatusRunning, "", "", nil, valueCase{}, func(name string, parents []*storage.Job) *storage.Job {
			j := submit(name, parents)
			slurmSays(j, func(i *slurm.JobInfo) { i.State, i.Node, i.StartTime = "RUNNING", "gpu-node-1", started })
			return j
		}},
		{"suspended", slurm.StatusRunning, slurm.CauseSuspended, "", nil, valueCase{}, func(name string, parents []*storage.Job) *storage.Job {
			j := submit(name, parents)
			slurmSays(j, func(i *slurm.JobInfo) { i.State, i.Node, i.StartTime = "SUSPENDED", "gpu-node-1", started })
			return j
		}},
		completed(valueCase{}),
	}
	for _, v := range k.values {
		states = append(states, completed(v))
	}
	states = append(states, []state{
		{"failed", slurm.StatusFailed, "", "", exitCode(3), valueCase{}, func(name string, parents []*storage.Job) *storage.Job {
			j := submit(name, parents)
			record(j, slurm.ExitCodeFile, "3\n")
			slurmSays(j, func(i *slurm.JobInfo) { i.State, i.ExitCode, i.StartTime, i.EndTime = "FAILED", 3, started, ended })
			return j
		}},
		{"killed", slurm.StatusKilled, slurm.CauseStoppedByUser, "", nil, valueCase{}, func(name string, parents []*storage.Job) *storage.Job {
			j := submit(name, parents)
			if err := env.Jobs.Stop(ctx, lab.ID, k.kind, j.ID); err != nil {
				t.Fatal(err)
			}
			env.Jobs.Poll(ctx) // cancels the job in the fake
			env.Jobs.Poll(ctx) // sees it cancelled
			return j
		}},
		{"time-limit", slurm.StatusError, slurm.CauseTimeLimit, "", nil, valueCase{}, func(name string, parents []*storage.Job) *storage.Job {
			j := submit(name, parents)
			slurmSays(j, func(i *slurm.JobInfo) { i.State, i.StartTime, i.EndTime = "TIMEOUT", started, ended })
			return j
		}},
		{"out-of-memory", slurm.StatusError, slurm.CauseOutOfMemoryLimit, "1", nil, valueCase{}, func(name string, parents []*storage.Job) *storage.Job {
			j := submit(name, parents)
			slurmSays(j, func(i *slurm.JobInfo) { i.State, i.StartTime, i.EndTime = "OUT_OF_MEMORY", started, ended })
			return j
		}},
		{"node-fail", slurm.StatusError, slurm.CauseNodeFail, "NodeDown", nil, valueCase{}, func(name string, parents []*storage.Job) *storage.Job {
			j := submit(name, parents)
			slurmSays(j, func(i *slurm.JobInfo) {
				i.State, i.Reason, i.StartTime, i.EndTime = "NODE_FAIL", "NodeDown", started, ended
			})
			return j
		}},
		{"cancelled-outside", slurm.StatusError, slurm.CauseCancelledOutside, "", nil, valueCase{}, func(name string, parents []*storage.Job) *storage.Job {
			j := submit(name, parents)
			slurmSays(j, func(i *slurm.JobInfo) { i.State = "CANCELLED" })
			return j
		}},
		{"clone-failed", slurm.StatusError, slurm.CauseCloneFailed, "fatal: repository 'https://git.example/m.git' not found", nil, valueCase{}, func(name string, parents []*storage.Job) *storage.Job {
			j := submit(name, parents)
			record(j, slurm.ErrorFile, "clone failed: fatal: repository 'https://git.example/m.git' not found\n")
			slurmSays(j, func(i *slurm.JobInfo) { i.State, i.ExitCode, i.StartTime, i.EndTime = "FAILED", 1, started, ended })
			return j
		}},
		{"submit-failed", slurm.StatusError, slurm.CauseSubmitFailed, "sbatch: error: invalid account", nil, valueCase{}, func(name string, parents []*storage.Job) *storage.Job {
			env.Fake.OnSubmit = func(string, slurm.JobSpec) error { return errors.New("sbatch: error: invalid account") }
			defer func() { env.Fake.OnSubmit = nil }()
			return submit(name, parents)
		}},
		// The states a running portal reaches without Slurm's help.
		{"submit-interrupted", slurm.StatusError, slurm.CauseSubmitInterrupted, "", nil, valueCase{}, func(name string, parents []*storage.Job) *storage.Job {
			j := createSubmitting(t, env, k.kind, lab.ID, dsID, name, parents)
			if err := env.Store.FailSubmitting(ctx, j.ID, slurm.CauseSubmitInterrupted, ""); err != nil {
				t.Fatal(err)
			}
			return j
		}},
		{"submitting", slurm.StatusSubmitting, "", "", nil, valueCase{}, func(name string, parents []*storage.Job) *storage.Job {
			return createSubmitting(t, env, k.kind, lab.ID, dsID, name, parents)
		}},
	}...)

	variants := k.variants(t, s)
	var cases []jobCase
	for _, st := range states {
		for _, v := range variants {
			c := jobCase{name: st.name + v.suffix, status: st.status, cause: st.cause, arg: st.arg, exit: st.exit, parents: v.parents, files: v.files,
				value: st.value.content, want: st.value.want}
			c.job = st.make(c.name, c.parents)
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
				path := fmt.Sprintf("%s/%d", k.path, c.job.ID)
				p := b.Get(path)
				if p.Status != http.StatusOK {
					t.Fatalf("GET %s: %d", path, p.Status)
				}
				checkPage(t, lang, p.Body)
				checkDetail(t, lang, k, c, p.Body)

				sp := b.Get(path + "/state")
				if sp.Status != http.StatusOK {
					t.Fatalf("GET %s/state: %d", path, sp.Status)
				}
				checkClean(t, lang, sp.Body)
				checkState(t, lang, k, c, sp.Body, p.Body)
			})
		}
		t.Run(lang+"/list", func(t *testing.T) {
			p := b.Get(k.path + "?per_page=100")
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
				if k.kind == jobs.Inference {
					if got := textOf(t, row, `<td class="value">`); got != valueText(c.want) {
						t.Errorf("%s: value %q in the list, want %q", c.name, got, valueText(c.want))
					}
				} else if strings.Contains(row, `class="value"`) {
					t.Errorf("%s: a training list shows an output value", c.name)
				}
			}
		})
	}

	// The state of another tenant's job, another kind's job or none is not
	// found.
	foreign, err := env.Store.CreateJob(ctx, storage.NewJob{Kind: k.kind.Name(), TenantID: other.ID, Name: "theirs",
		Image: slurm.HostImage, Command: "true", CPU: 1, MemoryGB: 1, Partition: "cpu"})
	if err != nil {
		t.Fatal(err)
	}
	otherKind := "inference"
	if k.kind == jobs.Inference {
		otherKind = "training"
	}
	another, err := env.Store.CreateJob(ctx, storage.NewJob{Kind: otherKind, TenantID: lab.ID, Name: "another",
		Image: slurm.HostImage, Command: "true", CPU: 1, MemoryGB: 1, Partition: "cpu"})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{foreign.ID, another.ID, another.ID + 1000} {
		if p := browsers["en"].Get(fmt.Sprintf("%s/%d/state", k.path, id)); p.Status != http.StatusNotFound || strings.Contains(p.Body, "theirs") {
			t.Errorf("state of job %d: %d", id, p.Status)
		}
	}
}

// createSubmitting records a job as the portal does before Slurm has it;
// only a crash (or the test) leaves it there.
func createSubmitting(t *testing.T, env *portaltest.Env, kind jobs.Kind, tenantID, dsID int64, name string, parents []*storage.Job) *storage.Job {
	t.Helper()
	n := storage.NewJob{Kind: kind.Name(), TenantID: tenantID, Name: name, DatasetID: dsID,
		Image: slurm.HostImage, Command: "python3 train.py", CPU: 1, MemoryGB: 1, Partition: "cpu"}
	for _, p := range parents {
		n.ParentIDs = append(n.ParentIDs, p.ID)
	}
	j, err := env.Store.CreateJob(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// valueText is how the pages show an output value.
func valueText(v *float64) string {
	if v == nil {
		return "—"
	}
	return strconv.FormatFloat(*v, 'g', -1, 64)
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

func checkDetail(t *testing.T, lang string, k pageKind, c jobCase, body string) {
	t.Helper()
	id := func(name string) string { return k.kind.Name() + "-" + name } // the page's element ids
	if got := textOf(t, body, `id="`+id("status")+`">`); got != statusText(lang, c.status) {
		t.Errorf("status badge %q, want %q", got, statusText(lang, c.status))
	}
	reason := causeText(t, lang, c.cause, c.arg)
	if reason == "" {
		if !strings.Contains(body, `id="`+id("reason")+`" hidden>`) {
			t.Error("a reason is shown where there is none")
		}
	} else if got := textOf(t, body, `id="`+id("reason")+`" >`); got != reason {
		t.Errorf("reason %q, want %q", got, reason)
	}
	if c.exit != nil {
		if got := textOf(t, body, `id="`+id("exit-code")+`">`); got != fmt.Sprint(*c.exit) || strings.Contains(body, `id="`+id("exit")+`" hidden`) {
			t.Errorf("exit code %q shown (hidden: %v), want %d", got, strings.Contains(body, `id="`+id("exit")+`" hidden`), *c.exit)
		}
	} else if !strings.Contains(body, `id="`+id("exit")+`" hidden`) {
		t.Error("an exit code is shown where there is none")
	}
	for _, p := range c.parents {
		if link := fmt.Sprintf(`<a href="/%ss/%d">#%d</a>`, p.Kind, p.ID, p.ID); !strings.Contains(body, link) {
			t.Errorf("no link %s to the parent", link)
		}
	}
	hasFiles := strings.Contains(body, `class="output-link">metrics/loss.csv</a>`) && strings.Contains(body, "<li>notes.txt (6 B)</li>")
	if hasFiles != c.files {
		t.Errorf("output and attachment shown: %v, want %v", hasFiles, c.files)
	}
	if !c.files && c.value == "" && !strings.Contains(body, "<td>"+html.EscapeString(i18n.T(lang, "training.no_outputs"))+"</td>") {
		t.Error("no word that there are no outputs")
	}
	stop := strings.Contains(body, `id="`+id("stop")+`" data-confirm="`+html.EscapeString(i18n.T(lang, k.kind.Name()+".confirm_stop"))+`"`)
	del := strings.Contains(body, fmt.Sprintf(`action="%s/%d/delete"`, k.path, c.job.ID))
	if final := c.status.Final(); stop == final || del != final {
		t.Errorf("final %v: Stop (confirming) offered %v, Delete offered %v", final, stop, del)
	}
	if active := fmt.Sprintf(`data-active="%v"`, !c.status.Final()); strings.Count(body, active) != 2 {
		t.Errorf("the state card and the log do not both say %s", active)
	}
	if run := fmt.Sprintf(`href="/inferences/new?parent=%d" id="%s"`, c.job.ID, id("run-inference")); !strings.Contains(body, run) {
		t.Error("no Run inference from it")
	}
	if !strings.Contains(body, "<td>"+html.EscapeString(i18n.T(lang, "inference.none_made"))+"</td>") {
		t.Error("no word that no inference was made from it")
	}
	// Trainings offer TensorBoard and draw their metrics (SPEC §5); no
	// other kind does (SPEC §6: no TensorBoard).
	if tb := strings.Contains(body, `id="training-tensorboard-start"`) && strings.Contains(body, `id="training-metrics"`); tb != (k.kind == jobs.Training) {
		t.Errorf("the page offers TensorBoard and metrics: %v", tb)
	} else if k.kind != jobs.Training && strings.Contains(strings.ToLower(body), "tensorboard") {
		t.Error("the page offers TensorBoard")
	}
	if k.kind == jobs.Inference {
		if got := textOf(t, body, `id="inference-value">`); got != valueText(c.want) {
			t.Errorf("output value %q, want %q", got, valueText(c.want))
		}
	} else if strings.Contains(body, `-value"`) {
		t.Error("a training page shows an output value")
	}
}

// checkState checks the state JSON against the case and against the page
// (same times, same durations once final).
func checkState(t *testing.T, lang string, k pageKind, c jobCase, body, page string) {
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
		for _, d := range []struct{ id, v string }{{k.kind.Name() + "-waited", st.Waited}, {k.kind.Name() + "-ran", st.Ran}} {
			if !strings.Contains(page, `id="`+d.id+`">`+d.v+`<`) {
				t.Errorf("%s %q is not what the page shows", d.id, d.v)
			}
		}
	}
	var want []string
	if c.files {
		want = append(want, "metrics/loss.csv")
	}
	if c.value != "" {
		want = append(want, "value.txt")
	}
	var got []string
	for _, o := range st.Outputs {
		got = append(got, o.Path)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("state outputs %+v, want %v", st.Outputs, want)
	}
	if c.files {
		o := st.Outputs[0]
		if o.Path != "metrics/loss.csv" || o.Size != "11 B" || o.URL != fmt.Sprintf("%s/%d/files/metrics/loss.csv", k.path, c.job.ID) {
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
