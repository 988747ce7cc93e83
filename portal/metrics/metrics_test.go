package metrics_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"kqi/portal/metrics"
	"kqi/portal/portaltest"
	"kqi/slurm"
	"kqi/slurm/slurmfake"
)

// scrape reads /metrics into series → value.
func scrape(t *testing.T, url string, header http.Header) (int, map[string]float64) {
	t.Helper()
	req, _ := http.NewRequest("GET", url+"/metrics", nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	series := map[string]float64{}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, series
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		series[line[:i]] = v
	}
	return resp.StatusCode, series
}

func post(t *testing.T, env *portaltest.Env, path, token, contentType string, body io.Reader) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", env.URL+path, body)
	req.Header.Set("Content-Type", contentType)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]any{}
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func jsonBody(v any) io.Reader {
	b, _ := json.Marshal(v)
	return bytes.NewReader(b)
}

// The portal's series after a login, an upload, a GPU training that runs
// and a poll: requests by route and status, upload bytes, submit latency,
// poll duration, jobs per state, the tenant's GPUs in use.
func TestMetricsScrape(t *testing.T) {
	env := portaltest.New(t)
	env.Tenant(t, "lab-metrics")
	env.User(t, "alice", "correct-horse-9", false, "lab-metrics")
	_, before := scrape(t, env.URL, nil)

	status, tok := post(t, env, "/api/v1/auth/token", "", "application/json", jsonBody(map[string]string{"username": "alice", "password": "correct-horse-9"}))
	if status != http.StatusCreated {
		t.Fatalf("token: %d %v", status, tok)
	}
	token := tok["token"].(string)

	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("name", "weights")
	fw, _ := mw.CreateFormFile("file", "w.bin")
	fw.Write(bytes.Repeat([]byte("x"), 100_000))
	mw.Close()
	size := buf.Len()
	status, data := post(t, env, "/api/v1/data", token, mw.FormDataContentType(), &buf)
	if status != http.StatusCreated {
		t.Fatalf("upload: %d %v", status, data)
	}
	status, ds := post(t, env, "/api/v1/datasets", token, "application/json", jsonBody(map[string]any{
		"name": "ds", "entries": map[string][]int64{"training": {int64(data["id"].(float64))}}}))
	if status != http.StatusCreated {
		t.Fatalf("dataset: %d %v", status, ds)
	}

	status, created := post(t, env, "/api/v1/trainings", token, "application/json", jsonBody(map[string]any{
		"name": "gpu-1", "dataset_id": ds["id"], "command": "true", "cpu": 1, "memory_gb": 1, "gpu": 2, "partition": "gpu-a100"}))
	if status != http.StatusCreated {
		t.Fatalf("training: %d %v", status, created)
	}
	env.Fake.Set(created["slurm_job_id"].(string), func(j *slurm.JobInfo) { j.State = "RUNNING" })
	if err := env.Jobs.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}

	status, after := scrape(t, env.URL, nil)
	if status != http.StatusOK {
		t.Fatalf("/metrics from the portal host: %d", status)
	}
	grew := func(series string, by float64) {
		t.Helper()
		if after[series]-before[series] < by {
			t.Errorf("%s went from %v to %v, want +%v", series, before[series], after[series], by)
		}
	}
	grew(`kqi_http_requests_total{code="201",route="apiToken"}`, 1)
	grew(`kqi_http_requests_total{code="201",route="apiDataCreate"}`, 1)
	grew(`kqi_upload_bytes_total`, float64(size))
	grew(`kqi_submit_duration_seconds_count{kind="training"}`, 1)
	grew(`kqi_poll_duration_seconds_count`, 1)
	for series, want := range map[string]float64{
		`kqi_uploads_in_flight`:                        0,
		`kqi_jobs{kind="training",status="running"}`:   1,
		`kqi_tenant_gpus_in_use{tenant="lab-metrics"}`: 2,
		`kqi_slurm_errors_total{op="submit"}`:          after[`kqi_slurm_errors_total{op="submit"}`],
	} {
		if got, ok := after[series]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", series, got, ok, want)
		}
	}
	if _, ok := after[`go_goroutines`]; !ok {
		t.Error("no Go runtime series")
	}

	// Through a proxy, or from an address the site did not allow: 404.
	if status, _ := scrape(t, env.URL, http.Header{"X-Forwarded-For": {"203.0.113.9"}}); status != http.StatusNotFound {
		t.Errorf("/metrics relayed by a proxy: %d, want 404", status)
	}
	h := metrics.Handler([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, env.Store)
	for addr, want := range map[string]int{"10.1.2.3:5000": 200, "127.0.0.1:5000": 404, "[::1]:5000": 404, "192.0.2.1:80": 404} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/metrics", nil)
		req.RemoteAddr = addr
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("/metrics from %s: %d, want %d", addr, rec.Code, want)
		}
	}
}

// failing is a cluster whose calls fail, but for a job Slurm forgot.
type failing struct{ *slurmfake.Fake }

func (failing) Partitions(context.Context) ([]slurm.Partition, error) {
	return nil, errors.New("slurmctld down")
}
func (failing) Cancel(context.Context, string) error { return slurm.ErrJobNotFound }

func TestSlurmErrorsCounted(t *testing.T) {
	c := metrics.Cluster(failing{slurmfake.NewFake()})
	env := portaltest.New(t)
	_, before := scrape(t, env.URL, nil)
	c.Partitions(context.Background())
	c.Partitions(context.Background())
	c.Cancel(context.Background(), "1")
	_, after := scrape(t, env.URL, nil)
	if d := after[`kqi_slurm_errors_total{op="partitions"}`] - before[`kqi_slurm_errors_total{op="partitions"}`]; d != 2 {
		t.Errorf("partitions errors +%v, want +2", d)
	}
	if d := after[`kqi_slurm_errors_total{op="cancel"}`] - before[`kqi_slurm_errors_total{op="cancel"}`]; d != 0 {
		t.Errorf("a job Slurm forgot counted as a cluster error (+%v)", d)
	}
}
