package web_test

import (
	"context"
	"database/sql"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"kqi/portal/i18n"
	"kqi/portal/jobs"
	"kqi/portal/portaltest"
	"kqi/slurm"
	"kqi/storage"
)

// inferenceEnv is a portal on the fake cluster with alice in lab, a
// dataset, a completed training and bob in another tenant.
type inferenceEnv struct {
	*stateSetup
	training *storage.Job
	alice    *portaltest.Browser
}

func newInferenceEnv(t *testing.T) *inferenceEnv {
	t.Helper()
	env := portaltest.New(t)
	lab := env.Tenant(t, "lab")
	env.Tenant(t, "other")
	alice := env.User(t, "alice", pw, false, "lab")
	env.User(t, "bob", pw, false, "other")
	dsID, err := env.Store.CreateDataset(context.Background(), storage.NewDataset{TenantID: lab.ID, Name: "d"})
	if err != nil {
		t.Fatal(err)
	}
	s := &stateSetup{env: env, lab: lab, who: jobs.Actor{TenantID: lab.ID, UserID: alice.ID}, dsID: dsID}
	j := s.submit(t, jobs.Training, "model", nil)
	s.record(t, j, slurm.ExitCodeFile, "0\n")
	s.slurmSays(t, j, func(i *slurm.JobInfo) { i.State = "COMPLETED" })
	b := env.Browser(t)
	b.Login("alice", pw)
	return &inferenceEnv{stateSetup: s, training: j, alice: b}
}

var selectedOption = regexp.MustCompile(`<option value="(\d+)" selected>`)

// From a training's page, Run inference opens the inference form with the
// training chosen as parent and its image, model, command and resources as
// defaults; the inference submitted from it is listed on the training's
// page and links back to it.
func TestRunInferenceFromATraining(t *testing.T) {
	e := newInferenceEnv(t)
	ctx := context.Background()
	tr, err := e.env.Jobs.Submit(ctx, e.who, jobs.Training, jobs.Request{Name: "tuned", DatasetID: e.dsID, ParentIDs: []int64{e.training.ID},
		Image: slurm.HostImage, GitRepository: "https://git.example.org/m.git", GitBranch: "dev", Command: "python3 train.py --lr 0.1",
		CPU: 3, MemoryGB: 2, GPU: 1, Partition: "gpu-a100", Env: []storage.EnvPair{{Name: "EPOCHS", Value: "7"}}})
	if err != nil {
		t.Fatal(err)
	}
	page := e.alice.Get(fmt.Sprintf("/trainings/%d", tr.ID))
	run := fmt.Sprintf(`href="/inferences/new?parent=%d" id="training-run-inference"`, tr.ID)
	if !strings.Contains(page.Body, run) {
		t.Fatalf("the training page has no Run inference (%s)", run)
	}
	form := e.alice.Get(fmt.Sprintf("/inferences/new?parent=%d", tr.ID))
	if form.Status != http.StatusOK {
		t.Fatalf("form: %d", form.Status)
	}
	for _, want := range []string{`value="https://git.example.org/m.git"`, `value="dev"`, "python3 train.py --lr 0.1", `name="cpu" min="1" value="3"`,
		`name="memory_gb" min="1" value="2"`, `name="gpu" min="0" value="1"`, `<option value="gpu-a100" selected>`, "EPOCHS=7", `id="inference-name" value=""`} {
		if !strings.Contains(form.Body, want) {
			t.Errorf("the form lacks %q", want)
		}
	}
	var chosen []string
	for _, m := range selectedOption.FindAllStringSubmatch(form.Body, -1) {
		chosen = append(chosen, m[1])
	}
	if want := []string{fmt.Sprint(tr.ID), fmt.Sprint(e.dsID)}; fmt.Sprint(chosen) != fmt.Sprint(want) {
		t.Errorf("chosen parent and dataset %v, want %v", chosen, want)
	}

	p := e.alice.Submit(fmt.Sprintf("/inferences/new?parent=%d", tr.ID), "/inferences", url.Values{
		"name": {"eval-1"}, "parent_id": {fmt.Sprint(tr.ID)}, "dataset_id": {fmt.Sprint(e.dsID)}, "command": {"python3 eval.py"},
		"cpu": {"1"}, "memory_gb": {"1"}, "gpu": {"0"}, "partition": {"cpu"}})
	if p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location, "/inferences/") {
		t.Fatalf("submit: %d %q %s", p.Status, p.Location, p.Body)
	}
	inf := e.alice.Get(p.Location)
	if !strings.Contains(inf.Body, i18n.T("en", "flash.inference_submitted")) || !strings.Contains(inf.Body, fmt.Sprintf(`<a href="/trainings/%d">#%d</a> tuned`, tr.ID, tr.ID)) {
		t.Fatalf("the inference page lacks the flash or the link to its parent: %s", inf.Body)
	}
	id := strings.TrimPrefix(p.Location, "/inferences/")
	page = e.alice.Get(fmt.Sprintf("/trainings/%d", tr.ID))
	if !strings.Contains(page.Body, fmt.Sprintf(`<a href="/inferences/%s">#%s eval-1</a>`, id, id)) {
		t.Fatal("the training page does not list the inference made from it")
	}
	// The parent training's own training parent has no inference of it.
	if page := e.alice.Get(fmt.Sprintf("/trainings/%d", e.training.ID)); strings.Contains(page.Body, "eval-1") {
		t.Fatal("the grandparent lists the inference")
	}
	// An inference is a parent too: Run inference from it chooses it.
	if f := e.alice.Get("/inferences/new?parent=" + id); !strings.Contains(f.Body, `<option value="`+id+`" selected>`) {
		t.Fatal("Run inference from an inference does not choose it")
	}
	// Its notes, and Stop while it waits.
	path := "/inferences/" + id
	if p := e.alice.Submit(path, path, url.Values{"memo": {"first eval"}, "tags": {"eval, v1"}, "favorite": {"on"}}); p.Status != http.StatusSeeOther || p.Location != path {
		t.Fatalf("notes: %d %q", p.Status, p.Location)
	}
	if p := e.alice.Submit(path, path+"/stop", nil); p.Status != http.StatusSeeOther || p.Location != path {
		t.Fatalf("stop: %d %q", p.Status, p.Location)
	}
	page = e.alice.Get(path)
	for _, want := range []string{">first eval</textarea>", `value="eval, v1"`, `name="favorite" checked`,
		html.EscapeString(i18n.T("en", "flash.inference_stopping")), html.EscapeString(i18n.T("en", "training.stopping"))} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("the inference page lacks %q", want)
		}
	}
}

