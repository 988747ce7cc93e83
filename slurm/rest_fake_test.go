package slurm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeREST is a REST client of an httptest server run by handler, with
// retries that do not wait, and a count of the requests the server saw.
func fakeREST(t *testing.T, handler http.HandlerFunc) (*REST, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Header.Get("X-SLURM-USER-NAME") != "kqi" || strings.Count(r.Header.Get("X-SLURM-USER-TOKEN"), ".") != 2 {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		handler(w, r)
	}))
	t.Cleanup(srv.Close)
	key := filepath.Join(t.TempDir(), "jwt.key")
	if err := os.WriteFile(key, []byte("0123456789abcdef0123456789abcdef"), 0o600); err != nil {
		t.Fatal(err)
	}
	signer, err := NewTokenSigner(key, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewREST(RESTConfig{URL: srv.URL, User: "kqi", Signer: signer, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c.http.RetryWaitMin, c.http.RetryWaitMax = time.Millisecond, time.Millisecond
	return c, &calls
}

func answer(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func TestRESTErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		calls  int32
		want   string
	}{
		{"200 with errors[] is an error", 200, `{"errors":[{"error":"Unable to contact slurmctld","error_number":1007}],"pings":[]}`, 1, "Unable to contact slurmctld (error 1007)"},
		{"5xx is retried, then an error", 503, `upstream unavailable`, 4, "giving up after 4 attempt(s)"},
		{"500 with Slurm's errors[] is not retried", 500, `{"errors":[{"error":"Invalid job id specified","error_number":2017}]}`, 1, "Invalid job id specified"},
		{"401 is an error, not retried", 401, `Authentication failure`, 1, "HTTP 401"},
		{"non-JSON 200", 200, `<html>proxy login</html>`, 1, "decode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, calls := fakeREST(t, func(w http.ResponseWriter, r *http.Request) { answer(w, tc.status, tc.body) })
			err := c.Ping(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Ping error %v, want one containing %q", err, tc.want)
			}
			if calls.Load() != tc.calls {
				t.Fatalf("%d requests, want %d", calls.Load(), tc.calls)
			}
		})
	}
}

// A 5xx that recovers is retried transparently.
func TestRESTRetriesThenSucceeds(t *testing.T) {
	var failures atomic.Int32
	c, calls := fakeREST(t, func(w http.ResponseWriter, r *http.Request) {
		if failures.Add(1) <= 2 {
			answer(w, 502, "bad gateway")
			return
		}
		answer(w, 200, `{"errors":[],"pings":[{"hostname":"vm","ping":"UP"}]}`)
	})
	if err := c.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 3 {
		t.Fatalf("%d requests, want 3", calls.Load())
	}
}

func TestRESTSubmit(t *testing.T) {
	var got map[string]any
	c, calls := fakeREST(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/slurm/v0.0.38/job/submit" {
			t.Errorf("%s %s", r.Method, r.URL.Path)
		}
		if err := json.NewDecoder(r.Body).Decode(&got); err != nil {
			t.Error(err)
		}
		// What v0.0.38 answers to a held job: an error entry and a job id.
		answer(w, 200, `{"errors":[{"error_code":2042,"error":"Job is in held state, pending scheduler release"}],"job_id":77,"step_id":"BATCH"}`)
	})
	spec := JobSpec{
		Name: "train-7", Comment: "kqi:training:7", Partition: "gpu-a100", Account: "proj",
		CPUs: 4, MemoryGiB: 8, GPUs: 2, GPUType: "a100", TimeLimit: 90 * time.Second,
		Extra: []string{"--hold", "--nice=10"}, Image: HostImage, Command: "true", JobDir: "/shared/jobs/7",
	}
	id, err := c.Submit(context.Background(), "#!/bin/bash\ntrue\n", spec)
	if err != nil || id != "77" {
		t.Fatalf("Submit = %q, %v", id, err)
	}
	if calls.Load() != 1 {
		t.Fatalf("%d requests", calls.Load())
	}
	want := map[string]any{
		"script": "#!/bin/bash\ntrue\n",
		"job": map[string]any{
			"name": "train-7", "comment": "kqi:training:7", "partition": "gpu-a100", "account": "proj",
			"nodes": 1.0, "tasks": 1.0, "cpus_per_task": 4.0, "memory_per_node": 8192.0, "gres": "gpu:a100:2",
			"time_limit": 2.0, "current_working_directory": "/shared/jobs/7",
			"standard_output": "/shared/jobs/7/log", "standard_error": "/shared/jobs/7/log", "open_mode": "append",
			"hold": true, "nice": "10",
			"environment": map[string]any{
				"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
				"LANG": "C.UTF-8", "USER": "kqi", "LOGNAME": "kqi",
			},
		},
	}
	if !reflect.DeepEqual(got, want) {
		gotJSON, _ := json.MarshalIndent(got, "", "  ")
		t.Fatalf("request body:\n%s", gotJSON)
	}
}

