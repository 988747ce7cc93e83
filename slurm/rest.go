package slurm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// RESTConfig says how to reach slurmrestd.
type RESTConfig struct {
	URL     string        // e.g. http://127.0.0.1:6820
	Version string        // OpenAPI plugin version, e.g. v0.0.38
	User    string        // cluster user the calls act as (JWT `sun`)
	Signer  *TokenSigner  // signs a fresh token per call
	Timeout time.Duration // per attempt; 15 s when 0
	Retries int           // attempts after the first for idempotent calls; 3 when 0

	// Environment is the batch script's environment. slurmrestd starts
	// the script with exactly this (v0.0.38 refuses an empty one), where
	// sbatch would pass the submitting shell's. Nil means a PATH with the
	// usual system directories, LANG=C.UTF-8, USER and LOGNAME.
	Environment []EnvVar
}

// REST talks to slurmrestd with bounded retries and timeouts.
type REST struct {
	cfg  RESTConfig
	http *retryablehttp.Client
}

// RESTVersion is the one slurmrestd OpenAPI plugin version the REST
// backend speaks (rest_v0038.go, rest_decode.go).
const RESTVersion = "v0.0.38"

// NewREST builds a slurmrestd client.
func NewREST(cfg RESTConfig) (*REST, error) {
	if cfg.URL == "" || cfg.User == "" || cfg.Signer == nil {
		return nil, errors.New("slurm: REST client needs a URL, a user and a token signer")
	}
	if cfg.Version == "" {
		cfg.Version = RESTVersion
	}
	if cfg.Version != RESTVersion {
		return nil, fmt.Errorf("slurm: slurmrestd plugin %s is not supported; KQI speaks %s", cfg.Version, RESTVersion)
	}
	if cfg.Environment == nil {
		cfg.Environment = []EnvVar{
			{"PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			{"LANG", "C.UTF-8"},
			{"USER", cfg.User},
			{"LOGNAME", cfg.User},
		}
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 15 * time.Second
	}
	if cfg.Retries == 0 {
		cfg.Retries = 3
	}
	hc := retryablehttp.NewClient()
	hc.RetryMax = cfg.Retries
	hc.RetryWaitMin = 200 * time.Millisecond
	hc.RetryWaitMax = 2 * time.Second
	hc.HTTPClient.Timeout = cfg.Timeout
	hc.Logger = nil // callers log with context; retryablehttp's logger would print URLs per attempt
	hc.CheckRetry = retryPolicy
	cfg.URL = strings.TrimRight(cfg.URL, "/")
	return &REST{cfg: cfg, http: hc}, nil
}

// apiError is one entry of the errors[] every slurmrestd response carries.
// Field names differ between plugin versions and even between endpoints of
// one version; all are read.
type apiError struct {
	Error       string `json:"error"`
	Description string `json:"description"`
	Source      string `json:"source"`
	ErrorCode   int    `json:"error_code"`
	ErrorNumber int    `json:"error_number"`
	Errno       int    `json:"errno"`
}

// code is the Slurm error number of the entry, 0 when it has none.
func (e apiError) code() int {
	for _, n := range []int{e.ErrorNumber, e.ErrorCode, e.Errno} {
		if n > 0 {
			return n
		}
	}
	return 0
}

func (e apiError) String() string {
	msg := e.Error
	if e.Description != "" && e.Description != msg {
		msg = strings.TrimSpace(msg + ": " + e.Description)
	}
	if n := e.code(); n != 0 {
		msg = fmt.Sprintf("%s (error %d)", msg, n)
	}
	return msg
}

// Slurm error numbers this package reacts to (slurm_errno.h).
const (
	slurmInvalidJobID = 2017 // ESLURM_INVALID_JOB_ID
	slurmJobHeld      = 2042 // ESLURM_JOB_HELD: a submit with hold succeeded
)

// RESTError is a slurmrestd call that failed: an HTTP status of 300 or more,
// or any status with a non-empty errors[].
type RESTError struct {
	Method, Path string
	Status       int
	Errors       []apiError
	Body         string // a snippet of a body without errors[], for the message
}

func (e *RESTError) Error() string {
	if len(e.Errors) == 0 {
		return fmt.Sprintf("slurm: %s %s: HTTP %d: %s", e.Method, e.Path, e.Status, e.Body)
	}
	msgs := make([]string, len(e.Errors))
	for i, x := range e.Errors {
		msgs[i] = x.String()
	}
	return fmt.Sprintf("slurm: %s %s: HTTP %d: %s", e.Method, e.Path, e.Status, strings.Join(msgs, "; "))
}

// Has reports whether Slurm gave the error number code.
func (e *RESTError) Has(code int) bool {
	for _, x := range e.Errors {
		if x.code() == code {
			return true
		}
	}
	return false
}

// Is makes errors.Is(err, ErrJobNotFound) true for "Invalid job id".
func (e *RESTError) Is(target error) bool {
	return target == ErrJobNotFound && e.Has(slurmInvalidJobID)
}

// noRetryKey marks a request context whose request must not be sent twice.
type noRetryKey struct{}

// withoutRetry keeps retryablehttp from repeating a request that is not
// idempotent: a submit whose answer was lost may have created a job, and a
// second attempt would create another. The portal finds such a job by its
// comment instead.
func withoutRetry(ctx context.Context) context.Context {
	return context.WithValue(ctx, noRetryKey{}, true)
}

// retryPolicy is retryablehttp's default (connection errors, 429 and 5xx)
// with two exceptions: requests marked withoutRetry, and answers in which
// Slurm itself reported errors. slurmrestd answers 500 to "Invalid job id"
// and to most refusals of slurmctld; asking again cannot change those.
func retryPolicy(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if v, _ := ctx.Value(noRetryKey{}).(bool); v {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		return false, err
	}
	if err == nil && resp != nil && resp.StatusCode >= 500 && slurmAnswered(resp) {
		return false, nil
	}
	return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
}

// slurmAnswered reports whether resp carries slurmrestd's errors[]. It
// reads the body and puts an identical one back for do.
func slurmAnswered(resp *http.Response) bool {
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(raw))
	if err != nil {
		return false
	}
	var envelope struct {
		Errors []apiError `json:"errors"`
	}
	return json.Unmarshal(raw, &envelope) == nil && len(envelope.Errors) > 0
}

