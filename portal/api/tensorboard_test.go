package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"

	"kqi/portal/jobs"
	"kqi/portal/portaltest"
	"kqi/slurm"
	"kqi/storage"
)

// completedTraining submits a training on the fake cluster and has it
// complete.
func completedTraining(t *testing.T, env *portaltest.Env, tenantID, userID int64, name string) *storage.Job {
	t.Helper()
	ctx := context.Background()
	dsID, err := env.Store.CreateDataset(ctx, storage.NewDataset{TenantID: tenantID, Name: "ds-" + name})
	if err != nil {
		t.Fatal(err)
	}
	j, err := env.Jobs.Submit(ctx, jobs.Actor{TenantID: tenantID, UserID: userID}, jobs.Training,
		jobs.Request{Name: name, DatasetID: dsID, CPU: 1, MemoryGB: 1, Command: "true"})
	if err != nil {
		t.Fatal(err)
	}
	env.Files.Put(ctx, j.JobDir+"/"+slurm.ExitCodeFile, strings.NewReader("0\n"))
	env.Fake.Set(j.SlurmJobID, func(i *slurm.JobInfo) { i.State = "COMPLETED" })
	if err := env.Jobs.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	return j
}

func TestTensorBoardAPI(t *testing.T) {
	env := portaltest.New(t)
	a := env.Tenant(t, "lab-a")
	env.Tenant(t, "lab-b")
	alice := env.User(t, "alice", pw, false, "lab-a")
	env.User(t, "bob", pw, false, "lab-b")
	aTok, bTok := token(t, env, "alice", "lab-a"), token(t, env, "bob", "lab-b")
	tr := completedTraining(t, env, a.ID, alice.ID, "mnist")
	ctx := context.Background()

	status, created := call(t, env, "POST", "/api/v1/tensorboards", aTok, map[string]any{"training_ids": []int64{tr.ID}})
	if status != http.StatusCreated || created["status"] != "starting" || created["reused"] != false {
		t.Fatalf("create: %d %v", status, created)
	}
	id := int64(created["id"].(float64))
	if created["url"] != fmt.Sprintf("/tensorboard/%d/", id) {
		t.Errorf("url %v", created["url"])
	}
	if status, again := call(t, env, "POST", "/api/v1/tensorboards", aTok, map[string]any{"training_ids": []int64{tr.ID, tr.ID}}); status != http.StatusCreated || int64(again["id"].(float64)) != id || again["reused"] != true {
		t.Errorf("the same set again: %d %v", status, again)
	}
	for _, c := range []struct {
		name string
		tok  string
		body any
		want int
	}{
		{"no training", aTok, map[string]any{"training_ids": []int64{}}, http.StatusUnprocessableEntity},
		{"another tenant's training", bTok, map[string]any{"training_ids": []int64{tr.ID}}, http.StatusUnprocessableEntity},
		{"an unknown field", aTok, map[string]any{"trainings": []int64{tr.ID}}, http.StatusBadRequest},
	} {
		if status, out := call(t, env, "POST", "/api/v1/tensorboards", c.tok, c.body); status != c.want {
			t.Errorf("%s: %d %v, want %d", c.name, status, out, c.want)
		}
	}
	path := fmt.Sprintf("/api/v1/tensorboards/%d", id)
	if status, _ := call(t, env, "GET", path, bTok, nil); status != http.StatusNotFound {
		t.Errorf("another tenant's GET: %d", status)
	}
	if status, _ := call(t, env, "DELETE", path, bTok, nil); status != http.StatusNotFound {
		t.Errorf("another tenant's DELETE: %d", status)
	}

	// Running, with an endpoint that answers: ready.
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	tb, _ := env.Jobs.Job(ctx, a.ID, jobs.TensorBoard, id)
	env.Fake.Set(tb.SlurmJobID, func(i *slurm.JobInfo) { i.State, i.Node = "RUNNING", "127.0.0.2" })
	env.Jobs.Poll(ctx)
	env.Files.Put(ctx, tb.JobDir+"/"+slurm.OutputDir+"/"+jobs.EndpointFile, strings.NewReader(ln.Addr().String()+"\n"))
	if status, got := call(t, env, "GET", path, aTok, nil); status != 200 || got["status"] != "ready" {
		t.Errorf("running: %d %v", status, got)
	}

	if status, got := call(t, env, "DELETE", path, aTok, nil); status != 200 || got["status"] != "stopped" {
		t.Errorf("delete: %d %v", status, got)
	}
	env.Jobs.Poll(ctx) // cancels
	env.Jobs.Poll(ctx) // sees it cancelled
	if fj, _ := env.Fake.Job(tb.SlurmJobID); fj.Info.State != "CANCELLED" {
		t.Errorf("Slurm job %s after DELETE", fj.Info.State)
	}
	if status, got := call(t, env, "GET", path, aTok, nil); status != 200 || got["status"] != "stopped" || got["job_status"] != "killed" {
		t.Errorf("after delete: %d %v", status, got)
	}
	// Stopped, the set gets a new one.
	if _, fresh := call(t, env, "POST", "/api/v1/tensorboards", aTok, map[string]any{"training_ids": []int64{tr.ID}}); int64(fresh["id"].(float64)) == id {
		t.Error("a stopped TensorBoard was handed out again")
	}
}

