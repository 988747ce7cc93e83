package slurm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// RESTConfig says how to reach slurmrestd.
type RESTConfig struct {
	URL     string       // e.g. http://127.0.0.1:6820
	Version string       // OpenAPI plugin version, e.g. v0.0.38
	User    string       // cluster user the calls act as (JWT `sun`)
	Signer  *TokenSigner // signs a fresh token per call
	Timeout time.Duration
	Retries int
}

// REST talks to slurmrestd with bounded retries and timeouts.
type REST struct {
	cfg  RESTConfig
	http *retryablehttp.Client
}

// NewREST builds a slurmrestd client.
func NewREST(cfg RESTConfig) (*REST, error) {
	if cfg.URL == "" || cfg.User == "" || cfg.Signer == nil {
		return nil, errors.New("slurm: REST client needs a URL, a user and a token signer")
	}
	if cfg.Version == "" {
		cfg.Version = "v0.0.38"
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
	cfg.URL = strings.TrimRight(cfg.URL, "/")
	return &REST{cfg: cfg, http: hc}, nil
}

// apiError is one entry of the errors[] every slurmrestd response carries.
// Field names differ between plugin versions; all are read.
type apiError struct {
	Error       string `json:"error"`
	Description string `json:"description"`
	Errno       int    `json:"errno"`
	ErrorNumber int    `json:"error_number"`
}

func (e apiError) String() string {
	msg := e.Error
	if e.Description != "" && e.Description != msg {
		msg = strings.TrimSpace(msg + " " + e.Description)
	}
	if n := e.Errno + e.ErrorNumber; n != 0 {
		msg = fmt.Sprintf("%s (errno %d)", msg, n)
	}
	return msg
}

// do sends one request under /slurm/{version}{path}. A 200 response whose
// errors[] is not empty is an error too: slurmrestd reports many failures
// that way.
func (c *REST) do(ctx context.Context, method, path string, body, out any) error {
	var reader io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("slurm: encode request: %w", err)
		}
		reader = bytes.NewReader(b)
	}
	url := c.cfg.URL + "/slurm/" + c.cfg.Version + path
	req, err := retryablehttp.NewRequestWithContext(ctx, method, url, reader)
	if err != nil {
		return fmt.Errorf("slurm: %s %s: %w", method, path, err)
	}
	token, err := c.cfg.Signer.Sign(c.cfg.User)
	if err != nil {
		return fmt.Errorf("slurm: sign token: %w", err)
	}
	req.Header.Set("X-SLURM-USER-NAME", c.cfg.User)
	req.Header.Set("X-SLURM-USER-TOKEN", token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("slurm: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("slurm: %s %s: read: %w", method, path, err)
	}
	var envelope struct {
		Errors []apiError `json:"errors"`
	}
	_ = json.Unmarshal(raw, &envelope) // a non-JSON body is reported below by status
	if len(envelope.Errors) > 0 {
		msgs := make([]string, len(envelope.Errors))
		for i, e := range envelope.Errors {
			msgs[i] = e.String()
		}
		return fmt.Errorf("slurm: %s %s: HTTP %d: %s", method, path, resp.StatusCode, strings.Join(msgs, "; "))
	}
	if resp.StatusCode >= 300 {
		return fmt.Errorf("slurm: %s %s: HTTP %d: %s", method, path, resp.StatusCode, snippet(raw))
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("slurm: %s %s: decode: %w", method, path, err)
		}
	}
	return nil
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
