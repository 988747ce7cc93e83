// Package client is a Go client of the portal's JSON API (/api/v1), the
// one the kqi command uses. Bodies are the server's own types
// (portal/api/apitypes); uploads and downloads stream, so memory does not
// grow with file size.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"kqi/portal/api/apitypes"
)

// Client calls one portal with one token.
type Client struct {
	Server string // base URL, e.g. https://kqi.example.org
	Token  string
	HTTP   *http.Client
	// Timeout bounds each call that is not a transfer; a transfer is bounded
	// by the connect and response-header timeouts of HTTP's transport only.
	Timeout time.Duration
}

// New returns a client of server with token (which may be empty for
// Login).
func New(server, token string) *Client {
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 2 * time.Minute, // counted once the request is sent, so a long upload is fine
		IdleConnTimeout:       90 * time.Second,
	}
	return &Client{Server: strings.TrimRight(server, "/"), Token: token, HTTP: &http.Client{Transport: tr}, Timeout: time.Minute}
}

// Error is an answer other than 2xx: its status and the API's message.
type Error struct {
	Status  int
	Message string
	Fields  []apitypes.Field
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return msg
}

// IsNotFound reports whether err is the API's 404.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// request sends one request; body, if any, is sent as is with ctype.
func (c *Client) request(ctx context.Context, method, path string, body io.Reader, ctype string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.Server+"/api/v1"+path, body)
	if err != nil {
		return nil, fmt.Errorf("bad server URL %q: %v", c.Server, err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, reachErr(c.Server, err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		return nil, answerErr(resp)
	}
	return resp, nil
}

// reachErr says in one line that the server could not be reached, and why.
func reachErr(server string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s did not answer in time", server)
	}
	if errors.Is(err, context.Canceled) {
		return errors.New("cancelled")
	}
	return fmt.Errorf("cannot reach %s: %v", server, err)
}

func answerErr(resp *http.Response) error {
	var body apitypes.Error
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if json.Unmarshal(raw, &body) != nil || body.Error == "" {
		body.Error = fmt.Sprintf("the server answered %s", resp.Status)
	}
	return &Error{Status: resp.StatusCode, Message: body.Error, Fields: body.Fields}
}

// call sends in as JSON (nil for no body) and decodes the answer into out
// (nil to drop it), within the client's Timeout.
func (c *Client) call(ctx context.Context, method, path string, in, out any) error {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	var body io.Reader
	ctype := ""
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body, ctype = bytes.NewReader(raw), "application/json"
	}
	resp, err := c.request(ctx, method, path, body, ctype)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("reading the answer to %s %s: %v", method, path, err)
	}
	return nil
}

// Text fetches a small text resource (a script, a whole log).
func (c *Client) Text(ctx context.Context, path string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	resp, err := c.request(ctx, http.MethodGet, path, nil, "")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// Open starts a download of path: the body to stream from and its length
// (-1 when the server did not say). The caller closes it.
func (c *Client) Open(ctx context.Context, path string) (io.ReadCloser, int64, error) {
	resp, err := c.request(ctx, http.MethodGet, path, nil, "")
	if err != nil {
		return nil, 0, err
	}
	return resp.Body, resp.ContentLength, nil
}

// Query builds "?k=v&…" from pairs, leaving out empty values.
func Query(pairs ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			q.Add(pairs[i], pairs[i+1])
		}
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// PathEscape escapes a file path segment by segment (names may hold any
// UTF-8; "/" separates directories).
func PathEscape(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}
