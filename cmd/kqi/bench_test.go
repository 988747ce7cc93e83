package main_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"kqi/portal/portaltest"
)

// BenchmarkCLIPeakMemory uploads and downloads a 2 GiB file with the built
// kqi (KQI_BENCH_CLI_MIB to change the size) and reports the CLI's peak
// RSS for each, failing above 50 MB: kqi streams, so its memory must not
// grow with the file.
func BenchmarkCLIPeakMemory(b *testing.B) {
	mib := 2048
	if v, err := strconv.Atoi(os.Getenv("KQI_BENCH_CLI_MIB")); err == nil && v > 0 {
		mib = v
	}
	env := portaltest.New(b)
	env.Tenant(b, "lab")
	env.User(b, "alice", pw, false, "lab")
	c := newCLI(b)
	if r := c.run(pw+"\n", "login", "--server", env.URL, "--user", "alice", "--password-stdin"); r.code != 0 {
		b.Fatalf("login: %s", r.stderr)
	}
	src := filepath.Join(b.TempDir(), "big.bin")
	f, err := os.Create(src)
	if err != nil {
		b.Fatal(err)
	}
	f.Truncate(int64(mib) << 20)
	f.Close()
	for b.Loop() {
		start := time.Now()
		up, out := peakRSS(b, c, "data", "upload", "big", src)
		upTime := time.Since(start)
		dir := b.TempDir()
		start = time.Now()
		down, _ := peakRSS(b, c, "data", "download", strings.TrimSpace(out), "-o", dir)
		downTime := time.Since(start)
		if info, err := os.Stat(filepath.Join(dir, "big.bin")); err != nil || info.Size() != int64(mib)<<20 {
			b.Fatalf("downloaded %v %v", info, err)
		}
		os.RemoveAll(dir)
		b.ReportMetric(up, "upload-peak-MB")
		b.ReportMetric(down, "download-peak-MB")
		b.ReportMetric(float64(mib)/upTime.Seconds(), "upload-MiB/s")
		b.ReportMetric(float64(mib)/downTime.Seconds(), "download-MiB/s")
		if up >= 50 || down >= 50 {
			b.Fatalf("peak RSS: upload %.1f MB, download %.1f MB; the target is under 50 MB", up, down)
		}
	}
}

// peakRSS runs kqi and returns its peak resident memory in MB and its
// stdout. The peak is the child's own VmHWM, read from /proc while it runs
// (every 20 ms; the mark only grows): getrusage's ru_maxrss would not do,
// since os/exec starts the child with CLONE_VM and Linux carries the
// parent's — this test process's — high-water mark across the exec.
func peakRSS(b *testing.B, c *cli, args ...string) (float64, string) {
	cmd := c.cmd(context.Background(), "", args...)
	var out strings.Builder
	cmd.Stdout = &out
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	status := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var peakKiB int64
	for {
		// Read before checking for the end: the last read is at most 20 ms
		// before the exit.
		if kib := vmHWM(status); kib > peakKiB {
			peakKiB = kib
		}
		select {
		case err := <-done:
			if err != nil {
				b.Fatalf("kqi %v: %v", args, err)
			}
			if peakKiB == 0 {
				b.Fatal("no VmHWM read from " + status)
			}
			return float64(peakKiB) / 1024, out.String()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// vmHWM is the VmHWM line of a /proc/PID/status in KiB, 0 if unreadable.
func vmHWM(status string) int64 {
	raw, err := os.ReadFile(status)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}
