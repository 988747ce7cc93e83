package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"kqi/portal/jobs"
	"kqi/portal/portaltest"
	"kqi/slurm"
	"kqi/storage"
)

func TestTrainingFormKeepsWhatWasTyped(t *testing.T) {
	env := portaltest.New(t)
	lab := env.Tenant(t, "lab")
	env.User(t, "alice", pw, false, "lab")
	dsID, err := env.Store.CreateDataset(context.Background(), storage.NewDataset{TenantID: lab.ID, Name: "empty"})
	if err != nil {
		t.Fatal(err)
	}
	b := env.Browser(t)
	b.Login("alice", pw)
	form := url.Values{"name": {"Bad Name"}, "dataset_id": {fmt.Sprint(dsID)}, "command": {`echo "it's" $HOME`}, "cpu": {"999"},
		"memory_gb": {"2"}, "gpu": {"0"}, "partition": {"cpu"}, "env": {"TRAINING_ID=1\nGOOD=yes"}, "memo": {"my memo"},
		"git_repository": {"https://example.org/m.git"}, "git_branch": {"dev"}, "sbatch_options": {"--mail-type=END"}}
	p := b.Submit("/trainings/new", "/trainings", form)
	if p.Status != http.StatusUnprocessableEntity {
		t.Fatalf("status %d", p.Status)
	}
	for _, want := range []string{
		`value="Bad Name"`, `echo &#34;it&#39;s&#34; $HOME`, `value="999"`, "TRAINING_ID=1\nGOOD=yes", "my memo",
		`value="https://example.org/m.git"`, `value="dev"`, "--mail-type=END",
		"lower-case letters", "CPU cores at most", "TRAINING_ID",
	} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("the refused form lacks %q", want)
		}
	}
	if _, n, _ := env.Store.ListJobs(context.Background(), lab.ID, storage.JobFilter{Kind: "training"}); n != 0 {
		t.Fatal("a refused form was recorded")
	}
}

func TestTrainingPagesOfAnotherTenant(t *testing.T) {
	env := portaltest.New(t)
	env.Tenant(t, "lab-a")
	bTenant := env.Tenant(t, "lab-b")
	env.User(t, "alice", pw, false, "lab-a")
	ctx := context.Background()
	dsID, _ := env.Store.CreateDataset(ctx, storage.NewDataset{TenantID: bTenant.ID, Name: "b"})
	tr, err := env.Store.CreateJob(ctx, storage.NewJob{Kind: "training", TenantID: bTenant.ID, Name: "b-secret", DatasetID: dsID,
		Image: slurm.HostImage, Command: "true", CPU: 1, MemoryGB: 1, Partition: "cpu"})
	if err != nil {
		t.Fatal(err)
	}
	b := env.Browser(t)
	b.Login("alice", pw)
	id := fmt.Sprint(tr.ID)
	for _, path := range []string{"", "/log", "/log?offset=0", "/script", "/output.zip", "/files/x.txt"} {
		if p := b.Get("/trainings/" + id + path); p.Status != http.StatusNotFound || strings.Contains(p.Body, "b-secret") {
			t.Errorf("GET %s: %d", path, p.Status)
		}
	}
	for _, path := range []string{"", "/stop", "/delete", "/attach"} {
		if p := b.Submit("/", "/trainings/"+id+path, url.Values{"memo": {"hijack"}}); p.Status != http.StatusNotFound {
			t.Errorf("POST %s: %d", path, p.Status)
		}
	}
	if p := b.Get("/trainings/new?from=" + id); p.Status != http.StatusNotFound {
		t.Errorf("copy-run of a foreign training: %d", p.Status)
	}
	if p := b.Get("/trainings/status?ids=" + id); strings.Contains(p.Body, "submitting") {
		t.Errorf("status poll leaks: %s", p.Body)
	}
	got, _ := env.Store.JobByID(ctx, bTenant.ID, tr.ID)
	if got.Memo != "" || got.StopRequested {
		t.Fatalf("tenant B's training was changed: %+v", got)
	}
}

