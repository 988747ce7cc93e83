package slurm

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
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
		{"pending on resources", Observation{States: []string{"PENDING"}, Reason: "Resources"}, Outcome{StatusQueued, Cause{CauseSlurm, "Resources"}, 0}},
		{"pending none reason", Observation{States: []string{"PENDING"}, Reason: "None"}, Outcome{StatusQueued, Cause{}, 0}},
		{"pending requeued (v0.0.40 flags)", Observation{States: []string{"PENDING", "REQUEUED"}, Reason: "BeginTime"}, Outcome{StatusQueued, Cause{CauseRequeued, "BeginTime"}, 0}},
		{"requeued, waiting its begin time", Observation{States: []string{"PENDING"}, Reason: "BeginTime", Restarts: 1}, Outcome{StatusQueued, Cause{CauseRequeuedAttempt, "2"}, 0}},
		{"requeued, held", Observation{States: []string{"PENDING"}, Reason: "JobHeldAdmin", Restarts: 1}, Outcome{StatusQueued, Cause{CauseSlurm, "JobHeldAdmin"}, 0}},
		{"running again", Observation{States: []string{"RUNNING"}, Restarts: 2}, Outcome{StatusRunning, Cause{CauseRerunning, "3"}, 0}},
		{"configuring alone (v0.0.38)", Observation{States: []string{"CONFIGURING"}}, Outcome{StatusQueued, Cause{CauseNodesStarting, ""}, 0}},
		{"running configuring", Observation{States: []string{"RUNNING", "CONFIGURING"}}, Outcome{StatusQueued, Cause{CauseNodesStarting, ""}, 0}},
		{"running", Observation{States: []string{"RUNNING"}, Reason: "None"}, Outcome{StatusRunning, Cause{}, 0}},
		{"running with a flag from a later Slurm", Observation{States: []string{"RUNNING", "NEW_FLAG"}}, Outcome{StatusRunning, Cause{}, 0}},
		{"running lower case", Observation{States: []string{"running"}}, Outcome{StatusRunning, Cause{}, 0}},
		{"completing alone (v0.0.38)", Observation{States: []string{"COMPLETING"}}, Outcome{StatusRunning, Cause{}, 0}},
		{"suspended", Observation{States: []string{"SUSPENDED"}}, Outcome{StatusRunning, Cause{CauseSuspended, ""}, 0}},
		{"completed exit 0", Observation{States: []string{"COMPLETED"}, Record: ok}, Outcome{StatusCompleted, Cause{}, 0}},
		{"completed while completing", Observation{States: []string{"COMPLETED", "COMPLETING"}, Record: ok}, Outcome{StatusCompleted, Cause{}, 0}},
		{"completed without record", Observation{States: []string{"COMPLETED"}, Record: none}, Outcome{StatusError, Cause{CauseNoExitCode, ""}, 0}},
		{"failed exit 3", Observation{States: []string{"FAILED"}, ExitCode: 3, Record: three}, Outcome{StatusFailed, Cause{}, 3}},
		{"failed clone", Observation{States: []string{"FAILED"}, ExitCode: 1, Record: clone}, Outcome{StatusError, Cause{CauseCloneFailed, "git clone https://g/m.git exited with 128"}, 0}},
		{"failed without record", Observation{States: []string{"FAILED"}, ExitCode: 1, Reason: "NonZeroExitCode", Record: none},
			Outcome{StatusError, Cause{CauseScriptFailed, "1 NonZeroExitCode"}, 0}},
		{"failed on a full disk", Observation{States: []string{"FAILED"}, ExitCode: 1, Reason: "NonZeroExitCode",
			Record: Record{LogTail: []byte("head: error writing 'standard output': No space left on device\n")}},
			Outcome{StatusError, Cause{CauseNoSpace, "1"}, 0}},
		{"completed on a full disk", Observation{States: []string{"COMPLETED"}, Record: Record{LogTail: []byte("[kqi] could not record: No space left on device\n")}},
			Outcome{StatusError, Cause{CauseNoSpace, "0"}, 0}},
		{"full disk in the log but a record", Observation{States: []string{"FAILED"}, ExitCode: 1, Record: Record{ExitCode: []byte("1\n"), LogTail: []byte("No space left on device")}},
			Outcome{StatusFailed, Cause{}, 1}},
		{"failed unreadable record", Observation{States: []string{"FAILED"}, Record: Record{ExitCode: []byte("x")}}, Outcome{StatusError, Cause{CauseUnreadableExitCode, `"x"`}, 0}},
		{"cancelled by its user", Observation{States: []string{"CANCELLED"}, Record: three, StopRequested: true}, Outcome{StatusKilled, Cause{CauseStoppedByUser, ""}, 0}},
		{"cancelled outside KQI", Observation{States: []string{"CANCELLED"}, Record: three}, Outcome{StatusError, Cause{CauseCancelledOutside, ""}, 0}},
		{"cancelled with a reason that restates it", Observation{States: []string{"CANCELLED"}, Reason: "Cancelled"}, Outcome{StatusError, Cause{CauseCancelledOutside, ""}, 0}},
		{"cancelled while pending", Observation{States: []string{"CANCELLED"}, Reason: "Dependency"}, Outcome{StatusError, Cause{CauseCancelledOutside, "Dependency"}, 0}},
		{"timeout", Observation{States: []string{"TIMEOUT"}, Record: none}, Outcome{StatusError, Cause{CauseTimeLimit, ""}, 0}},
		{"out of memory despite a record", Observation{States: []string{"OUT_OF_MEMORY"}, Record: three}, Outcome{StatusError, Cause{CauseOutOfMemory, ""}, 0}},
		{"out of memory names the limit", Observation{States: []string{"OUT_OF_MEMORY"}, Record: three, MemoryGiB: 4}, Outcome{StatusError, Cause{CauseOutOfMemoryLimit, "4"}, 0}},
		{"time limit despite a record", Observation{States: []string{"TIMEOUT"}, Record: three, MemoryGiB: 4}, Outcome{StatusError, Cause{Code: CauseTimeLimit}, 0}},
		{"node fail", Observation{States: []string{"NODE_FAIL"}}, Outcome{StatusError, Cause{CauseNodeFail, ""}, 0}},
		{"boot fail", Observation{States: []string{"BOOT_FAIL"}}, Outcome{StatusError, Cause{CauseBootFail, ""}, 0}},
		{"deadline", Observation{States: []string{"DEADLINE"}}, Outcome{StatusError, Cause{CauseDeadline, ""}, 0}},
		{"preempted", Observation{States: []string{"PREEMPTED"}}, Outcome{StatusError, Cause{CausePreempted, ""}, 0}},
		{"preempted and requeued", Observation{States: []string{"PREEMPTED", "REQUEUED"}}, Outcome{StatusQueued, Cause{CausePreemptedRequeued, ""}, 0}},
		{"requeued alone", Observation{States: []string{"REQUEUED"}}, Outcome{StatusQueued, Cause{CauseRequeued, ""}, 0}},
		{"requeue hold", Observation{States: []string{"REQUEUE_HOLD"}, Reason: "JobHeldAdmin"}, Outcome{StatusQueued, Cause{CauseRequeued, "JobHeldAdmin"}, 0}},
		{"vanished with exit 0", Observation{Gone: true, Record: ok}, Outcome{StatusCompleted, Cause{}, 0}},
		{"vanished with exit 3", Observation{Gone: true, Record: three}, Outcome{StatusFailed, Cause{}, 3}},
		{"vanished with clone failure", Observation{Gone: true, Record: clone}, Outcome{StatusError, Cause{CauseCloneFailed, "git clone https://g/m.git exited with 128"}, 0}},
		{"vanished without record", Observation{Gone: true, Record: none}, Outcome{StatusError, Cause{CauseVanished, ""}, 0}},
		{"vanished with empty exit file", Observation{Gone: true, Record: Record{ExitCode: []byte{}}}, Outcome{StatusError, Cause{CauseUnreadableExitCode, `""`}, 0}},
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
	if r.LogTail != nil {
		t.Errorf("LogTail read although there is an exit code: %q", r.LogTail)
	}
}

// Without an exit code the end of the log is read, bounded, to tell why.
func TestReadRecordLogTail(t *testing.T) {
	dir := t.TempDir()
	long := strings.Repeat("x", 3*logTailSize) + "the end\n"
	if err := os.WriteFile(filepath.Join(dir, LogFile), []byte(long), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := ReadRecord(dir)
	if err != nil || len(r.LogTail) != logTailSize || !strings.HasSuffix(string(r.LogTail), "the end\n") {
		t.Fatalf("long log: %d bytes ending %q, %v; want the last %d", len(r.LogTail), r.LogTail[max(0, len(r.LogTail)-8):], err, logTailSize)
	}
	if err := os.WriteFile(filepath.Join(dir, LogFile), []byte("short\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r, err = ReadRecord(dir); err != nil || string(r.LogTail) != "short\n" {
		t.Fatalf("short log: %q, %v", r.LogTail, err)
	}
}
