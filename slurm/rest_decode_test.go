package slurm

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// Hand-written job records in the shapes of each slurmrestd version, all
// describing the same job: it ran on vm and its script exited with 3.
const (
	// v0.0.38: plain numbers, job_state a string, exit_code the raw wait
	// status (3<<8).
	v0038Job = `{"job_id":42,"name":"train-7","comment":"kqi:training:7","user_name":"kqi",
		"job_state":"FAILED","state_reason":"NonZeroExitCode","nodes":"vm","batch_host":"vm",
		"submit_time":1795616686,"start_time":1795616688,"end_time":1795616690,
		"exit_code":768,"derived_exit_code":0,"time_limit":5,"array_task_id":null}`
)

var fixtureJob = JobInfo{
	ID: "42", Name: "train-7", Comment: "kqi:training:7", State: "FAILED", Reason: "NonZeroExitCode", Node: "vm",
	SubmitTime: time.Unix(1795616686, 0).UTC(), StartTime: time.Unix(1795616688, 0).UTC(), EndTime: time.Unix(1795616690, 0).UTC(),
	ExitCode: 3,
}

func TestRESTJob(t *testing.T) {
	var j restJob
	if err := json.Unmarshal([]byte(v0038Job), &j); err != nil {
		t.Fatal(err)
	}
	if got := j.info(); !reflect.DeepEqual(got, fixtureJob) {
		t.Fatalf("got  %+v\nwant %+v", got, fixtureJob)
	}
	// Later versions' shapes (v0.0.39 no-val structs, v0.0.40 state lists
	// and exit_code objects) are errors, never misread as something else.
	for name, raw := range map[string]string{
		"no-val struct":    `{"job_id":{"set":true,"infinite":false,"number":42},"job_state":"FAILED"}`,
		"state list":       `{"job_id":42,"job_state":["PENDING","REQUEUED"]}`,
		"exit_code object": `{"job_id":42,"job_state":"FAILED","exit_code":{"status":["EXITED"],"return_code":3}}`,
	} {
		if err := json.Unmarshal([]byte(raw), &j); err == nil {
			t.Errorf("%s accepted as %+v", name, j.info())
		}
	}
}

// A pending job that a signal killed earlier: infinite end, signal 9.
func TestRESTJobSignal(t *testing.T) {
	var j restJob
	raw := `{"job_id":9,"job_state":"PENDING","state_reason":"BeginTime","exit_code":9,"start_time":1795616688,"end_time":4294967295}`
	if err := json.Unmarshal([]byte(raw), &j); err != nil {
		t.Fatal(err)
	}
	if got, want := j.info(), (JobInfo{ID: "9", State: "PENDING", Reason: "BeginTime", Signal: 9}); !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
}

func TestNoVal(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want noVal
	}{
		{`5`, noVal{Set: true, Number: 5}},
		{`5.0`, noVal{Set: true, Number: 5}},
		{`null`, noVal{}},
		{`4294967295`, noVal{Infinite: true}},
		{`4294967294`, noVal{}},
	} {
		var n noVal
		if err := json.Unmarshal([]byte(tc.in), &n); err != nil || n != tc.want {
			t.Errorf("%s → %+v, %v; want %+v", tc.in, n, err, tc.want)
		}
	}
	for _, bad := range []string{`"5"`, `[1]`, `{"number":"x"}`, `{"set":true,"infinite":false,"number":7}`} {
		var n noVal
		if err := json.Unmarshal([]byte(bad), &n); err == nil {
			t.Errorf("%s accepted as %+v", bad, n)
		}
	}
	if (noVal{Infinite: true, Set: true, Number: 3}).value() != 0 {
		t.Error("an infinite value must read as 0 (no limit)")
	}
}
