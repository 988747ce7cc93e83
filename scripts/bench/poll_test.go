//go:build bench

package bench

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"github.com/lib/pq"

	"kqi/portal/jobs"
	"kqi/portal/portaltest"
	"kqi/slurm"
)

// benchPoll times one poll tick over sc.heldJobs active jobs (held in
// Slurm, so the cluster does no work) against one raw GET /jobs, then the
// same with rows still submitting.
func benchPoll(t *testing.T, sc scale) {
	ctx := context.Background()
	env := portaltest.New(t, portaltest.WithCluster)
	// The rows left submitting must stay within their grace through every
	// round, however slow the machine makes the ticks (1 minute in tests).
	env.Jobs.Cfg.SubmitGrace = time.Hour
	db := openDB(t, env.Config.DatabaseURL)
	tn := env.Tenant(t, "bench")
	instance, err := env.Store.InstanceID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ids := insertJobRows(t, db, tn.ID, "training", sc.heldJobs, "queued")
	comments := make([]string, len(ids))
	for i, id := range ids {
		comments[i] = jobs.Comment(instance, "training", id)
	}
	slurmIDs := holdJobs(t, comments)
	if _, err := db.Exec(`UPDATE jobs j SET slurm_job_id = u.sid FROM unnest($1::bigint[], $2::text[]) AS u(id, sid) WHERE j.id = u.id`,
		pq.Array(ids), pq.Array(slurmIDs)); err != nil {
		t.Fatal(err)
	}
	raw := rawJobsGetter(t)
	if err := env.Jobs.Poll(ctx); err != nil { // records "held" once
		t.Fatal(err)
	}

	tick := func(label string, extra int) {
		var kqi, base []time.Duration
		var peak uint64
		var answer int64
		mark := dbNow(t, db)
		interleave(sc.rounds, func() {
			start := time.Now()
			if err := env.Jobs.Poll(ctx); err != nil {
				t.Fatal(err)
			}
			kqi = append(kqi, time.Since(start))
		}, func() {
			start := time.Now()
			answer = raw()
			base = append(base, time.Since(start))
		})
		// The heap is watched in ticks of its own: the sampler and the
		// frequent collections it needs would slow the timed ones.
		for range 2 {
			stop := sampleHeap()
			if err := env.Jobs.Poll(ctx); err != nil {
				t.Fatal(err)
			}
			peak = max(peak, stop())
		}
		writes := rowsWrittenSince(t, db, mark)
		mk, mb := median(kqi), median(base)
		r := float64(mk) / float64(mb)
		record(row{measure: fmt.Sprintf("poll tick, %d active jobs%s", len(ids), label), kqi: ms(mk), baseline: ms(mb) + " GET",
			ratio: r, goal: "≤ 1.5× one raw GET /jobs", pass: r <= 1.5})
		record(row{measure: fmt.Sprintf("  rows written in %d ticks (%d unchanged%s)", sc.rounds, len(ids), label), kqi: fmt.Sprint(writes), baseline: "-",
			goal: fmt.Sprintf("≤ %d (the rows settled)", extra), pass: writes <= int64(extra)})
		record(row{measure: "  peak heap growth during a tick (GOGC=10)" + label, kqi: fmt.Sprintf("%.1f MB", float64(peak)/1e6), baseline: fmt.Sprintf("%.1f MB answer", float64(answer)/1e6),
			ratio: float64(peak) / float64(answer), goal: "< ½ the answer (streamed)", pass: float64(peak) < float64(answer)/2})
	}
	tick("", 0)

	// Rows a crash left submitting: one query for all of them, and none is
	// settled within the grace period (they were created just now).
	insertJobRows(t, db, tn.ID, "training", 5, "submitting")
	tick(" + 5 submitting", 0)
}