// A refused inference form comes back as typed, with the parents chosen
// still chosen and the reason by the field; another tenant's training
// cannot be a parent.
func TestInferenceFormKeepsWhatWasTyped(t *testing.T) {
	e := newInferenceEnv(t)
	ctx := context.Background()
	other, err := e.env.Store.TenantByName(ctx, "other")
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := e.env.Store.CreateJob(ctx, storage.NewJob{Kind: "training", TenantID: other.ID, Name: "theirs", Image: slurm.HostImage, Command: "true", CPU: 1, MemoryGB: 1, Partition: "cpu"})
	if err != nil {
		t.Fatal(err)
	}
	earlier := e.completed(t, jobs.Inference, "earlier", e.training)
	typed := url.Values{"name": {"Bad Name"}, "dataset_id": {fmt.Sprint(e.dsID)}, "command": {`echo "it's"`}, "cpu": {"1"}, "memory_gb": {"1"},
		"gpu": {"0"}, "env": {"INFERENCE_ID=1\nGOOD=yes"}, "memo": {"my memo"}}
	both := []string{fmt.Sprint(e.training.ID), fmt.Sprint(earlier.ID)}
	for _, c := range []struct {
		name    string
		parents []string
		chosen  []string // still chosen in the refused form
		want    []string // in the refused form
	}{
		{"two parents", both, both, []string{"lower-case letters", html.EscapeString(i18n.T("en", "training.invalid_spec", ""))}},
		{"no parent", nil, nil, []string{html.EscapeString(i18n.T("en", "inference.parent_required"))}},
		{"another tenant's training", []string{fmt.Sprint(theirs.ID)}, nil, []string{html.EscapeString(i18n.T("en", "inference.unknown_parent", fmt.Sprint(theirs.ID)))}},
	} {
		t.Run(c.name, func(t *testing.T) {
			form := url.Values{}
			for k, v := range typed {
				form[k] = v
			}
			form["parent_id"] = c.parents
			p := e.alice.Submit("/inferences/new", "/inferences", form)
			if p.Status != http.StatusUnprocessableEntity {
				t.Fatalf("status %d", p.Status)
			}
			for _, want := range append([]string{`value="Bad Name"`, `echo &#34;it&#39;s&#34;`, "INFERENCE_ID=1\nGOOD=yes", "my memo",
				html.EscapeString(i18n.T("en", "inference.form_has_errors"))}, c.want...) {
				if !strings.Contains(p.Body, want) {
					t.Errorf("the refused form lacks %q", want)
				}
			}
			_, parents, _ := strings.Cut(p.Body, `id="inference-parents"`)
			parents, _, _ = strings.Cut(parents, "</select>")
			var chosen []string
			for _, m := range selectedOption.FindAllStringSubmatch(parents, -1) {
				chosen = append(chosen, m[1])
			}
			if fmt.Sprint(chosen) != fmt.Sprint(c.chosen) {
				t.Errorf("parents chosen %v, want %v", chosen, c.chosen)
			}
			if strings.Contains(p.Body, "theirs") {
				t.Error("the form shows another tenant's training")
			}
		})
	}
	if _, n, _ := e.env.Store.ListJobs(ctx, e.lab.ID, storage.JobFilter{Kind: "inference"}); n != 1 {
		t.Fatalf("%d inferences recorded, want only the earlier one", n)
	}
}

