package slurm

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestDecide(t *testing.T) {
	ok := Record{ExitCode: []byte("0\n")}
	three := Record{ExitCode: []byte("3\n")}
	clone := Record{Error: []byte("clone failed: git clone https://g/m.git exited with 128\n")}
	none := Record{}
	for _, tc := range []struct {
		name string
		obs  Observation
		want Outcome
	}{
		{"pending on resources", Observation{States: []string{"PENDING"}, Reason: "Resources"}, Outcome{StatusQueued, "Resources", 0}},
		{"pending none reason", Observation{States: []string{"PENDING"}, Reason: "None"}, Outcome{StatusQueued, "", 0}},
		{"pending requeued (v0.0.40 flags)", Observation{States: []string{"PENDING", "REQUEUED"}, Reason: "BeginTime"}, Outcome{StatusQueued, "requeued (BeginTime)", 0}},
		{"configuring alone (v0.0.38)", Observation{States: []string{"CONFIGURING"}}, Outcome{StatusQueued, "nodes are starting", 0}},
		{"running configuring", Observation{States: []string{"RUNNING", "CONFIGURING"}}, Outcome{StatusQueued, "nodes are starting", 0}},
		{"running", Observation{States: []string{"RUNNING"}, Reason: "None"}, Outcome{StatusRunning, "", 0}},
		{"running with a flag from a later Slurm", Observation{States: []string{"RUNNING", "NEW_FLAG"}}, Outcome{StatusRunning, "", 0}},
		{"running lower case", Observation{States: []string{"running"}}, Outcome{StatusRunning, "", 0}},
		{"completing alone (v0.0.38)", Observation{States: []string{"COMPLETING"}}, Outcome{StatusRunning, "", 0}},
		{"suspended", Observation{States: []string{"SUSPENDED"}}, Outcome{StatusRunning, "suspended by Slurm", 0}},
		{"completed exit 0", Observation{States: []string{"COMPLETED"}, Record: ok}, Outcome{StatusCompleted, "", 0}},
		{"completed while completing", Observation{States: []string{"COMPLETED", "COMPLETING"}, Record: ok}, Outcome{StatusCompleted, "", 0}},
		{"completed without record", Observation{States: []string{"COMPLETED"}, Record: none}, Outcome{StatusError, "job ended without recording an exit code", 0}},
		{"failed exit 3", Observation{States: []string{"FAILED"}, ExitCode: 3, Record: three}, Outcome{StatusFailed, "", 3}},
		{"failed clone", Observation{States: []string{"FAILED"}, ExitCode: 1, Record: clone}, Outcome{StatusError, "clone failed: git clone https://g/m.git exited with 128", 0}},
		{"failed without record", Observation{States: []string{"FAILED"}, ExitCode: 1, Reason: "NonZeroExitCode", Record: none},
			Outcome{StatusError, "the job script failed before the command ended (exit code 1) (NonZeroExitCode)", 0}},
		{"failed unreadable record", Observation{States: []string{"FAILED"}, Record: Record{ExitCode: []byte("x")}}, Outcome{StatusError, `unreadable exit_code file: "x"`, 0}},
		{"cancelled", Observation{States: []string{"CANCELLED"}, Record: three}, Outcome{StatusKilled, "cancelled", 0}},
		{"cancelled while pending", Observation{States: []string{"CANCELLED"}, Reason: "Dependency"}, Outcome{StatusKilled, "cancelled (Dependency)", 0}},
		{"timeout", Observation{States: []string{"TIMEOUT"}, Record: none}, Outcome{StatusError, "time limit reached", 0}},
		{"out of memory despite a record", Observation{States: []string{"OUT_OF_MEMORY"}, Record: three}, Outcome{StatusError, "out of memory", 0}},
		{"node fail", Observation{States: []string{"NODE_FAIL"}}, Outcome{StatusError, "node failure", 0}},
		{"boot fail", Observation{States: []string{"BOOT_FAIL"}}, Outcome{StatusError, "the node failed to boot", 0}},
		{"deadline", Observation{States: []string{"DEADLINE"}}, Outcome{StatusError, "deadline passed before the job could finish", 0}},
		{"preempted", Observation{States: []string{"PREEMPTED"}}, Outcome{StatusError, "preempted by a higher-priority job", 0}},
		{"preempted and requeued", Observation{States: []string{"PREEMPTED", "REQUEUED"}}, Outcome{StatusQueued, "preempted, requeued", 0}},
		{"requeued alone", Observation{States: []string{"REQUEUED"}}, Outcome{StatusQueued, "requeued", 0}},
		{"requeue hold", Observation{States: []string{"REQUEUE_HOLD"}, Reason: "JobHeldAdmin"}, Outcome{StatusQueued, "requeued (JobHeldAdmin)", 0}},
		{"vanished with exit 0", Observation{Gone: true, Record: ok}, Outcome{StatusCompleted, "", 0}},
		{"vanished with exit 3", Observation{Gone: true, Record: three}, Outcome{StatusFailed, "", 3}},
		{"vanished with clone failure", Observation{Gone: true, Record: clone}, Outcome{StatusError, "clone failed: git clone https://g/m.git exited with 128", 0}},
		{"vanished without record", Observation{Gone: true, Record: none}, Outcome{StatusError, "job vanished from Slurm without recording an exit code", 0}},
		{"vanished with empty exit file", Observation{Gone: true, Record: Record{ExitCode: []byte{}}}, Outcome{StatusError, `unreadable exit_code file: ""`, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decide(tc.obs)
			if err != nil {
				t.Fatalf("Decide: %v", err)
			}
			if got != tc.want {
				t.Errorf("Decide = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestDecideUnknownState(t *testing.T) {
	for _, states := range [][]string{{"EXPLODED"}, {}, {"NEW_FLAG", "COMPLETING"}} {
		if _, err := Decide(Observation{States: states}); !errors.Is(err, ErrUnknownState) {
			t.Errorf("Decide(%q) error = %v, want ErrUnknownState", states, err)
		}
	}
}

func TestStatusFinal(t *testing.T) {
	for s, final := range map[Status]bool{
		StatusSubmitting: false, StatusQueued: false, StatusRunning: false,
		StatusCompleted: true, StatusFailed: true, StatusKilled: true, StatusError: true,
	} {
		if s.Final() != final {
			t.Errorf("%s.Final() = %v", s, !final)
		}
	}
}

func TestReadRecord(t *testing.T) {
	dir := t.TempDir()
	r, err := ReadRecord(dir)
	if err != nil || r.ExitCode != nil || r.Error != nil {
		t.Fatalf("empty directory: %+v, %v; want both absent", r, err)
	}
	if err := os.WriteFile(filepath.Join(dir, ExitCodeFile), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ErrorFile), []byte("image failed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err = ReadRecord(dir)
	if err != nil || r.ExitCode == nil || len(r.ExitCode) != 0 || string(r.Error) != "image failed\n" {
		t.Errorf("ReadRecord = %+v, %v; want an empty (present) exit code and the error", r, err)
	}
	if _, err := ReadRecord(filepath.Join(dir, ExitCodeFile)); err == nil {
		t.Error("ReadRecord of a file, not a directory: no error")
	}
}