func TestRESTSubmitFailures(t *testing.T) {
	spec := JobSpec{Name: "j", Comment: "c", CPUs: 1, Image: HostImage, Command: "true", JobDir: "/shared/j"}
	t.Run("refused", func(t *testing.T) {
		c, _ := fakeREST(t, func(w http.ResponseWriter, r *http.Request) {
			answer(w, 500, `{"errors":[{"error_code":2053,"error":"Requested reservation is invalid"}]}`)
		})
		if _, err := c.Submit(context.Background(), "#!/bin/bash\n", spec); err == nil || !strings.Contains(err.Error(), "reservation is invalid") {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("never retried", func(t *testing.T) {
		c, calls := fakeREST(t, func(w http.ResponseWriter, r *http.Request) { answer(w, 503, "busy") })
		if _, err := c.Submit(context.Background(), "#!/bin/bash\n", spec); err == nil {
			t.Fatal("no error")
		}
		if calls.Load() != 1 {
			t.Fatalf("submit sent %d times; a retry could create a second job", calls.Load())
		}
	})
	t.Run("extra the REST path cannot send", func(t *testing.T) {
		c, calls := fakeREST(t, func(w http.ResponseWriter, r *http.Request) { answer(w, 200, `{"job_id":1}`) })
		spec := spec
		spec.Extra = []string{"--no-kill"}
		if _, err := c.Submit(context.Background(), "#!/bin/bash\n", spec); err == nil || !strings.Contains(err.Error(), "--no-kill") {
			t.Fatalf("error %v", err)
		}
		if calls.Load() != 0 {
			t.Fatal("the job was sent")
		}
	})
	t.Run("invalid spec", func(t *testing.T) {
		c, calls := fakeREST(t, func(w http.ResponseWriter, r *http.Request) { answer(w, 200, `{"job_id":1}`) })
		spec := spec
		spec.Name = "bad name"
		if _, err := c.Submit(context.Background(), "#!/bin/bash\n", spec); err == nil || calls.Load() != 0 {
			t.Fatalf("error %v after %d requests", err, calls.Load())
		}
	})
}

func TestRESTJobsFiltersAndDecodes(t *testing.T) {
	c, calls := fakeREST(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/slurm/v0.0.38/jobs" {
			t.Errorf("path %s", r.URL.Path)
		}
		answer(w, 200, `{"errors":[],"jobs":[`+v0038Job+`,{"job_id":8,"job_state":"RUNNING","user_name":"other"}]}`)
	})
	jobs, err := c.Jobs(context.Background(), []string{"42", "43"})
	if err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 1 || len(jobs) != 1 || !reflect.DeepEqual(jobs["42"], fixtureJob) {
		t.Fatalf("%d calls, jobs %+v", calls.Load(), jobs)
	}
	if _, err := c.Jobs(context.Background(), []string{"42;x"}); err == nil {
		t.Fatal("bad job id accepted")
	}
	byID, found, err := c.FindJobs(context.Background(), []string{"8"}, []string{"kqi:training:7", "kqi:training:8", ""})
	if err != nil || calls.Load() != 2 || len(found) != 1 || len(found["kqi:training:7"]) != 1 || found["kqi:training:7"][0].ID != "42" ||
		len(byID) != 1 || byID["8"].State != "RUNNING" {
		t.Fatalf("%d calls; FindJobs = %+v, %+v, %v", calls.Load(), byID, found, err)
	}
}

// GET /jobs is decoded as a stream: keys around the jobs array in any
// order, errors[] anywhere, and an answer cut short is an error, never a
// partial list taken for the whole.
func TestRESTJobsStream(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		status     int
		jobs       int
		err        string
	}{
		{"meta after the jobs", `{"jobs":[` + v0038Job + `],"meta":{"plugin":{"name":"x"}},"errors":[]}`, 200, 1, ""},
		{"meta before", `{"meta":{"a":[1,{"b":2}]},"warnings":[],"jobs":[` + v0038Job + `,` + v0038Job + `]}`, 200, 1, ""},
		{"no jobs", `{"errors":[],"jobs":[]}`, 200, 0, ""},
		{"slurm errors", `{"jobs":[],"errors":[{"error_code":1,"error":"boom"}]}`, 200, 0, "boom"},
		{"HTTP error", `{"errors":[{"error_code":2,"error":"down"}]}`, 500, 0, "down"},
		{"cut short", `{"errors":[],"jobs":[` + v0038Job, 200, 0, "decode"},
		{"not an object", `[]`, 200, 0, "decode"},
		{"jobs not an array", `{"jobs":{}}`, 200, 0, "decode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := fakeREST(t, func(w http.ResponseWriter, r *http.Request) { answer(w, tc.status, tc.body) })
			jobs, err := c.Jobs(context.Background(), []string{"42"})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("jobs %+v, error %v; want %q", jobs, err, tc.err)
				}
				return
			}
			if err != nil || len(jobs) != tc.jobs {
				t.Fatalf("jobs %+v, %v; want %d", jobs, err, tc.jobs)
			}
		})
	}
}

