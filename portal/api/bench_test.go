package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"kqi/portal/data"
	"kqi/portal/portaltest"
	"kqi/slurm"
	"kqi/slurm/slurmtest"
	"kqi/storage"
)

// benchPairs is how many portal and raw submits one iteration times; each
// pair runs in alternating order, so neither side always follows the other.
const benchPairs = 15

// BenchmarkTrainingSubmit times POST /api/v1/trainings through the whole
// portal handler against a raw slurmrestd submit of the same trivial job,
// measured in the same run, and reports the ratio of their medians. Each job
// is cancelled as soon as its submit is timed, so the cluster stays idle.
func BenchmarkTrainingSubmit(b *testing.B) {
	slurmtest.Integration(b, "KQI_SLURM_REST_URL", "KQI_SLURM_JWT_KEY_FILE", "KQI_SLURM_USER", "KQI_SHARED_ROOT")
	ctx := context.Background()
	env := portaltest.New(b, portaltest.WithCluster)
	tn := env.Tenant(b, "bench")
	u := env.User(b, "bencher", pw, false, "bench")
	ds := benchDataset(b, env, tn.ID, u.ID)
	tok := benchToken(b, env, "bencher", "bench")
	raw := benchREST(b)
	rawRoot := benchJobRoot(b)

	var jobs []string
	b.Cleanup(func() {
		for _, id := range jobs {
			cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			_ = raw.Cancel(cctx, id) // most ended long ago
			cancel()
		}
	})
	forget := func(id string) {
		jobs = append(jobs, id)
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := raw.Cancel(cctx, id); err != nil {
			b.Fatalf("cancel job %s: %v", id, err)
		}
	}

	var portalTimes, rawTimes []time.Duration
	seq := 0
	portal := func() {
		seq++
		body := map[string]any{"name": "bench-" + strconv.Itoa(seq), "dataset_id": ds, "command": "true",
			"cpu": 1, "memory_gb": 1, "gpu": 0, "partition": "cpu"}
		start := time.Now()
		status, out := benchPost(b, env.URL+"/api/v1/trainings", tok, body)
		portalTimes = append(portalTimes, time.Since(start))
		id, _ := out["slurm_job_id"].(string)
		if status != http.StatusCreated || out["status"] != string(slurm.StatusQueued) || id == "" {
			b.Fatalf("POST /api/v1/trainings: %d %v", status, out)
		}
		forget(id)
	}
	rawSubmit := func() {
		seq++
		name := "bench-raw-" + strconv.Itoa(seq)
		spec := slurm.JobSpec{Name: "training-" + name, Comment: "kqi:bench:" + filepath.Base(rawRoot) + ":" + name,
			Partition: "cpu", CPUs: 1, MemoryGiB: 1, Image: slurm.HostImage, Command: "true",
			SiteEnv: env.Jobs.Cfg.SiteEnv, JobDir: benchJobDir(b, rawRoot, name)}
		script, err := slurm.Render(spec, slurm.Bubblewrap{})
		if err != nil {
			b.Fatal(err)
		}
		sctx, cancel := context.WithTimeout(ctx, time.Minute)
		start := time.Now()
		id, err := raw.Submit(sctx, script, spec)
		rawTimes = append(rawTimes, time.Since(start))
		cancel()
		if err != nil {
			b.Fatalf("raw submit: %v", err)
		}
		forget(id)
	}

	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for p := 0; p < benchPairs; p++ {
			if p%2 == 0 {
				portal()
				rawSubmit()
			} else {
				rawSubmit()
				portal()
			}
		}
	}
	b.StopTimer()
	mp, mr := benchMedian(portalTimes), benchMedian(rawTimes)
	b.ReportMetric(float64(mp)/float64(mr), "portal/raw")
	b.ReportMetric(float64(mp)/float64(time.Millisecond), "ms-portal")
	b.ReportMetric(float64(mr)/float64(time.Millisecond), "ms-raw")
}