// Another tenant's inference is not found on any inference page, and
// neither is a training on the inference routes.
func TestInferencePagesOfAnotherTenant(t *testing.T) {
	e := newInferenceEnv(t)
	ctx := context.Background()
	other, _ := e.env.Store.TenantByName(ctx, "other")
	bobTraining, err := e.env.Store.CreateJob(ctx, storage.NewJob{Kind: "training", TenantID: other.ID, Name: "b-model", Image: slurm.HostImage, Command: "true", CPU: 1, MemoryGB: 1, Partition: "cpu"})
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := e.env.Store.CreateJob(ctx, storage.NewJob{Kind: "inference", TenantID: other.ID, Name: "b-secret", ParentIDs: []int64{bobTraining.ID},
		Image: slurm.HostImage, Command: "true", CPU: 1, MemoryGB: 1, Partition: "cpu"})
	if err != nil {
		t.Fatal(err)
	}
	b := e.alice
	for _, id := range []int64{theirs.ID, e.training.ID, theirs.ID + 1000} {
		base := fmt.Sprintf("/inferences/%d", id)
		for _, path := range []string{"", "/log", "/log?offset=0", "/state", "/script", "/output.zip", "/files/value.txt"} {
			if p := b.Get(base + path); p.Status != http.StatusNotFound || strings.Contains(p.Body, "b-secret") {
				t.Errorf("GET %s%s: %d", base, path, p.Status)
			}
		}
		for _, path := range []string{"", "/stop", "/delete", "/attach"} {
			if p := b.Submit("/", base+path, url.Values{"memo": {"hijack"}}); p.Status != http.StatusNotFound {
				t.Errorf("POST %s%s: %d", base, path, p.Status)
			}
		}
		if p := b.Get(fmt.Sprintf("/inferences/new?from=%d", id)); p.Status != http.StatusNotFound {
			t.Errorf("copy-run of job %d: %d", id, p.Status)
		}
	}
	for _, id := range []int64{theirs.ID, bobTraining.ID} {
		if p := b.Get(fmt.Sprintf("/inferences/new?parent=%d", id)); p.Status != http.StatusNotFound {
			t.Errorf("Run inference from job %d of another tenant: %d", id, p.Status)
		}
	}
	if p := b.Get(fmt.Sprintf("/inferences/status?ids=%d,%d", theirs.ID, e.training.ID)); p.Body != "{}\n" {
		t.Errorf("status poll leaks: %s", p.Body)
	}
	if p := b.Get(fmt.Sprintf("/inferences?parent_id=%d", bobTraining.ID)); strings.Contains(p.Body, "b-secret") || strings.Contains(p.Body, "b-model") {
		t.Error("the list shows another tenant's inference or training")
	}
	b.Submit("/inferences", "/inferences/bulk", url.Values{"ids": {fmt.Sprint(theirs.ID)}, "action": {"delete"}})
	got, err := e.env.Store.JobByID(ctx, other.ID, theirs.ID)
	if err != nil || got.Memo != "" || got.StopRequested {
		t.Fatalf("the other tenant's inference was changed: %+v %v", got, err)
	}
}

