package main_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
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

// peakRSS runs kqi and returns its peak resident memory in MB and stdout.
func peakRSS(b *testing.B, c *cli, args ...string) (float64, string) {
	cmd := c.cmd(context.Background(), "", args...)
	var out strings.Builder
	cmd.Stdout = &out
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		b.Fatalf("kqi %v: %v", args, err)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return float64(ru.Maxrss) / 1024, out.String() // Linux reports KiB
}
