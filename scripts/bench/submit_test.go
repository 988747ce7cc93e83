//go:build bench

package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"kqi/portal/data"
	"kqi/portal/portaltest"
	"kqi/slurm"
	"kqi/slurm/slurmtest"
	"kqi/storage"
)

// benchSubmit times POST /api/v1/trainings through a kqi-portal process
// of its own against a raw slurmrestd submit of the same trivial job: one
// client (pairs in alternating order), then bursts at 50 concurrent
// clients. Both sides submit their jobs held (--hold) and every job is
// cancelled as soon as its measure is taken: the dev cluster's nodes share
// the portal's two cores, and a burst's jobs starting their containers
// would otherwise be measured as the portal's submit time (a real cluster
// runs them elsewhere). The peak RSS is the portal process's own.
func benchSubmit(t *testing.T, sc scale) {
	ctx := context.Background()
	cluster := slurmtest.Integration(t, portaltest.ProcessClusterEnv...)
	bin := os.Getenv("KQI_BENCH_PORTAL")
	if bin == "" {
		bin = portaltest.BuildPortal(t)
	}
	pp := portaltest.NewProcess(t, "bench", bin, cluster, map[string]string{
		"KQI_SLURM_BACKEND": "rest", "KQI_SLURM_REST_URL": cluster["KQI_SLURM_REST_URL"],
	}, 0)
	pp.Start(t)
	pp.Login(t)
	raw := benchREST(t)
	// The raw jobs' directories, on the shared filesystem as the portal's.
	rawRoot := portaltest.SharedDir(t, cluster["KQI_SHARED_ROOT"], "bench-raw-", cluster["KQI_SLURM_USER"], 0o755)
	// What the portal puts in every job's environment (cli.siteEnv, no proxy).
	siteEnv := []slurm.EnvVar{{Name: "LC_ALL", Value: "C.UTF-8"}, {Name: "LANG", Value: "C.UTF-8"}, {Name: "COLUMNS", Value: "200"}}
	var seq atomic.Int64
	var mu sync.Mutex
	var jobs []string
	keep := func(id string) {
		mu.Lock()
		jobs = append(jobs, id)
		mu.Unlock()
	}
	cancelAll := func() {
		mu.Lock()
		ids := jobs
		jobs = nil
		mu.Unlock()
		if len(ids) > 0 {
			if out, err := exec.Command("runuser", append([]string{"-u", os.Getenv("KQI_SLURM_USER"), "--", "scancel"}, ids...)...).CombinedOutput(); err != nil {
				t.Logf("scancel: %v %s", err, out)
			}
		}
	}
	t.Cleanup(cancelAll)
	// Fifty clients keep fifty connections (http.DefaultClient keeps two
	// idle per host: the others would reconnect for every submit).
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

	portal := func() error {
		body, _ := json.Marshal(map[string]any{"name": "bench-" + strconv.FormatInt(seq.Add(1), 10), "dataset_id": pp.Dataset, "command": "true",
			"cpu": 1, "memory_gb": 1, "gpu": 0, "partition": "cpu", "sbatch_options": []string{"--hold"}})
		req, _ := http.NewRequest(http.MethodPost, pp.URL+"/api/v1/trainings", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+pp.Token)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var out struct {
			Status     string `json:"status"`
			SlurmJobID string `json:"slurm_job_id"`
		}
		json.Unmarshal(b, &out)
		if resp.StatusCode != http.StatusCreated || out.Status != string(slurm.StatusQueued) || out.SlurmJobID == "" {
			return fmt.Errorf("POST /api/v1/trainings: %d %s", resp.StatusCode, b)
		}
		keep(out.SlurmJobID)
		return nil
	}
	rawSubmit := func() error {
		name := "bench-raw-" + strconv.FormatInt(seq.Add(1), 10)
		spec := slurm.JobSpec{Name: "training-" + name, Comment: "kqi:bench:" + filepath.Base(rawRoot) + ":" + name,
			Partition: "cpu", CPUs: 1, MemoryGiB: 1, Image: slurm.HostImage, Command: "true", Extra: []string{"--hold"},
			SiteEnv: siteEnv, JobDir: benchJobDir(t, rawRoot, name)}
		script, err := slurm.Render(spec, slurm.Bubblewrap{})
		if err != nil {
			return err
		}
		id, err := raw.Submit(ctx, script, spec)
		if err != nil {
			return err
		}
		keep(id)
		return nil
	}
	timed := func(into *[]time.Duration, f func() error) func() {
		return func() {
			start := time.Now()
			if err := f(); err != nil {
				t.Fatal(err)
			}
			*into = append(*into, time.Since(start))
			cancelAll()
		}
	}

	settleFS(t)
	var kqi, base []time.Duration
	interleave(sc.submitPairs, timed(&kqi, portal), timed(&base, rawSubmit))
	mk, mb := median(kqi), median(base)
	r := float64(mk) / float64(mb)
	record(row{measure: "submit p50, 1 client", kqi: ms(mk), baseline: ms(mb) + " REST", ratio: r, goal: "≤ 3× raw slurmrestd", pass: r <= 3})

	// Bursts at 50 clients, alternating sides, rounds of sc.burst submits.
	burst := func(f func() error) (float64, []time.Duration, int) {
		var lat []time.Duration
		var errs atomic.Int64
		var lmu sync.Mutex
		next := make(chan struct{}, sc.burst)
		for range sc.burst {
			next <- struct{}{}
		}
		close(next)
		start := time.Now()
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				for range next {
					s := time.Now()
					if err := f(); err != nil {
						errs.Add(1)
						continue
					}
					lmu.Lock()
					lat = append(lat, time.Since(s))
					lmu.Unlock()
				}
			})
		}
		wg.Wait()
		rate := float64(sc.burst) / time.Since(start).Seconds()
		cancelAll()
		return rate, lat, int(errs.Load())
	}
	// One burst each, timed but not counted: the first opens the portal's
	// 50 database connections and prepares its statements on each. Its
	// errors count.
	kErrs := 0
	interleave(1, func() { _, _, kErrs = burst(portal) }, func() { burst(rawSubmit) })
	resetPeakRSS(t, pp.PID())
	var kRates, bRates []float64
	var kLat []time.Duration
	interleave(max(3, sc.rounds-2), func() {
		rate, lat, errs := burst(portal)
		kRates, kLat, kErrs = append(kRates, rate), append(kLat, lat...), kErrs+errs
	}, func() {
		rate, _, errs := burst(rawSubmit)
		if errs > 0 {
			t.Logf("raw submits: %d errors", errs)
		}
		bRates = append(bRates, rate)
	})
	kr, br := medianF(kRates), medianF(bRates)
	ratio := kr / br
	p99 := quantile(kLat, 0.99)
	rss := peakRSS(t, pp.PID())
	record(row{measure: "submits/s at 50 clients", kqi: fmt.Sprintf("%.0f/s", kr), baseline: fmt.Sprintf("%.0f/s REST", br), ratio: ratio,
		goal: "≥ 0.2× raw slurmrestd", pass: ratio >= 0.2})
	record(row{measure: "  p99 and errors at 50 clients", kqi: fmt.Sprintf("%s, %d", ms(p99), kErrs), baseline: "-",
		goal: "p99 < 500 ms, 0 errors", pass: p99 < 500*time.Millisecond && kErrs == 0})
	record(row{measure: "  portal peak RSS during the bursts", kqi: fmt.Sprintf("%.0f MiB", float64(rss)/(1<<20)), baseline: "-",
		goal: "< 64 MiB", pass: rss < 64<<20})
}