// The list sorts by output value (those without one last, both ways),
// filters by parent, and tags and deletes the checked rows.
func TestInferenceListSortsFiltersAndBulk(t *testing.T) {
	e := newInferenceEnv(t)
	second := e.completed(t, jobs.Training, "second")
	valued := func(name, value string, parents ...*storage.Job) *storage.Job {
		j := e.submit(t, jobs.Inference, name, parents)
		e.record(t, j, slurm.ExitCodeFile, "0\n")
		if value != "" {
			e.record(t, j, slurm.OutputDir+"/value.txt", value)
		}
		e.slurmSays(t, j, func(i *slurm.JobInfo) { i.State = "COMPLETED" })
		return j
	}
	low := valued("low", "-2.5\n", e.training)
	high := valued("high", "1e3\n", e.training, second)
	none := valued("none", "", second)
	names := func(path string) []string {
		t.Helper()
		var out []string
		for _, m := range regexp.MustCompile(`class="inference-name">([^<]+)<`).FindAllStringSubmatch(e.alice.Get(path).Body, -1) {
			out = append(out, m[1])
		}
		return out
	}
	for _, c := range []struct {
		path string
		want []string
	}{
		{"/inferences?sort=value&desc=0", []string{"low", "high", "none"}},
		{"/inferences?sort=value&desc=1", []string{"high", "low", "none"}},
		{fmt.Sprintf("/inferences?parent_id=%d", e.training.ID), []string{"high", "low"}},
		{fmt.Sprintf("/inferences?parent_id=%d&sort=value&desc=0", second.ID), []string{"high", "none"}},
	} {
		if got := names(c.path); fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s: %v, want %v", c.path, got, c.want)
		}
	}
	list := e.alice.Get("/inferences").Body
	for _, want := range []string{`<td class="value">-2.5</td>`, `<td class="value">1000</td>`, `<td class="value">—</td>`} {
		if !strings.Contains(list, want) {
			t.Errorf("the list lacks %s", want)
		}
	}
	if list := e.alice.Get(fmt.Sprintf("/inferences?parent_id=%d", e.training.ID)).Body; !strings.Contains(list, fmt.Sprintf(`<option value="%d" selected>`, e.training.ID)) {
		t.Error("the parent filter does not show the parent chosen")
	}

	ids := []string{fmt.Sprint(low.ID), fmt.Sprint(high.ID), fmt.Sprint(none.ID)}
	if p := e.alice.Submit("/inferences", "/inferences/bulk", url.Values{"ids": ids, "action": {"tag"}, "tags": {"eval"}}); p.Status != http.StatusSeeOther {
		t.Fatalf("bulk tag: %d", p.Status)
	}
	if got := names("/inferences?tag=eval"); len(got) != 3 {
		t.Fatalf("tagged: %v", got)
	}
	p := e.alice.Submit("/inferences", "/inferences/bulk", url.Values{"ids": ids[:2], "action": {"delete"}})
	if p.Status != http.StatusSeeOther || !strings.Contains(e.alice.Get(p.Location).Body, i18n.T("en", "flash.inference_saved")) {
		t.Fatalf("bulk delete: %d", p.Status)
	}
	if got := names("/inferences"); fmt.Sprint(got) != "[none]" {
		t.Fatalf("after bulk delete: %v", got)
	}
}

// A training an inference was made from is not deleted while the
// inference exists: its page says which inference holds it, a bulk delete
// keeps it and says why.
func TestDeletingATrainingAnInferenceUsed(t *testing.T) {
	e := newInferenceEnv(t)
	inf := e.completed(t, jobs.Inference, "eval", e.training)
	path := fmt.Sprintf("/trainings/%d", e.training.ID)
	p := e.alice.Submit(path, path+"/delete", nil)
	want := html.EscapeString(i18n.T("en", "training.parent_in_use", fmt.Sprintf("#%d", inf.ID)))
	if p.Status != http.StatusConflict || !strings.Contains(p.Body, want) {
		t.Fatalf("delete: %d, want 409 saying %q", p.Status, want)
	}
	p = e.alice.Submit("/trainings", "/trainings/bulk", url.Values{"ids": {fmt.Sprint(e.training.ID)}, "action": {"delete"}})
	if follow := e.alice.Get(p.Location); !strings.Contains(follow.Body, html.EscapeString(i18n.T("en", "training.some_in_use"))) {
		t.Fatalf("bulk delete message: %s", follow.Body)
	}
	if p := e.alice.Submit(fmt.Sprintf("/inferences/%d", inf.ID), fmt.Sprintf("/inferences/%d/delete", inf.ID), nil); p.Status != http.StatusSeeOther || p.Location != "/inferences" {
		t.Fatalf("delete the inference: %d %q", p.Status, p.Location)
	}
	if p := e.alice.Submit(path, path+"/delete", nil); p.Status != http.StatusSeeOther {
		t.Fatalf("delete the training once its inference is gone: %d", p.Status)
	}
}