// maxResponse bounds what one slurmrestd answer may hold in memory.
const maxResponse = 256 << 20

// do sends one request under /slurm/{version}{path}. A response whose
// errors[] is not empty is an error (*RESTError) even with HTTP 200:
// slurmrestd reports many failures that way. out is still decoded from a
// 2xx answer that carries errors, for callers that must look at both (a
// submit that created a job and also reports a problem).
func (c *REST) do(ctx context.Context, method, path string, body, out any) error {
	return c.send(ctx, method, "/slurm/"+c.cfg.Version+path, path, body, out)
}

// send is do for any path of the server: urlPath is requested, path
// names the call in errors.
func (c *REST) send(ctx context.Context, method, urlPath, path string, body, out any) error {
	resp, done, err := c.open(ctx, method, urlPath, path, body)
	if err != nil {
		return err
	}
	defer done()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return fmt.Errorf("slurm: %s %s: read: %w", method, path, err)
	}
	if len(raw) > maxResponse {
		// Cut JSON would fail to decode with a puzzling message; say what
		// happened instead.
		return fmt.Errorf("slurm: %s %s: the answer is larger than %d MiB", method, path, maxResponse>>20)
	}
	var envelope struct {
		Errors []apiError `json:"errors"`
	}
	_ = json.Unmarshal(raw, &envelope) // a non-JSON body is reported below by status
	var failure error
	switch {
	case len(envelope.Errors) > 0:
		failure = &RESTError{Method: method, Path: path, Status: resp.StatusCode, Errors: envelope.Errors}
	case resp.StatusCode >= 300:
		return &RESTError{Method: method, Path: path, Status: resp.StatusCode, Body: snippet(raw)}
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil && failure == nil {
			return fmt.Errorf("slurm: %s %s: decode: %w", method, path, err)
		}
	}
	return failure
}