func TestRESTCancel(t *testing.T) {
	c, _ := fakeREST(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodDelete {
			t.Errorf("method %s", r.Method)
		}
		switch r.URL.Path {
		case "/slurm/v0.0.38/job/5":
			answer(w, 200, `{"errors":[]}`)
		default:
			answer(w, 500, `{"errors":[{"description":"unable to kill JobId=6 with signal 9: Invalid job id specified","error_number":2017,"error":"Invalid job id specified","source":"slurm_kill_job"}]}`)
		}
	})
	if err := c.Cancel(context.Background(), "5"); err != nil {
		t.Fatal(err)
	}
	if err := c.Cancel(context.Background(), "6"); !errors.Is(err, ErrJobNotFound) {
		t.Fatalf("error %v, want ErrJobNotFound", err)
	}
}

func TestRESTPartitions(t *testing.T) {
	c, _ := fakeREST(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/slurm/v0.0.38/partitions":
			answer(w, 200, `{"errors":[],"partitions":[
				{"name":"cpu","flags":["default"],"max_time_limit":1440,"total_nodes":2},
				{"name":"gpu","flags":[],"max_time_limit":null},
				{"name":"empty","flags":[],"max_time_limit":60}]}`)
		case "/slurm/v0.0.38/nodes":
			answer(w, 200, `{"errors":[],"nodes":[
				{"name":"c1","cpus":16,"real_memory":64000,"gres":"","partitions":["cpu"]},
				{"name":"g1","cpus":32,"real_memory":256000,"gres":"gpu:a100:4(S:0-1)","gres_used":"gpu:a100:1(IDX:0)","partitions":["cpu","gpu"]}]}`)
		default:
			t.Errorf("path %s", r.URL.Path)
		}
	})
	got, err := c.Partitions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []Partition{
		{Name: "cpu", Default: true, Nodes: 2, CPUs: 32, MemoryMB: 256000, GPUs: []GPU{{"a100", 4}}, MaxTime: 24 * time.Hour, FreeGPUs: 3, FreeCPUs: 32, FreeMemoryMB: 256000},
		{Name: "gpu", Nodes: 1, CPUs: 32, MemoryMB: 256000, GPUs: []GPU{{"a100", 4}}, FreeGPUs: 3, FreeCPUs: 32, FreeMemoryMB: 256000},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("partitions %+v\nwant %+v", got, want)
	}
}