// The metrics of a training through the API are the numbers an
// independent writer put in its event file.
func TestTrainingMetricsAPI(t *testing.T) {
	env := portaltest.New(t)
	a := env.Tenant(t, "lab-a")
	env.Tenant(t, "lab-b")
	alice := env.User(t, "alice", pw, false, "lab-a")
	env.User(t, "bob", pw, false, "lab-b")
	aTok, bTok := token(t, env, "alice", "lab-a"), token(t, env, "bob", "lab-b")
	tr := completedTraining(t, env, a.ID, alice.ID, "mnist")
	ctx := context.Background()
	b, err := os.ReadFile("../scalars/testdata/events.out.tfevents.1700000000.writer")
	if err != nil {
		t.Fatal(err)
	}
	env.Files.Put(ctx, tr.JobDir+"/"+slurm.OutputDir+"/events.out.tfevents.1700000000.writer", strings.NewReader(string(b)))
	var want map[string][][2]float64
	raw, _ := os.ReadFile("../scalars/testdata/events.expected.json")
	json.Unmarshal(raw, &want)

	path := fmt.Sprintf("/api/v1/trainings/%d/metrics", tr.ID)
	status, got := call(t, env, "GET", path, aTok, nil)
	if status != 200 {
		t.Fatalf("metrics: %d %v", status, got)
	}
	series := got["series"].([]any)
	if len(series) != len(want) {
		t.Fatalf("series %v, want %v", series, want)
	}
	for _, s := range series {
		m := s.(map[string]any)
		w := want[m["name"].(string)]
		pts := m["points"].([]any)
		if len(pts) != len(w) {
			t.Fatalf("%s: %d points, want %d", m["name"], len(pts), len(w))
		}
		for i, p := range pts {
			xy := p.([]any)
			if xy[0].(float64) != w[i][0] || math.Abs(xy[1].(float64)-w[i][1]) > 1e-12 {
				t.Errorf("%s[%d] = %v, want %v", m["name"], i, xy, w[i])
			}
		}
	}
	if status, _ := call(t, env, "GET", path, bTok, nil); status != http.StatusNotFound {
		t.Errorf("another tenant's metrics: %d", status)
	}
	env.Files.Put(ctx, tr.JobDir+"/"+slurm.OutputDir+"/events.out.tfevents.2.bad", strings.NewReader("this is not an event file, only text"))
	if status, got := call(t, env, "GET", path, aTok, nil); status != 200 || len(got["notes"].([]any)) != 1 {
		t.Errorf("a corrupt file: %d %v", status, got["notes"])
	}
}