// sampleHeap watches the heap until the returned stop, which answers its
// largest growth over where it started (sampled every millisecond). The
// collector runs often meanwhile (GOGC=10), so what grows is what is held,
// not garbage waiting for a collection.
func sampleHeap() (stop func() uint64) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 { metrics.Read(sample); return sample[0].Value.Uint64() }
	gc := debug.SetGCPercent(10)
	runtime.GC()
	base := read()
	done, peak := make(chan struct{}), make(chan uint64)
	go func() {
		var top uint64
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			if v := read(); v > base {
				top = max(top, v-base)
			}
			select {
			case <-done:
				peak <- top
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		debug.SetGCPercent(gc)
		return <-peak
	}
}

// insertJobRows adds n job rows of a kind in status, without Slurm jobs.
func insertJobRows(t *testing.T, db *sql.DB, tenantID int64, kind string, n int, status string) []int64 {
	t.Helper()
	rows, err := db.Query(`INSERT INTO jobs (tenant_id, kind, name, image, command, cpu, memory_gb, gpu, partition, status, job_dir, tags)
		SELECT $1, $2, 'run-' || g || '-' || md5(g::text), 'local/python:3', 'true', 1, 1, 0, 'cpu', $4, '', ARRAY['t' || (g % 50)]
		FROM generate_series(1, $3) g RETURNING id`, tenantID, kind, n, status)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

// holdJobs submits one held job per comment with sbatch --hold as the
// cluster user, and cancels them all when the test ends.
func holdJobs(t *testing.T, comments []string) []string {
	t.Helper()
	user := os.Getenv("KQI_SLURM_USER")
	name := "kqi-bench-" + strings.ToLower(rand.Text()[:8])
	t.Cleanup(func() {
		if out, err := exec.Command("runuser", "-u", user, "--", "scancel", "--name="+name).CombinedOutput(); err != nil {
			t.Logf("scancel --name=%s: %v %s", name, err, out)
		}
	})
	script := `while read -r c; do sbatch --parsable --hold --partition=cpu --job-name="$1" --comment="$c" --output=/dev/null --chdir=/tmp --wrap=true || exit 1; done`
	cmd := exec.Command("runuser", "-u", user, "--", "bash", "-c", script, "bash", name)
	cmd.Stdin = strings.NewReader(strings.Join(comments, "\n") + "\n")
	cmd.Stderr = os.Stderr
	start := time.Now()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sbatch --hold: %v", err)
	}
	var ids []string
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		id, _, _ := strings.Cut(strings.TrimSpace(sc.Text()), ";")
		ids = append(ids, id)
	}
	if len(ids) != len(comments) {
		t.Fatalf("sbatch --hold gave %d ids for %d jobs", len(ids), len(comments))
	}
	fmt.Printf("bench: %d held jobs submitted in %s\n", len(ids), time.Since(start).Round(time.Second))
	return ids
}

// rawJobsGetter returns one raw GET /jobs of slurmrestd, read to the end
// and not decoded (the floor of any poll); it returns the answer's size.
func rawJobsGetter(t *testing.T) func() int64 {
	t.Helper()
	signer, err := slurm.NewTokenSigner(os.Getenv("KQI_SLURM_JWT_KEY_FILE"), 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	user := os.Getenv("KQI_SLURM_USER")
	return func() int64 {
		tok, err := signer.Sign(user)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodGet, os.Getenv("KQI_SLURM_REST_URL")+"/slurm/v0.0.38/jobs", nil)
		req.Header.Set("X-SLURM-USER-NAME", user)
		req.Header.Set("X-SLURM-USER-TOKEN", tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		n, err := io.Copy(io.Discard, resp.Body)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET /jobs: %d %v", resp.StatusCode, err)
		}
		return n
	}
}

// dbNow is the database's clock, to tell rows written afterwards.
func dbNow(t *testing.T, db *sql.DB) time.Time {
	t.Helper()
	var now time.Time
	if err := db.QueryRow(`SELECT clock_timestamp()`).Scan(&now); err != nil {
		t.Fatal(err)
	}
	return now
}

// rowsWrittenSince counts the job rows updated after mark (every write of
// a job row sets updated_at).
func rowsWrittenSince(t *testing.T, db *sql.DB, mark time.Time) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRow(`SELECT count(*) FROM jobs WHERE updated_at > $1`, mark).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func openDB(t *testing.T, url string) *sql.DB {
	t.Helper()
	db, err := sql.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
