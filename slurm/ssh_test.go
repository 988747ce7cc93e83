package slurm

import (
	"errors"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"
)

// squeueLine writes one record as squeueArgs makes squeue print it.
func squeueLine(fields ...string) string {
	return strings.Join(fields, unitSep) + recordSep + "\n"
}

func TestParseSqueue(t *testing.T) {
	out := squeueLine("42", "train-7", "kqi:training:7", "FAILED", "NonZeroExitCode", "vm", "1795616686", "1795616688", "1795616690", "768", "0") +
		squeueLine("43", "name with | and ; inside", "(null)", "PENDING", "Resources", "", "1795616791", "N/A", "N/A", "0", "0") +
		squeueLine("44", "t", "c", "RUNNING", "None", "vm", "1795616791", "1795616792", "1795703192", "0", "2") +
		squeueLine("45", "t", "c", "CANCELLED", "None", "vm", "1795616791", "1795616792", "1795616800", "9", "0")
	got, err := parseSqueue([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	at := func(sec int64) time.Time { return time.Unix(sec, 0).UTC() }
	want := map[string]JobInfo{
		"42": fixtureJob,
		"43": {ID: "43", Name: "name with | and ; inside", State: "PENDING", Reason: "Resources", SubmitTime: at(1795616791)},
		"44": {ID: "44", Name: "t", Comment: "c", State: "RUNNING", Node: "vm", SubmitTime: at(1795616791), StartTime: at(1795616792), Restarts: 2},
		"45": {ID: "45", Name: "t", Comment: "c", State: "CANCELLED", Node: "vm", SubmitTime: at(1795616791), StartTime: at(1795616792), EndTime: at(1795616800), Signal: 9},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	// squeue's output for a job equals slurmrestd's for the same job.
	if !reflect.DeepEqual(got["42"], fixtureJob) {
		t.Fatal("squeue and slurmrestd disagree")
	}
	for _, bad := range []string{
		squeueLine("42", "too", "few"),
		squeueLine("42", "n", "c", "RUNNING", "None", "vm", "yesterday", "0", "0", "0", "0"),
		squeueLine("42", "n", "c", "RUNNING", "None", "vm", "0", "0", "0", "x", "0"),
		squeueLine("42", "n", "c", "RUNNING", "None", "vm", "0", "0", "0", "0", "many"),
	} {
		if _, err := parseSqueue([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	if jobs, err := parseSqueue(nil); err != nil || len(jobs) != 0 {
		t.Fatalf("empty output: %v %v", jobs, err)
	}
}

func TestParseSacct(t *testing.T) {
	line := func(f ...string) string { return strings.Join(f, unitSep) + "\n" }
	out := line("42", "train-7", "kqi:training:7", "FAILED", "NonZeroExitCode", "vm", "1795616686", "1795616688", "1795616690", "3:0") +
		line("50", "t", "", "CANCELLED by 995", "None", "vm", "1795616686", "1795616688", "1795616690", "0:9")
	got, err := parseSacct([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	want42 := fixtureJob
	want42.FromAccounting = true
	if !reflect.DeepEqual(got["42"], want42) {
		t.Fatalf("got  %+v\nwant %+v", got["42"], want42)
	}
	if j := got["50"]; j.State != "CANCELLED" || j.Signal != 9 || j.ExitCode != 0 || !j.FromAccounting {
		t.Fatalf("job 50: %+v", j)
	}
	if _, err := parseSacct([]byte(line("1", "short"))); err == nil {
		t.Fatal("short line accepted")
	}
}

func TestParseSinfo(t *testing.T) {
	rec := func(f ...string) string { return strings.Join(f, unitSep) + recordSep + "\n" }
	out := rec("vm", "cpu*", "16", "16000", "(null)", "1-00:00:00", "gpu:0", "4/12/0/16", "2048", "mixed") +
		rec("vm", "gpu-a100", "16", "16000", "gpu:a100:4", "1-00:00:00", "gpu:a100:1(IDX:0)", "4/12/0/16", "2048", "mixed") +
		rec("g2", "gpu-a100", "64", "512000", "gpu:a100:8(S:0-1)", "1-00:00:00", "gpu:a100:0(IDX:N/A)", "0/0/64/64", "0", "idle+drain") +
		rec("vm", "debug", "16", "16000", "gpu:a100:4", "infinite", "gpu:a100:1(IDX:0)", "4/12/0/16", "2048", "mixed")
	got, err := parseSinfo([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	want := []Partition{
		{Name: "cpu", Default: true, Nodes: 1, CPUs: 16, MemoryMB: 16000, MaxTime: 24 * time.Hour, FreeCPUs: 12, FreeMemoryMB: 13952},
		{Name: "debug", Nodes: 1, CPUs: 16, MemoryMB: 16000, GPUs: []GPU{{"a100", 4}}, FreeGPUs: 3, FreeCPUs: 12, FreeMemoryMB: 13952},
		// g2 is drained: its size counts, nothing of it is free.
		{Name: "gpu-a100", Nodes: 2, CPUs: 64, MemoryMB: 512000, GPUs: []GPU{{"a100", 8}}, MaxTime: 24 * time.Hour, FreeGPUs: 3, FreeCPUs: 12, FreeMemoryMB: 13952},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	for _, bad := range [][]string{
		{"vm", "cpu", "many", "1", "", "1", "", "0/1/0/1", "0", "idle"},
		{"vm", "cpu", "1", "1", "", "1", "", "0/1", "0", "idle"},
		{"vm", "cpu", "1", "1", "", "1", "", "0/1/0/1", "lots", "idle"},
	} {
		if _, err := parseSinfo([]byte(rec(bad...))); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// The recorded answer of the dev cluster's sinfo (testdata/sinfo-node.txt:
// kqi-node2 mixed with 2 CPUs and 2 GB held, vm idle), and the same with
// vm not responding and kqi-node2 drained.
func TestParseSinfoRecorded(t *testing.T) {
	out, err := os.ReadFile("testdata/sinfo-node.txt")
	if err != nil {
		t.Fatal(err)
	}
	got, err := parseSinfo(out)
	if err != nil {
		t.Fatal(err)
	}
	want := []Partition{
		{Name: "cpu", Default: true, Nodes: 2, CPUs: 16, MemoryMB: 16000, GPUs: []GPU{{"a100", 4}}, MaxTime: 24 * time.Hour, FreeGPUs: 4, FreeCPUs: 16, FreeMemoryMB: 16000},
		{Name: "gpu-a100", Nodes: 2, CPUs: 16, MemoryMB: 16000, GPUs: []GPU{{"a100", 4}}, MaxTime: 24 * time.Hour, FreeGPUs: 4, FreeCPUs: 16, FreeMemoryMB: 16000},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	down := strings.ReplaceAll(strings.ReplaceAll(string(out), unitSep+"idle"+recordSep, unitSep+"idle*"+recordSep), unitSep+"mixed"+recordSep, unitSep+"mixed+drain"+recordSep)
	if got, err = parseSinfo([]byte(down)); err != nil {
		t.Fatal(err)
	}
	for _, p := range got {
		if p.FreeCPUs != 0 || p.FreeMemoryMB != 0 || p.FreeGPUs != 0 || p.CPUs != 16 {
			t.Errorf("nodes down and drained: %+v", p)
		}
	}
}

func TestParseSbatch(t *testing.T) {
	for out, want := range map[string]string{"123\n": "123", "123;kqi-dev\n": "123", " 7 \n": "7"} {
		if id, err := parseSbatch([]byte(out)); err != nil || id != want {
			t.Errorf("parseSbatch(%q) = %q, %v", out, id, err)
		}
	}
	for _, out := range []string{"", "Submitted batch job 5\n", "sbatch: error: Batch job submission failed\n"} {
		if id, err := parseSbatch([]byte(out)); err == nil {
			t.Errorf("parseSbatch(%q) = %q", out, id)
		}
	}
}

func TestScancelResult(t *testing.T) {
	if err := scancelResult("5", []byte("scancel: Terminating job 5\n")); err != nil {
		t.Fatal(err)
	}
	if err := scancelResult("2", []byte("scancel: Terminating job 2\nscancel: error: Kill job error on job id 2: Job/step already completing or completed\n")); err != nil {
		t.Fatalf("an ended job: %v", err)
	}
	if err := scancelResult("9", []byte("scancel: error: Kill job error on job id 9: Invalid job id specified\n")); !errors.Is(err, ErrJobNotFound) {
		t.Fatalf("unknown job: %v", err)
	}
	if err := scancelResult("9", []byte("scancel: error: Kill job error on job id 9: Access/permission denied\n")); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("refused: %v", err)
	}
}

// The remote command line reaches the login shell as exactly the intended
// arguments, whatever they contain.
func TestRemoteCommand(t *testing.T) {
	argv := append(squeueArgs("--user=kqi"), "it's", "$(reboot)", "a b", "`x`", "*", "")
	line, err := remoteCommand(argv)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("bash", "-c", `printf '%s\0' `+line).Output()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if !reflect.DeepEqual(got, argv) {
		t.Fatalf("the shell saw %q\nwant %q", got, argv)
	}
	if _, err := remoteCommand([]string{"a\x00b"}); err == nil {
		t.Fatal("NUL accepted")
	}
}
