// Package metrics exposes the portal's Prometheus series at /metrics, to
// the addresses the site allows (KQI_METRICS_ALLOW) and no one else:
//
//	kqi_http_requests_total{route,code}   requests by route name and status
//	kqi_submit_duration_seconds{kind}     how long a submit took, refusals included
//	kqi_poll_duration_seconds             how long one poll of Slurm took
//	kqi_jobs{kind,status}                 jobs per kind and status (from the database at scrape)
//	kqi_slurm_errors_total{op}            failed calls to the cluster backend
//	kqi_uploads_in_flight                 multipart uploads being received
//	kqi_upload_bytes_total                bytes received in them
//	kqi_tenant_gpus_in_use{tenant}        GPUs held by each tenant's running jobs
//
// plus the Go runtime's and the process's own.
package metrics

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"kqi/slurm"
	"kqi/storage"
)

var (
	registry = prometheus.NewRegistry()

	httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kqi_http_requests_total", Help: "HTTP requests by route name and status code.",
	}, []string{"route", "code"})
	submitSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "kqi_submit_duration_seconds", Help: "Time to submit a job, from the request to Slurm's answer (or the refusal).",
		Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
	}, []string{"kind"})
	pollSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "kqi_poll_duration_seconds", Help: "Time of one poll of Slurm and update of the active jobs.",
		Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
	})
	slurmErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kqi_slurm_errors_total", Help: "Calls to the cluster backend that failed, by operation.",
	}, []string{"op"})
	uploadsInFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "kqi_uploads_in_flight", Help: "Multipart uploads being received.",
	})
	uploadBytes = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kqi_upload_bytes_total", Help: "Bytes received in multipart uploads.",
	})
)

func init() {
	registry.MustRegister(httpRequests, submitSeconds, pollSeconds, slurmErrors, uploadsInFlight, uploadBytes,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Every operation appears from the start, at 0.
	for _, op := range []string{"submit", "jobs", "find", "cancel", "partitions"} {
		slurmErrors.WithLabelValues(op)
	}
}

// ObserveSubmit records one submit of kind that began at start.
func ObserveSubmit(kind string, start time.Time) {
	submitSeconds.WithLabelValues(kind).Observe(time.Since(start).Seconds())
}

// ObservePoll records one poll that began at start.
func ObservePoll(start time.Time) { pollSeconds.Observe(time.Since(start).Seconds()) }

// Handler serves /metrics to the allowed addresses, with st's counts, and
// answers 404 to everyone else (and to anything relayed by a proxy, whose
// own address says nothing of the client: scrape the portal directly).
func Handler(allow []netip.Prefix, st *storage.Store) http.Handler {
	own := prometheus.NewRegistry()
	own.MustRegister(storeCollector{st})
	h := promhttp.HandlerFor(prometheus.Gatherers{registry, own}, promhttp.HandlerOpts{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowed(allow, r) {
			http.NotFound(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func allowed(allow []netip.Prefix, r *http.Request) bool {
	if r.Header.Get("X-Forwarded-For") != "" || r.Header.Get("Forwarded") != "" {
		return false
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range allow {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// storeCollector reads job counts and GPUs in use at each scrape.
type storeCollector struct{ st *storage.Store }

var (
	jobsDesc = prometheus.NewDesc("kqi_jobs", "Jobs per kind and status.", []string{"kind", "status"}, nil)
	gpusDesc = prometheus.NewDesc("kqi_tenant_gpus_in_use", "GPUs held by the tenant's running jobs.", []string{"tenant"}, nil)
)

func (c storeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- jobsDesc; ch <- gpusDesc }

func (c storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if counts, err := c.st.JobCounts(ctx); err != nil {
		ch <- prometheus.NewInvalidMetric(jobsDesc, err)
	} else {
		for _, n := range counts {
			ch <- prometheus.MustNewConstMetric(jobsDesc, prometheus.GaugeValue, float64(n.Count), n.Kind, n.Status)
		}
	}
	if gpus, err := c.st.GPUsInUse(ctx); err != nil {
		ch <- prometheus.NewInvalidMetric(gpusDesc, err)
	} else {
		for _, g := range gpus {
			ch <- prometheus.MustNewConstMetric(gpusDesc, prometheus.GaugeValue, float64(g.GPUs), g.Tenant)
		}
	}
}

// route carries the matched route's name from NameRoute out to Middleware.
type routeKey struct{}

type route struct{ name string }

// Middleware counts every request by route name ("unmatched" when no
// route took it) and status, and multipart uploads while they arrive.
// NameRoute must be one of the router's middlewares.
func Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt := &route{}
		r = r.WithContext(context.WithValue(r.Context(), routeKey{}, rt))
		if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") && r.Body != nil {
			uploadsInFlight.Inc()
			defer uploadsInFlight.Dec()
			r.Body = countingBody{r.Body}
		}
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		name := rt.name
		if name == "" {
			name = "unmatched"
		}
		httpRequests.WithLabelValues(name, strconv.Itoa(rec.status)).Inc()
	})
}

// NameRoute is a mux middleware that tells Middleware which route matched.
func NameRoute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rt, ok := r.Context().Value(routeKey{}).(*route); ok {
			if cur := mux.CurrentRoute(r); cur != nil {
				rt.name = cur.GetName()
			}
		}
		next.ServeHTTP(w, r)
	})
}

type recorder struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.wroteHeader {
		r.status, r.wroteHeader = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

type countingBody struct{ io.ReadCloser }

func (b countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	uploadBytes.Add(float64(n))
	return n, err
}

// Cluster counts c's failed calls by operation. A job Slurm no longer
// knows and a caller giving up are not failures of the cluster.
func Cluster(c slurm.Cluster) slurm.Cluster { return counted{c} }

type counted struct{ slurm.Cluster }

func count(op string, err error) {
	if err != nil && !errors.Is(err, slurm.ErrJobNotFound) && !errors.Is(err, context.Canceled) {
		slurmErrors.WithLabelValues(op).Inc()
	}
}

func (c counted) Submit(ctx context.Context, script string, spec slurm.JobSpec) (string, error) {
	id, err := c.Cluster.Submit(ctx, script, spec)
	count("submit", err)
	return id, err
}

func (c counted) Jobs(ctx context.Context, ids []string) (map[string]slurm.JobInfo, error) {
	m, err := c.Cluster.Jobs(ctx, ids)
	count("jobs", err)
	return m, err
}

func (c counted) FindJobs(ctx context.Context, ids, comments []string) (map[string]slurm.JobInfo, map[string][]slurm.JobInfo, error) {
	byID, byComment, err := c.Cluster.FindJobs(ctx, ids, comments)
	count("find", err)
	return byID, byComment, err
}

func (c counted) Cancel(ctx context.Context, id string) error {
	err := c.Cluster.Cancel(ctx, id)
	count("cancel", err)
	return err
}

func (c counted) Partitions(ctx context.Context) ([]slurm.Partition, error) {
	p, err := c.Cluster.Partitions(ctx)
	count("partitions", err)
	return p, err
}