// The inference list's parent filter offers the newest 200 trainings and
// the newest 200 inferences of the tenant, newest first, each as
// "#id name (kind)" in the visitor's language, its name escaped, the one
// filtered by selected; none of another tenant.
func TestInferenceListParentChoices(t *testing.T) {
	env := portaltest.New(t)
	lab := env.Tenant(t, "lab")
	other := env.Tenant(t, "other")
	u := env.User(t, "alice", pw, false, "lab")
	db, err := sql.Open("postgres", env.Config.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// 210 trainings and 3 inferences in lab (the newest inference with a
	// name no form would take), 5 trainings in the other tenant.
	for _, q := range []struct {
		tenant int64
		sql    string
	}{
		{lab.ID, `SELECT $1::bigint, 'training', 'tr-' || g FROM generate_series(1, 210) g`},
		{other.ID, `SELECT $1::bigint, 'training', 'theirs-' || g FROM generate_series(1, 5) g`},
		{lab.ID, `SELECT $1::bigint, 'inference', 'inf-' || g FROM generate_series(1, 2) g`},
		{lab.ID, `SELECT $1::bigint, 'inference', '<b>&"x'`},
	} {
		if _, err := db.Exec(`INSERT INTO jobs (tenant_id, kind, name, image, command, cpu, memory_gb, gpu, partition, status, created_by)
			SELECT t, k, n, 'img', 'true', 1, 1, 0, 'cpu', 'completed', $2 FROM (`+q.sql+`) s (t, k, n)`, q.tenant, u.ID); err != nil {
			t.Fatal(err)
		}
	}
	want := func(kind string, n int) []string { // "id name" of the newest n of kind in lab
		rows, err := db.Query(`SELECT id || ' ' || name FROM jobs WHERE tenant_id = $1 AND kind = $2 ORDER BY id DESC LIMIT $3`, lab.ID, kind, n)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var s string
			rows.Scan(&s)
			out = append(out, s)
		}
		return out
	}
	trainings, inferences := want("training", 200), want("inference", 3)
	var selected int64
	db.QueryRow(`SELECT id FROM jobs WHERE tenant_id = $1 AND name = 'tr-100'`, lab.ID).Scan(&selected)
	option := regexp.MustCompile(`<option value="(\d+)"( selected)?>#(\d+) ([^<]*) \(([^)]*)\)</option>`)
	b := env.Browser(t)
	b.Login("alice", pw)
	for _, lang := range []string{"en", "ja"} {
		if p := b.Submit("/settings", "/settings/language", url.Values{"lang": {lang}}); p.Status != http.StatusSeeOther {
			t.Fatalf("set language %s: %d", lang, p.Status)
		}
		for _, path := range []string{"/inferences", fmt.Sprintf("/inferences?parent_id=%d", selected)} {
			var got, wantAll []string
			var chosen []string
			for _, m := range option.FindAllStringSubmatch(b.Get(path).Body, -1) {
				if m[1] != m[3] {
					t.Errorf("%s %s: option value %s shows #%s", lang, path, m[1], m[3])
				}
				got = append(got, m[3]+" "+html.UnescapeString(m[4])+" ("+m[5]+")")
				if m[2] != "" {
					chosen = append(chosen, m[1])
				}
			}
			for _, s := range trainings {
				wantAll = append(wantAll, s+" ("+i18n.T(lang, "kind.training")+")")
			}
			for _, s := range inferences {
				wantAll = append(wantAll, s+" ("+i18n.T(lang, "kind.inference")+")")
			}
			if strings.Join(got, "\n") != strings.Join(wantAll, "\n") {
				t.Errorf("%s %s: %d choices %.300q…, want %d %.300q…", lang, path, len(got), got, len(wantAll), wantAll)
			}
			wantChosen := ""
			if strings.Contains(path, "parent_id") {
				wantChosen = fmt.Sprint(selected)
			}
			if strings.Join(chosen, ",") != wantChosen {
				t.Errorf("%s %s: selected %v, want %q", lang, path, chosen, wantChosen)
			}
		}
	}
	if body := b.Get("/inferences").Body; !strings.Contains(body, `&lt;b&gt;&amp;&#34;x (`) || strings.Contains(body, `<b>&"x`) {
		t.Error("a parent's name is not escaped")
	}
}