// open sends one request and returns the answer; done closes its body and
// ends the call's deadline.
func (c *REST) open(ctx context.Context, method, urlPath, path string, body any) (*http.Response, func(), error) {
	var reader io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, nil, fmt.Errorf("slurm: encode request: %w", err)
		}
		reader = bytes.NewReader(b)
	}
	// Bounds the whole call, retries and their waits included.
	ctx, cancel := context.WithTimeout(ctx, (c.cfg.Timeout+c.http.RetryWaitMax)*time.Duration(c.cfg.Retries+1))
	url := c.cfg.URL + urlPath
	req, err := retryablehttp.NewRequestWithContext(ctx, method, url, reader)
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("slurm: %s %s: %w", method, path, err)
	}
	token, err := c.cfg.Signer.Sign(c.cfg.User)
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("slurm: sign token: %w", err)
	}
	req.Header.Set("X-SLURM-USER-NAME", c.cfg.User)
	req.Header.Set("X-SLURM-USER-TOKEN", token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("slurm: %s %s: %w", method, path, unreachable(err))
	}
	return resp, func() { resp.Body.Close(); cancel() }, nil
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// Ping asks slurmrestd to ping slurmctld; it fails when either is down or
// the token is refused.
func (c *REST) Ping(ctx context.Context) error {
	var resp struct {
		Pings []struct {
			Hostname string `json:"hostname"`
			Ping     string `json:"ping"`
		} `json:"pings"`
	}
	if err := c.do(ctx, http.MethodGet, "/ping", nil, &resp); err != nil {
		return err
	}
	for _, p := range resp.Pings {
		if p.Ping == "UP" {
			return nil
		}
	}
	return fmt.Errorf("slurm: no slurmctld answers ping (%+v)", resp.Pings)
}

var _ Cluster = (*REST)(nil)

// CheckVersion fails when slurmrestd does not serve the plugin version this
// client speaks, naming the ones it does: each Slurm release drops old
// versions, and a portal started against a newer daemon should say so
// rather than fail every call with "not found".
func (c *REST) CheckVersion(ctx context.Context) error {
	var spec struct {
		Paths map[string]json.RawMessage `json:"paths"`
	}
	if err := c.send(ctx, http.MethodGet, "/openapi/v3", "/openapi/v3", nil, &spec); err != nil {
		return err
	}
	served := map[string]bool{}
	for p := range spec.Paths {
		if rest, ok := strings.CutPrefix(p, "/slurm/"); ok {
			v, _, _ := strings.Cut(rest, "/")
			served[v] = true
		}
	}
	if served[c.cfg.Version] {
		return nil
	}
	versions := make([]string, 0, len(served))
	for v := range served {
		versions = append(versions, v)
	}
	sort.Strings(versions)
	return fmt.Errorf("slurm: slurmrestd at %s serves %s, not %s", c.cfg.URL, strings.Join(versions, ", "), c.cfg.Version)
}

// Submit implements Cluster: POST /job/submit with the script and the
// spec's options as fields. It is never retried (see withoutRetry). A
// response that carries a job id is a success even if errors[] is not
// empty: with --hold, v0.0.38 reports "Job is in held state" there, and a
// job that exists must be tracked, not reported as failed.
func (c *REST) Submit(ctx context.Context, script string, spec JobSpec) (string, error) {
	if err := spec.Validate(); err != nil {
		return "", fmt.Errorf("slurm: submit: %w", err)
	}
	job, err := v0038JobDesc(spec, c.cfg.Environment)
	if err != nil {
		return "", err
	}
	var resp struct {
		JobID noVal `json:"job_id"`
	}
	err = c.do(withoutRetry(ctx), http.MethodPost, "/job/submit", v0038Submit{Script: script, Job: job}, &resp)
	if id := resp.JobID.value(); id > 0 {
		return strconv.FormatInt(id, 10), nil
	}
	if err != nil {
		return "", fmt.Errorf("slurm: submit %s: %w", spec.Name, err)
	}
	return "", fmt.Errorf("slurm: submit %s: slurmrestd returned no job id", spec.Name)
}