func TestTrainingListBulkTagsAndDelete(t *testing.T) {
	env := portaltest.New(t)
	lab := env.Tenant(t, "lab")
	env.User(t, "alice", pw, false, "lab")
	ctx := context.Background()
	dsID, _ := env.Store.CreateDataset(ctx, storage.NewDataset{TenantID: lab.ID, Name: "d"})
	var ids []string
	for i, final := range []bool{true, true, false} {
		tr, err := env.Store.CreateJob(ctx, storage.NewJob{Kind: "training", TenantID: lab.ID, Name: fmt.Sprint("t", i), DatasetID: dsID,
			Image: slurm.HostImage, Command: "true", CPU: 1, MemoryGB: 1, Partition: "cpu"})
		if err != nil {
			t.Fatal(err)
		}
		if final {
			env.Store.UpdateJobState(ctx, tr.ID, storage.JobState{Status: string(slurm.StatusFailed)})
		}
		ids = append(ids, fmt.Sprint(tr.ID))
	}
	b := env.Browser(t)
	b.Login("alice", pw)
	p := b.Submit("/trainings", "/trainings/bulk", url.Values{"ids": ids, "action": {"tag"}, "tags": {"exp1, best"}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("bulk tag: %d", p.Status)
	}
	if list := b.Get("/trainings?tag=best"); strings.Count(list.Body, `class="training-name"`) != 3 {
		t.Fatalf("tagged list: %s", list.Body)
	}
	b.Submit("/trainings", "/trainings/bulk", url.Values{"ids": ids[:1], "action": {"untag"}, "tags": {"best"}})
	if list := b.Get("/trainings?tag=best"); strings.Count(list.Body, `class="training-name"`) != 2 {
		t.Fatal("untag did not remove the tag")
	}
	p = b.Submit("/trainings", "/trainings/bulk", url.Values{"ids": ids, "action": {"delete"}})
	if follow := b.Get(p.Location); !strings.Contains(follow.Body, "still running and were kept") {
		t.Fatalf("bulk delete message: %s", follow.Body)
	}
	if _, n, _ := env.Store.ListJobs(ctx, lab.ID, storage.JobFilter{Kind: "training"}); n != 1 {
		t.Fatalf("%d trainings left, want the active one", n)
	}
}

// Choosing a parent and asking for its settings fills the form with them
// (the name typed so far stays); copy-run fills everything.
func TestTrainingFormDefaultsFromParent(t *testing.T) {
	env := portaltest.New(t)
	lab := env.Tenant(t, "lab")
	env.User(t, "alice", pw, false, "lab")
	ctx := context.Background()
	dsID, _ := env.Store.CreateDataset(ctx, storage.NewDataset{TenantID: lab.ID, Name: "d"})
	parent, err := env.Store.CreateJob(ctx, storage.NewJob{Kind: "training", TenantID: lab.ID, Name: "base", DatasetID: dsID,
		Image: slurm.HostImage, Command: "python3 train.py --lr 0.1", CPU: 3, MemoryGB: 2, Partition: "cpu",
		Env: []storage.EnvPair{{Name: "EPOCHS", Value: "7"}}})
	if err != nil {
		t.Fatal(err)
	}
	b := env.Browser(t)
	b.Login("alice", pw)
	p := b.Get(fmt.Sprintf("/trainings/new?use_parent=1&parent_id=%d&name=next-try", parent.ID))
	for _, want := range []string{`value="next-try"`, "python3 train.py --lr 0.1", `value="3"`, "EPOCHS=7", fmt.Sprintf(`<option value="%d" selected>`, parent.ID)} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("form from parent lacks %q", want)
		}
	}
	p = b.Get(fmt.Sprintf("/trainings/new?from=%d", parent.ID))
	if !strings.Contains(p.Body, `value="base"`) || !strings.Contains(p.Body, "EPOCHS=7") {
		t.Error("copy-run form is not prefilled")
	}
}

// A file attached on the training's page appears at /kqi/attach in the
// running job.
func TestAttachmentReachesTheJob(t *testing.T) {
	env := portaltest.New(t, portaltest.WithCluster)
	lab := env.Tenant(t, "lab")
	u := env.User(t, "alice", pw, false, "lab")
	ctx := context.Background()
	dsID, _ := env.Store.CreateDataset(ctx, storage.NewDataset{TenantID: lab.ID, Name: "d"})
	tr, err := env.Jobs.Submit(ctx, jobs.Actor{TenantID: lab.ID, UserID: u.ID}, jobs.Training, jobs.Request{Name: "waits", DatasetID: dsID, CPU: 1, MemoryGB: 1,
		Command: `for i in $(seq 60); do [ -f /kqi/attach/notes.txt ] && break; sleep 0.5; done; cp /kqi/attach/notes.txt /kqi/output/seen.txt`})
	if err != nil || tr.Status != string(slurm.StatusQueued) {
		t.Fatalf("submit: %v %+v", err, tr)
	}
	b := env.Browser(t)
	b.Login("alice", pw)
	path := fmt.Sprintf("/trainings/%d", tr.ID)
	p := postUpload(t, b, path, path+"/attach", nil, map[string]string{"notes.txt": "hyper-parameters v2"})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("attach: %d %s", p.Status, p.Body)
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		env.Jobs.Poll(ctx)
		got, _ := env.Store.JobByID(ctx, lab.ID, tr.ID)
		if !got.Active() {
			if got.Status != string(slurm.StatusCompleted) {
				t.Fatalf("training %s (%s)", got.Status, got.Reason)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("training did not end")
		}
		time.Sleep(500 * time.Millisecond)
	}
	if dl := b.Get(path + "/files/seen.txt"); dl.Status != 200 || dl.Body != "hyper-parameters v2" {
		t.Fatalf("the job saw %q (%d)", dl.Body, dl.Status)
	}
	if page := b.Get(path); !strings.Contains(page.Body, "notes.txt") {
		t.Error("the page does not list the attachment")
	}
	p = postUpload(t, b, path, path+"/attach", nil, map[string]string{"../evil.txt": "x"})
	if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "must not be empty") {
		t.Fatalf("attachment named ../evil.txt: %d", p.Status)
	}
	if _, err := env.Files.Stat(ctx, tr.JobDir+"/evil.txt"); err == nil {
		t.Fatal("an attachment escaped the attach directory")
	}
}