func medianF(v []float64) float64 {
	ds := make([]time.Duration, len(v))
	for i, x := range v {
		ds[i] = time.Duration(x * 1e6)
	}
	return float64(median(ds)) / 1e6
}

// resetPeakRSS starts a process's VmHWM over (Linux: 5 into clear_refs).
func resetPeakRSS(t *testing.T, pid int) {
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
		t.Fatalf("resetting the peak RSS: %v", err)
	}
}

// peakRSS is a process's VmHWM, in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

func benchDataset(t *testing.T, env *portaltest.Env, tenantID, userID int64) int64 {
	t.Helper()
	ctx := context.Background()
	id, err := env.Store.NextDataID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	path, err := data.FilePath(tenantID, id, "a.txt")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Files.Put(ctx, path, strings.NewReader("alpha")); err != nil {
		t.Fatal(err)
	}
	if err := env.Store.CreateData(ctx, storage.NewData{ID: id, TenantID: tenantID, Name: "d", CreatedBy: userID,
		Files: []storage.NewFile{{Name: "a.txt", Size: 5}}}); err != nil {
		t.Fatal(err)
	}
	ds, err := env.Jobs.Data.CreateDataset(ctx, data.Actor{TenantID: tenantID, UserID: userID},
		data.DatasetForm{Name: "ds", Entries: []storage.Entry{{DataID: id, Area: "training"}}})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// benchREST is a slurmrestd client configured as the portal's.
func benchREST(t *testing.T) *slurm.REST {
	t.Helper()
	signer, err := slurm.NewTokenSigner(os.Getenv("KQI_SLURM_JWT_KEY_FILE"), 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	c, err := slurm.NewREST(slurm.RESTConfig{URL: os.Getenv("KQI_SLURM_REST_URL"), User: os.Getenv("KQI_SLURM_USER"), Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// benchJobDir makes a raw job's directory, what its script needs before
// it runs (it makes input/, output/ and attach/ itself, as the portal's
// jobs do), and returns its path.
func benchJobDir(t *testing.T, root, name string) string {
	dir := filepath.Join(root, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Error(err)
	}
	portaltest.ChownToAccount(t, dir, os.Getenv("KQI_SLURM_USER"))
	return dir
}