// eachJob calls keep with every job the controller knows, decoding GET
// /jobs as a stream: memory stays flat in the number of jobs, whatever
// keep does not hold on to is garbage at once. slurmrestd has no filter by
// id or user in v0.0.38, so callers filter.
//
// update_time is not used: when nothing changed, slurmctld answers with no
// jobs at all, which a stateless client cannot tell from "no jobs", and on
// a busy cluster something has always changed since the last poll.
func (c *REST) eachJob(ctx context.Context, keep func(restJob)) error {
	const method, path = http.MethodGet, "/jobs"
	resp, done, err := c.open(ctx, method, "/slurm/"+c.cfg.Version+path, path, nil)
	if err != nil {
		return err
	}
	defer done()
	if resp.StatusCode >= 300 {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		var envelope struct {
			Errors []apiError `json:"errors"`
		}
		_ = json.Unmarshal(raw, &envelope)
		return &RESTError{Method: method, Path: path, Status: resp.StatusCode, Errors: envelope.Errors, Body: snippet(raw)}
	}
	errs, err := decodeJobs(resp.Body, keep)
	if err != nil {
		return fmt.Errorf("slurm: %s %s: decode: %w", method, path, err)
	}
	if len(errs) > 0 {
		return &RESTError{Method: method, Path: path, Status: resp.StatusCode, Errors: errs}
	}
	return nil
}

// Jobs implements Cluster with one GET /jobs.
func (c *REST) Jobs(ctx context.Context, ids []string) (map[string]JobInfo, error) {
	if len(ids) == 0 {
		return map[string]JobInfo{}, checkJobIDs(ids)
	}
	byID, _, err := c.FindJobs(ctx, ids, nil)
	return byID, err
}

// FindJobs implements Cluster with one GET /jobs.
func (c *REST) FindJobs(ctx context.Context, ids, comments []string) (map[string]JobInfo, map[string][]JobInfo, error) {
	if err := checkJobIDs(ids); err != nil {
		return nil, nil, err
	}
	byID, byComment := map[string]JobInfo{}, map[string][]JobInfo{}
	wantID := make(map[string]bool, len(ids))
	for _, id := range ids {
		wantID[id] = true
	}
	wantComment := wanted(comments)
	err := c.eachJob(ctx, func(j restJob) {
		mine := j.UserName == c.cfg.User && wantComment[j.Comment]
		for _, info := range j.infos() {
			if wantID[info.ID] {
				byID[info.ID] = info
			}
			if mine {
				byComment[j.Comment] = append(byComment[j.Comment], info)
			}
		}
	})
	if err != nil {
		return nil, nil, err
	}
	return byID, byComment, nil
}

// Cancel implements Cluster: DELETE /job/{id}, which sends SIGKILL to the
// whole job like scancel. slurmrestd itself treats an ended job as done.
func (c *REST) Cancel(ctx context.Context, id string) error {
	if err := checkJobIDs([]string{id}); err != nil {
		return err
	}
	if err := c.do(ctx, http.MethodDelete, "/job/"+id, nil, nil); err != nil {
		if errors.Is(err, ErrJobNotFound) {
			return fmt.Errorf("slurm: cancel %s: %w", id, ErrJobNotFound)
		}
		return fmt.Errorf("slurm: cancel %s: %w", id, err)
	}
	return nil
}

// Partitions implements Cluster from /partitions (default flag, time
// limit) and /nodes (CPUs, memory and GRES of each node, what jobs hold of
// them now, its state and its partitions). Partitions without nodes are left out, as sinfo does.
func (c *REST) Partitions(ctx context.Context) ([]Partition, error) {
	var parts struct {
		Partitions []restPartition `json:"partitions"`
	}
	if err := c.do(ctx, http.MethodGet, "/partitions", nil, &parts); err != nil {
		return nil, err
	}
	var nodes struct {
		Nodes []restNode `json:"nodes"`
	}
	if err := c.do(ctx, http.MethodGet, "/nodes", nil, &nodes); err != nil {
		return nil, err
	}
	b := newPartitionBuilder()
	for _, n := range nodes.Nodes {
		for _, p := range n.Partitions {
			b.node(p, n.Name, int(n.CPUs.value()), int(n.RealMemory.value()), n.GRES, nodeNow{
				Up:        nodeUp(n.State, n.StateFlags),
				AllocCPUs: int(n.AllocCPUs.value()), AllocMemMB: int(n.AllocMemory.value()),
				GRESUsed: n.GRESUsed,
			})
		}
	}
	for _, p := range parts.Partitions {
		bp, ok := b.parts[p.Name]
		if !ok {
			continue
		}
		for _, f := range p.Flags {
			if strings.EqualFold(f, "default") {
				bp.Default = true
			}
		}
		bp.MaxTime = time.Duration(p.MaxTimeLimit.value()) * time.Minute
	}
	return b.list(), nil
}
