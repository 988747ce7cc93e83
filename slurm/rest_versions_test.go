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
	// v0.0.39: numbers become {set, infinite, number}; job_state a string.
	v0039Job = `{"job_id":42,"name":"train-7","comment":"kqi:training:7","user_name":"kqi",
		"job_state":"FAILED","state_reason":"NonZeroExitCode","nodes":"vm",
		"submit_time":{"set":true,"infinite":false,"number":1795616686},
		"start_time":{"set":true,"infinite":false,"number":1795616688},
		"end_time":{"set":true,"infinite":false,"number":1795616690},
		"exit_code":{"set":true,"infinite":false,"number":768},
		"time_limit":{"set":true,"infinite":false,"number":5}}`
	// v0.0.40: job_state a list, exit_code an object.
	v0040Job = `{"job_id":42,"name":"train-7","comment":"kqi:training:7","user_name":"kqi",
		"job_state":["FAILED"],"state_reason":"NonZeroExitCode","nodes":"vm",
		"submit_time":{"set":true,"infinite":false,"number":1795616686},
		"start_time":{"set":true,"infinite":false,"number":1795616688},
		"end_time":{"set":true,"infinite":false,"number":1795616690},
		"exit_code":{"status":["EXITED"],"return_code":{"set":true,"infinite":false,"number":3},
			"signal":{"id":{"set":false,"infinite":false,"number":0},"name":""}},
		"time_limit":{"set":true,"infinite":false,"number":5}}`
	// v0.0.41: as v0.0.40, with more fields the portal does not read.
	v0041Job = `{"job_id":42,"name":"train-7","comment":"kqi:training:7","user_name":"kqi",
		"job_state":["FAILED"],"state_reason":"NonZeroExitCode","nodes":"vm",
		"submit_time":{"set":true,"infinite":false,"number":1795616686},
		"start_time":{"set":true,"infinite":false,"number":1795616688},
		"end_time":{"set":true,"infinite":false,"number":1795616690},
		"exit_code":{"status":["EXITED"],"return_code":{"set":true,"infinite":false,"number":3},
			"signal":{"id":{"set":false,"infinite":false,"number":0},"name":""}},
		"shared":[],"exclusive":["false"],"stdout_expanded":"/shared/jobs/7/log"}`
)

var fixtureJob = JobInfo{
	ID: "42", Name: "train-7", Comment: "kqi:training:7", State: "FAILED", Reason: "NonZeroExitCode", Node: "vm",
	SubmitTime: time.Unix(1795616686, 0).UTC(), StartTime: time.Unix(1795616688, 0).UTC(), EndTime: time.Unix(1795616690, 0).UTC(),
	ExitCode: 3,
}

func TestRESTJobShapes(t *testing.T) {
	for version, raw := range map[string]string{"v0.0.38": v0038Job, "v0.0.39": v0039Job, "v0.0.40": v0040Job, "v0.0.41": v0041Job} {
		t.Run(version, func(t *testing.T) {
			var j restJob
			if err := json.Unmarshal([]byte(raw), &j); err != nil {
				t.Fatal(err)
			}
			if got := j.info(); !reflect.DeepEqual(got, fixtureJob) {
				t.Fatalf("got  %+v\nwant %+v", got, fixtureJob)
			}
		})
	}
}

// A pending, requeued job killed by a signal earlier, in the list shape.
func TestRESTJobFlagsAndSignal(t *testing.T) {
	for name, raw := range map[string]string{
		"v0.0.38": `{"job_id":9,"job_state":"PENDING","state_reason":"BeginTime","exit_code":9,"start_time":1795616688,"end_time":4294967295}`,
		"v0.0.40": `{"job_id":9,"job_state":["PENDING","REQUEUED"],"state_reason":"BeginTime",
			"exit_code":{"status":["SIGNALED"],"return_code":{"set":false,"infinite":false,"number":0},"signal":{"id":{"set":true,"infinite":false,"number":9},"name":"KILL"}},
			"start_time":{"set":true,"infinite":false,"number":1795616688},"end_time":{"set":false,"infinite":true,"number":0}}`,
	} {
		t.Run(name, func(t *testing.T) {
			var j restJob
			if err := json.Unmarshal([]byte(raw), &j); err != nil {
				t.Fatal(err)
			}
			got := j.info()
			want := JobInfo{ID: "9", State: "PENDING", Reason: "BeginTime", Signal: 9}
			if name == "v0.0.40" {
				want.Flags = []string{"REQUEUED"}
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got  %+v\nwant %+v", got, want)
			}
		})
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
		{`{"set":true,"infinite":false,"number":7}`, noVal{Set: true, Number: 7}},
		{`{"set":false,"infinite":false,"number":0}`, noVal{}},
		{`{"set":false,"infinite":true,"number":0}`, noVal{Infinite: true}},
	} {
		var n noVal
		if err := json.Unmarshal([]byte(tc.in), &n); err != nil || n != tc.want {
			t.Errorf("%s → %+v, %v; want %+v", tc.in, n, err, tc.want)
		}
	}
	for _, bad := range []string{`"5"`, `[1]`, `{"number":"x"}`} {
		var n noVal
		if err := json.Unmarshal([]byte(bad), &n); err == nil {
			t.Errorf("%s accepted as %+v", bad, n)
		}
	}
	if (noVal{Infinite: true, Set: true, Number: 3}).value() != 0 {
		t.Error("an infinite value must read as 0 (no limit)")
	}
}

func TestStateList(t *testing.T) {
	for in, want := range map[string]stateList{
		`"RUNNING"`:                  {"RUNNING"},
		`["PENDING","REQUEUED"]`:     {"PENDING", "REQUEUED"},
		`null`:                       nil,
		`["COMPLETING","CANCELLED"]`: {"COMPLETING", "CANCELLED"},
	} {
		var s stateList
		if err := json.Unmarshal([]byte(in), &s); err != nil || !reflect.DeepEqual(s, want) {
			t.Errorf("%s → %q, %v", in, s, err)
		}
	}
	var s stateList
	if err := json.Unmarshal([]byte(`5`), &s); err == nil {
		t.Error("a number accepted as job_state")
	}
}