func benchMedian(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// benchDataset registers a one-file datum in a dataset, directly through
// the data service: the benchmark is about trainings, not uploads.
func benchDataset(b *testing.B, env *portaltest.Env, tenantID, userID int64) int64 {
	b.Helper()
	ctx := context.Background()
	id, err := env.Store.NextDataID(ctx)
	if err != nil {
		b.Fatal(err)
	}
	path, err := data.FilePath(tenantID, id, "a.txt")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := env.Files.Put(ctx, path, strings.NewReader("alpha")); err != nil {
		b.Fatal(err)
	}
	if err := env.Store.CreateData(ctx, storage.NewData{ID: id, TenantID: tenantID, Name: "d", CreatedBy: userID,
		Files: []storage.NewFile{{Name: "a.txt", Size: 5}}}); err != nil {
		b.Fatal(err)
	}
	ds, err := env.Jobs.Data.CreateDataset(ctx, data.Actor{TenantID: tenantID, UserID: userID},
		data.DatasetForm{Name: "ds", Entries: []storage.Entry{{DataID: id, Area: "training"}}})
	if err != nil {
		b.Fatal(err)
	}
	return ds
}

func benchToken(b *testing.B, env *portaltest.Env, user, tenant string) string {
	b.Helper()
	status, out := benchPost(b, env.URL+"/api/v1/auth/token", "", map[string]string{"username": user, "password": pw, "tenant": tenant})
	tok, _ := out["token"].(string)
	if status != http.StatusCreated || tok == "" {
		b.Fatalf("token: %d %v", status, out)
	}
	return tok
}

// benchPost posts JSON and decodes the JSON answer.
func benchPost(b *testing.B, url, token string, body any) (int, map[string]any) {
	b.Helper()
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	out := map[string]any{}
	if err := json.Unmarshal(got, &out); err != nil {
		b.Fatalf("POST %s: %d %s", url, resp.StatusCode, got)
	}
	return resp.StatusCode, out
}

// benchREST is a slurmrestd client configured as the portal's.
func benchREST(b *testing.B) *slurm.REST {
	b.Helper()
	signer, err := slurm.NewTokenSigner(os.Getenv("KQI_SLURM_JWT_KEY_FILE"), 10*time.Minute)
	if err != nil {
		b.Fatal(err)
	}
	c, err := slurm.NewREST(slurm.RESTConfig{URL: os.Getenv("KQI_SLURM_REST_URL"), User: os.Getenv("KQI_SLURM_USER"), Signer: signer})
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// benchJobRoot is a directory on the shared filesystem for the raw jobs,
// owned by the cluster user as the portal's job directories are.
func benchJobRoot(b *testing.B) string {
	b.Helper()
	root := filepath.Join(os.Getenv("KQI_SHARED_ROOT"), "bench-raw-"+strconv.FormatInt(time.Now().UnixNano(), 36))
	if err := os.Mkdir(root, 0o755); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(root) })
	benchChown(b, root)
	return root
}

// benchJobDir lays out a job directory as the portal does (without a
// dataset to stage) and returns its path.
func benchJobDir(b *testing.B, root, name string) string {
	b.Helper()
	dir := filepath.Join(root, name)
	for _, p := range []string{dir, filepath.Join(dir, slurm.InputDir), filepath.Join(dir, slurm.OutputDir), filepath.Join(dir, slurm.AttachDir)} {
		if err := os.Mkdir(p, 0o755); err != nil {
			b.Fatal(err)
		}
		benchChown(b, p)
	}
	return dir
}

func benchChown(b *testing.B, path string) {
	b.Helper()
	u, err := user.Lookup(os.Getenv("KQI_SLURM_USER"))
	if err != nil {
		b.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(path, uid, gid); err != nil {
		b.Fatal(fmt.Errorf("chown %s: %w", path, err))
	}
}
