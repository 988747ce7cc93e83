//go:build bench

package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"kqi/portal/jobs"
	"kqi/portal/portaltest"
	"kqi/slurm"
)

// benchZip times GET …/output.zip of a job whose outputs are sc.zipFiles
// incompressible files of 1 MiB (through the whole portal, read by an HTTP
// client) against `zip -0 -r` of the same directory written to a pipe,
// interleaved; then the heap's growth during one download.
func benchZip(t *testing.T, sc scale) {
	zipBin, err := exec.LookPath("zip")
	if err != nil {
		t.Fatal("zip is not installed (scripts/dev-cluster.sh installs it): it is output.zip's baseline")
	}
	ctx := context.Background()
	env := portaltest.New(t)
	tn := env.Tenant(t, "zip")
	u := env.User(t, "zipper", "Bench-"+rand.Text(), false, "zip")
	tok := env.APIToken(t, u, tn.ID)
	j, err := env.Jobs.Submit(ctx, jobs.Actor{TenantID: tn.ID, UserID: u.ID}, jobs.Training,
		jobs.Request{Name: "zip", DatasetID: benchDataset(t, env, tn.ID, u.ID), Command: "true", CPU: 1, MemoryGB: 1})
	if err != nil {
		t.Fatal(err)
	}
	// The job's outputs, written where its script would (the script makes
	// output/ on the node; the job never runs here).
	out := env.Files.LocalPath(j.JobDir + "/" + slurm.OutputDir)
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	seed := [32]byte{}
	rand.Read(seed[:])
	src := mrand.NewChaCha8(seed)
	buf := make([]byte, 1<<20)
	for i := range sc.zipFiles {
		src.Read(buf)
		if err := os.WriteFile(filepath.Join(out, fmt.Sprintf("shard-%04d.bin", i)), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	total := int64(sc.zipFiles) << 20

	download := func() int64 {
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/api/v1/trainings/%d/output.zip", env.URL, j.ID), nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		n, err := io.Copy(io.Discard, resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("output.zip: %d after %d bytes: %v", resp.StatusCode, n, err)
		}
		return n
	}
	var kqi, base []time.Duration
	var size int64
	interleave(sc.rounds, func() {
		start := time.Now()
		size = download()
		kqi = append(kqi, time.Since(start))
	}, func() {
		cmd := exec.Command(zipBin, "-0", "-r", "-q", "-", ".")
		cmd.Dir = out
		cmd.Stdout = io.Discard // through a pipe, read as the portal's answer is
		start := time.Now()
		if err := cmd.Run(); err != nil {
			t.Fatalf("zip -0: %v", err)
		}
		base = append(base, time.Since(start))
	})
	if size < total {
		t.Fatalf("output.zip is %d bytes for %d bytes of incompressible files: it cannot have held them all", size, total)
	}
	rate := func(d time.Duration) float64 { return float64(total) / (1 << 20) / d.Seconds() }
	mk, mb := rate(median(kqi)), rate(median(base))
	r := mk / mb
	record(row{measure: fmt.Sprintf("output.zip, %d incompressible files of 1 MiB", sc.zipFiles), kqi: fmt.Sprintf("%.0f MiB/s", mk),
		baseline: fmt.Sprintf("%.0f MiB/s zip -0", mb), ratio: r, goal: "≥ 0.5× zip -0", pass: r >= 0.5})

	stop := sampleHeap()
	download()
	peak := stop()
	record(row{measure: "  peak heap growth during output.zip (GOGC=10)", kqi: fmt.Sprintf("%.1f MB", float64(peak)/1e6),
		baseline: fmt.Sprintf("%.0f MB zipped", float64(size)/1e6), goal: "< 16 MB (streamed)", pass: peak < 16e6})
}
