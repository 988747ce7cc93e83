//go:build bench

package bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// benchUpload runs scripts/bench-upload.sh (a 2 GiB upload through a real
// kqi-portal process against cp of the same file, interleaved, medians of
// three) and puts its figures in the table. KQI_BENCH_PORTAL is the
// binary (make bench builds it).
func benchUpload(t *testing.T, sc scale) {
	bin := os.Getenv("KQI_BENCH_PORTAL")
	if bin == "" {
		t.Fatal("KQI_BENCH_PORTAL: the kqi-portal binary to upload through (make bench sets it)")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(root, "scripts/bench-upload.sh"), bin)
	cmd.Env = append(os.Environ(), fmt.Sprintf("KQI_BENCH_UPLOAD_MIB=%d", sc.uploadMiB))
	out, _ := cmd.CombinedOutput() // exits 1 when a goal is missed: the figures say which
	var mib int
	var portal, cp, ratio, rss float64
	var found bool
	for _, line := range splitLines(string(out)) {
		if n, _ := fmt.Sscanf(line, "upload %d MiB (median of 3): portal %f MiB/s, cp %f MiB/s, portal/cp = %f", &mib, &portal, &cp, &ratio); n == 4 {
			found = true
		}
		fmt.Sscanf(line, "portal peak RSS: %f MB", &rss)
	}
	if !found || rss == 0 {
		t.Fatalf("bench-upload.sh said:\n%s", out)
	}
	record(row{measure: fmt.Sprintf("upload %d MiB", mib), kqi: fmt.Sprintf("%.0f MiB/s", portal), baseline: fmt.Sprintf("%.0f MiB/s cp", cp),
		ratio: ratio, goal: "≥ 0.7× cp", pass: ratio >= 0.7})
	record(row{measure: "  portal peak RSS during the upload", kqi: fmt.Sprintf("%.0f MB", rss), baseline: "-", goal: "< 100 MB", pass: rss < 100})
}