// The dev cluster's recorded /partitions and /nodes answers
// (testdata/v0038: kqi-node2 mixed with 2 CPUs and 2048 MB held, vm idle),
// and the same with vm not responding and kqi-node2 drained.
func TestRESTPartitionsRecorded(t *testing.T) {
	parts, err := os.ReadFile("testdata/v0038/partitions.json")
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := os.ReadFile("testdata/v0038/nodes.json")
	if err != nil {
		t.Fatal(err)
	}
	serve := func(nodes []byte) *REST {
		c, _ := fakeREST(t, func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/slurm/v0.0.38/partitions":
				answer(w, 200, string(parts))
			case "/slurm/v0.0.38/nodes":
				answer(w, 200, string(nodes))
			default:
				t.Errorf("path %s", r.URL.Path)
			}
		})
		return c
	}
	got, err := serve(nodes).Partitions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []Partition{
		{Name: "cpu", Default: true, Nodes: 2, CPUs: 16, MemoryMB: 16000, GPUs: []GPU{{"a100", 4}}, MaxTime: 24 * time.Hour, FreeGPUs: 4, FreeCPUs: 16, FreeMemoryMB: 16000},
		{Name: "gpu-a100", Nodes: 2, CPUs: 16, MemoryMB: 16000, GPUs: []GPU{{"a100", 4}}, MaxTime: 24 * time.Hour, FreeGPUs: 4, FreeCPUs: 16, FreeMemoryMB: 16000},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("partitions %+v\nwant %+v", got, want)
	}
	var doc map[string]any
	if err := json.Unmarshal(nodes, &doc); err != nil {
		t.Fatal(err)
	}
	for _, n := range doc["nodes"].([]any) {
		n := n.(map[string]any)
		if n["name"] == "vm" {
			n["state_flags"] = []string{"NOT_RESPONDING"}
		} else {
			n["state_flags"] = []string{"DRAIN"}
		}
	}
	down, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if got, err = serve(down).Partitions(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, p := range got {
		if p.FreeCPUs != 0 || p.FreeMemoryMB != 0 || p.FreeGPUs != 0 || p.CPUs != 16 {
			t.Errorf("nodes not responding and drained: %+v", p)
		}
	}
}

func TestRESTCheckVersion(t *testing.T) {
	for _, tc := range []struct {
		paths string
		err   string
	}{
		{`{"/slurm/v0.0.38/ping":{},"/slurm/v0.0.38/jobs":{},"/openapi/v3":{}}`, ""},
		{`{"/slurm/v0.0.41/ping":{},"/slurm/v0.0.40/ping":{},"/slurmdb/v0.0.40/jobs":{}}`, "serves v0.0.40, v0.0.41, not v0.0.38"},
	} {
		c, _ := fakeREST(t, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/openapi/v3" {
				t.Errorf("path %s", r.URL.Path)
			}
			answer(w, 200, `{"openapi":"3.0.2","paths":`+tc.paths+`}`)
		})
		err := c.CheckVersion(context.Background())
		if (tc.err == "" && err != nil) || (tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err))) {
			t.Errorf("paths %s: error %v, want %q", tc.paths, err, tc.err)
		}
	}
	if _, err := NewREST(RESTConfig{URL: "http://x", User: "kqi", Signer: &TokenSigner{}, Version: "v0.0.40"}); err == nil {
		t.Error("NewREST accepted a version it cannot speak")
	}
}

// The REST path sends every option the script's #SBATCH lines carry, with
// the same value: an option added to SbatchOptions fails this test until
// v0038JobDesc sends it too.
func TestV0038JobDescMatchesSbatchOptions(t *testing.T) {
	spec := JobSpec{
		Name: "train-7", Comment: "kqi:training:7", Partition: "gpu-a100", Account: "proj",
		CPUs: 4, MemoryGiB: 8, GPUs: 2, GPUType: "a100", TimeLimit: 90 * time.Minute,
		Image: HostImage, Command: "true", JobDir: "/shared/jobs/7",
	}
	job, err := v0038JobDesc(spec, []EnvVar{{"PATH", "/bin"}})
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{
		"job-name": "name", "comment": "comment", "partition": "partition", "account": "account",
		"nodes": "nodes", "ntasks": "tasks", "cpus-per-task": "cpus_per_task", "mem": "memory_per_node",
		"gres": "gres", "time": "time_limit", "chdir": "current_working_directory",
		"output": "standard_output", "error": "standard_error", "open-mode": "open_mode",
	}
	for _, opt := range spec.SbatchOptions() {
		name, value, _ := strings.Cut(strings.TrimPrefix(opt, "--"), "=")
		key, ok := keys[name]
		if !ok {
			t.Errorf("#SBATCH %s is not sent through slurmrestd", opt)
			continue
		}
		got := fmt.Sprint(job[key])
		if name == "mem" {
			gib, err := strconv.Atoi(strings.TrimSuffix(value, "G"))
			if err != nil {
				t.Fatalf("#SBATCH %s: %v", opt, err)
			}
			value = strconv.Itoa(gib * 1024) // the script says GiB, slurmrestd takes MB
		}
		if got != value {
			t.Errorf("#SBATCH %s: slurmrestd gets %s=%s", opt, key, got)
		}
	}
}
