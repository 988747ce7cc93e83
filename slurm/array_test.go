package slurm

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestParseTaskString(t *testing.T) {
	for in, want := range map[string][]int{
		"1-4%1":    {1, 2, 3, 4},
		"0,3,5-7":  {0, 3, 5, 6, 7},
		"0-6:3":    {0, 3, 6},
		"2":        {2},
		"":         nil,
		"x,1":      {1},
		"1-2%2,5":  {1, 2}, // the throttle ends the list, as Slurm prints it last
		"3-1":      nil,
		"0-4:0,9":  {9},
		"-1,0":     {0},
		"7-x,8-8":  {8},
		"1-3:x,10": {10},
	} {
		if got := parseTaskString(in); !reflect.DeepEqual(got, want) {
			t.Errorf("parseTaskString(%q) = %v, want %v", in, got, want)
		}
	}
}

// The records below are as the dev cluster's slurmrestd v0.0.38 answered
// GET /jobs for `sbatch --array=0-4%1` (task 0 running, 1-4 pending as one
// record) and a single job.
func TestRESTArrayRecords(t *testing.T) {
	for _, tc := range []struct {
		name, record string
		ids          []string
	}{
		{"running task", `{"job_id": 9335, "array_job_id": 9334, "array_task_id": 0, "array_task_string": "", "job_state": "RUNNING", "comment": "c"}`, []string{"9334_0"}},
		{"pending rest", `{"job_id": 9334, "array_job_id": 9334, "array_task_id": null, "array_task_string": "1-4%1", "job_state": "PENDING", "comment": "c", "state_reason": "JobArrayTaskLimit"}`,
			[]string{"9334_1", "9334_2", "9334_3", "9334_4"}},
		{"last task split off", `{"job_id": 9331, "array_job_id": 9331, "array_task_id": 2, "array_task_string": "", "job_state": "FAILED"}`, []string{"9331_2"}},
		{"single job", `{"job_id": 9336, "array_job_id": 0, "array_task_id": null, "array_task_string": "", "job_state": "COMPLETED"}`, []string{"9336"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var j restJob
			if err := json.Unmarshal([]byte(tc.record), &j); err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, info := range j.infos() {
				ids = append(ids, info.ID)
				if info.State != strings.ToUpper(info.State) || info.State == "" {
					t.Errorf("task %s: state %q", info.ID, info.State)
				}
			}
			if !reflect.DeepEqual(ids, tc.ids) {
				t.Fatalf("ids %v, want %v", ids, tc.ids)
			}
		})
	}
}

// squeue --array prints one line per task, pending ones included, with
// JobArrayID as "123_4".
func TestSqueueArrayTasks(t *testing.T) {
	line := func(id, state string) string {
		return strings.Join([]string{id, "preprocess-x-1", "kqi:i:preprocess:1", state, "None", "", "1700000000", "0", "0", "0", "0"}, unitSep) + recordSep
	}
	jobs, err := parseSqueue([]byte(line("9334_0", "RUNNING") + line("9334_1", "PENDING") + line("9340", "PENDING")))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"9334_0", "9334_1", "9340"} {
		if _, ok := jobs[id]; !ok {
			t.Errorf("no job %s in %v", id, jobs)
		}
	}
	if args := strings.Join(squeueArgs("--jobs=1_0"), " "); !strings.Contains(args, "--array") || !strings.Contains(args, "JobArrayID") {
		t.Errorf("squeue does not list array tasks one by one: %s", args)
	}
}

func TestArraySpec(t *testing.T) {
	spec := baseSpec()
	spec.ArraySize, spec.ArrayLimit = 3, 2
	opts := strings.Join(spec.SbatchOptions(), " ")
	for _, want := range []string{"--array=0-2%2", "--output=" + spec.JobDir + "/%a/log", "--error=" + spec.JobDir + "/%a/log"} {
		if !strings.Contains(opts, want) {
			t.Errorf("options %s lack %s", opts, want)
		}
	}
	job, err := v0038JobDesc(spec, []EnvVar{{"PATH", "/bin"}})
	if err != nil {
		t.Fatal(err)
	}
	if job["array"] != "0-2%2" || job["standard_output"] != spec.JobDir+"/%a/log" {
		t.Errorf("REST job %v", job)
	}
	script, err := RenderArray(spec)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(script, "#SBATCH --array=0-2%2\n") || !strings.Contains(script, `exec /bin/bash -- "$kqi_array/$kqi_task/script.sh"`) {
		t.Errorf("array script:\n%s", script)
	}
	for _, bad := range []struct{ size, limit int }{{-1, 0}, {MaxArraySize + 1, 0}, {0, 2}, {2, -1}} {
		s := baseSpec()
		s.ArraySize, s.ArrayLimit = bad.size, bad.limit
		if s.Validate() == nil {
			t.Errorf("array of %d limited to %d accepted", bad.size, bad.limit)
		}
	}
	single := baseSpec()
	if _, err := RenderArray(single); err == nil {
		t.Error("a single job rendered as an array")
	}
	if got := TaskID("9334", 2); got != "9334_2" || ArrayJobOf(got) != "9334" || ArrayJobOf("77") != "77" {
		t.Errorf("task id %s", got)
	}
}
