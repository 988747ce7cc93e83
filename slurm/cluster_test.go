package slurm

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseGRES(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []GPU
	}{
		{"gpu:a100:4", []GPU{{"a100", 4}}},
		{"gpu:4", []GPU{{"", 4}}},
		{"gpu:a100:4(S:0-1)", []GPU{{"a100", 4}}},
		{"gpu:a100:2(S:0,1),gpu:v100:2(S:1),mps:100", []GPU{{"a100", 2}, {"v100", 2}}},
		{"(null)", nil},
		{"", nil},
		{"mps:200", nil},
	} {
		if got := parseGRES(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseGRES(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"1-00:00:00", 24 * time.Hour},
		{"2-03:04:05", 51*time.Hour + 4*time.Minute + 5*time.Second},
		{"12:30:00", 12*time.Hour + 30*time.Minute},
		{"45:10", 45*time.Minute + 10*time.Second},
		{"30", 30 * time.Minute},
		{"1-12", 36 * time.Hour},
		{"infinite", 0},
		{"UNLIMITED", 0},
	} {
		got, err := parseDuration(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("parseDuration(%q) = %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"x", "1:2:3:4", "a-01:00:00"} {
		if _, err := parseDuration(bad); err == nil {
			t.Errorf("parseDuration(%q) accepted", bad)
		}
	}
}

func TestNormalize(t *testing.T) {
	at := time.Unix(1795616635, 0).UTC()
	pending := JobInfo{State: "pending", Reason: "None", Node: "n/a", Comment: "(null)", StartTime: at, EndTime: at}
	pending.normalize()
	if !reflect.DeepEqual(pending, JobInfo{State: "PENDING"}) {
		t.Errorf("pending job normalized to %+v", pending)
	}
	running := JobInfo{State: "RUNNING", Node: "vm", StartTime: at, EndTime: at.Add(time.Hour)}
	running.normalize()
	if running.StartTime != at || !running.EndTime.IsZero() {
		t.Errorf("running job normalized to %+v: keeps its start, drops its expected end", running)
	}
	completing := JobInfo{State: "COMPLETING", EndTime: at}
	completing.normalize()
	if completing.Ended() || !completing.EndTime.IsZero() {
		t.Errorf("a completing job has not ended: %+v", completing)
	}
	done := JobInfo{State: "TIMEOUT", EndTime: at}
	done.normalize()
	if !done.Ended() || done.EndTime != at {
		t.Errorf("ended job normalized to %+v", done)
	}
}

// Observe feeds Decide: a job Slurm still knows is decided by its state, a
// job it forgot only by what the script wrote, never assumed successful.
func TestObserveDecide(t *testing.T) {
	zero, three := []byte("0\n"), []byte("3\n")
	for _, tc := range []struct {
		name   string
		info   JobInfo
		found  bool
		rec    Record
		status Status
		cause  Cause
		code   int
	}{
		{"pending", JobInfo{State: "PENDING", Reason: "Resources"}, true, Record{}, StatusQueued, Cause{CauseSlurm, "Resources"}, 0},
		{"running", JobInfo{State: "RUNNING"}, true, Record{}, StatusRunning, Cause{}, 0},
		{"completed", JobInfo{State: "COMPLETED"}, true, Record{ExitCode: zero}, StatusCompleted, Cause{}, 0},
		{"failed", JobInfo{State: "FAILED", ExitCode: 3}, true, Record{ExitCode: three}, StatusFailed, Cause{}, 3},
		{"cancelled", JobInfo{State: "CANCELLED"}, true, Record{}, StatusError, Cause{CauseCancelledOutside, ""}, 0},
		{"timeout", JobInfo{State: "TIMEOUT"}, true, Record{}, StatusError, Cause{CauseTimeLimit, ""}, 0},
		{"requeued", JobInfo{State: "REQUEUED"}, true, Record{}, StatusQueued, Cause{CauseRequeued, ""}, 0},
		{"gone with exit 0", JobInfo{}, false, Record{ExitCode: zero}, StatusCompleted, Cause{}, 0},
		{"gone with exit 3", JobInfo{}, false, Record{ExitCode: three}, StatusFailed, Cause{}, 3},
		{"gone without record", JobInfo{}, false, Record{}, StatusError, Cause{CauseVanished, ""}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := Decide(Observe(tc.info, tc.found, tc.rec))
			if err != nil {
				t.Fatal(err)
			}
			if o.Status != tc.status || o.Cause != tc.cause || o.ExitCode != tc.code {
				t.Fatalf("outcome %+v, want %s %+v %d", o, tc.status, tc.cause, tc.code)
			}
		})
	}
}

func TestCheckJobIDs(t *testing.T) {
	if err := checkJobIDs([]string{"1", "4294967294", "1_2", "9334_0"}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "1,2", "1;reboot", "-1", "1 2", "12345678901", "1_", "_2", "1_2_3", "1_[0-2]"} {
		if err := checkJobIDs([]string{"1", bad}); err == nil {
			t.Errorf("job id %q accepted", bad)
		}
	}
}

// Every #SBATCH option a user may add has a decided fate on the REST path:
// translated to a v0.0.38 field, or refused with a reason. An option
// added to the allowed list in quote.go fails this test until it is.
func TestV0038ExtrasCoverAllowedOptions(t *testing.T) {
	for name, reason := range sbatchOptions {
		if reason != "" {
			continue
		}
		o, ok := v0038Extras[name]
		if !ok {
			t.Errorf("allowed #SBATCH option --%s has no slurmrestd v0.0.38 mapping", name)
			continue
		}
		if o.key == "" && o.why == "" {
			t.Errorf("--%s: neither a field nor a reason", name)
		}
	}
	for name := range v0038Extras {
		if reason, ok := sbatchOptions[name]; !ok || reason != "" {
			t.Errorf("v0038Extras maps --%s, which users may not set", name)
		}
	}
}

func TestV0038Extra(t *testing.T) {
	for _, tc := range []struct {
		opt   string
		key   string
		value any
		err   string
	}{
		{"--hold", "hold", true, ""},
		{"--nice=10", "nice", "10", ""},
		{"--nice", "nice", "100", ""},
		{"--exclusive", "", nil, "cannot be sent"},
		{"--constraint=a100&nvlink", "constraints", "a100&nvlink", ""},
		{"--use-min-nodes", "minimum_nodes", true, ""},
		{"--hold=1", "", nil, "takes no value"},
		{"--mail-type", "", nil, "needs a value"},
		{"--no-kill", "", nil, "cannot parse it"},
		{"--reboot", "", nil, "disabled key"},
		{"--output=/tmp/x", "", nil, "cannot be sent"},
	} {
		key, value, err := v0038Extra(tc.opt)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want one containing %q", tc.opt, err, tc.err)
			}
			continue
		}
		if err != nil || key != tc.key || value != tc.value {
			t.Errorf("%s = %q %#v %v, want %q %#v", tc.opt, key, value, err, tc.key, tc.value)
		}
	}
}

func TestPartitionBuilder(t *testing.T) {
	b := newPartitionBuilder()
	g2 := nodeNow{Up: true, AllocCPUs: 60, AllocMemMB: 1000, GRESUsed: "gpu:a100:0(IDX:N/A),gpu:h100:2(IDX:0-1)"}
	b.node("gpu", "g1", 32, 256000, "gpu:a100:4", nodeNow{Up: true, AllocCPUs: 2, AllocMemMB: 250000, GRESUsed: "gpu:a100:3(IDX:0-2)"})
	b.node("gpu", "g2", 64, 512000, "gpu:a100:8,gpu:h100:2", g2)
	b.node("gpu", "g2", 64, 512000, "gpu:a100:8,gpu:h100:2", g2) // listed twice: one node
	b.node("cpu", "c1", 16, 64000, "(null)", nodeNow{Up: true, GRESUsed: "gpu:0"})
	b.node("cpu", "c2", 128, 64000, "gpu:a100:2", nodeNow{GRESUsed: "gpu:0"}) // down: nothing free
	want := []Partition{
		{Name: "cpu", Nodes: 2, CPUs: 128, MemoryMB: 64000, GPUs: []GPU{{"a100", 2}}, FreeCPUs: 16, FreeMemoryMB: 64000},
		{Name: "gpu", Nodes: 2, CPUs: 64, MemoryMB: 512000, GPUs: []GPU{{"a100", 8}, {"h100", 2}}, FreeGPUs: 1 + 8, FreeCPUs: 30, FreeMemoryMB: 511000},
	}
	if got := b.list(); !reflect.DeepEqual(got, want) {
		t.Fatalf("partitions %+v\nwant %+v", got, want)
	}
}

func TestNodeUp(t *testing.T) {
	for _, tc := range []struct {
		base  string
		flags []string
		up    bool
	}{
		{"idle", nil, true},
		{"mixed", []string{}, true},
		{"allocated", []string{"COMPLETING"}, true},
		{"idle", []string{"DRAIN"}, false},
		{"mixed", []string{"drain"}, false}, // draining, as sinfo's StateComplete spells it
		{"idle", []string{"NOT_RESPONDING"}, false},
		{"down", nil, false},
		{"DOWN", []string{"NOT_RESPONDING"}, false},
		{"idle", []string{"POWERED_DOWN"}, false},
		{"allocated", []string{"FAIL"}, false},
		{"future", nil, false},
	} {
		if got := nodeUp(tc.base, tc.flags); got != tc.up {
			t.Errorf("nodeUp(%q, %q) = %v, want %v", tc.base, tc.flags, got, tc.up)
		}
	}
}

// StatusOf reads the job directory only once the job has ended or vanished.
func TestStatusOf(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ExitCodeFile), []byte("3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	notADir := filepath.Join(dir, ExitCodeFile) // reading below it fails
	if o, err := StatusOf(JobInfo{State: "RUNNING"}, true, notADir); err != nil || o.Status != StatusRunning {
		t.Fatalf("running: %+v, %v", o, err)
	}
	if _, err := StatusOf(JobInfo{State: "FAILED"}, true, notADir); err == nil {
		t.Fatal("an ended job's record was not read")
	}
	if o, err := StatusOf(JobInfo{State: "FAILED", ExitCode: 3}, true, dir); err != nil || o.Status != StatusFailed || o.ExitCode != 3 {
		t.Fatalf("failed: %+v, %v", o, err)
	}
	if o, err := StatusOf(JobInfo{}, false, dir); err != nil || o.Status != StatusFailed || o.ExitCode != 3 {
		t.Fatalf("vanished with a record: %+v, %v", o, err)
	}
	if o, err := StatusOf(JobInfo{}, false, t.TempDir()); err != nil || o.Status != StatusError {
		t.Fatalf("vanished without a record: %+v, %v", o, err)
	}
}
