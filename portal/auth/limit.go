package auth

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// ClientOf names the client of a request for FailureLimit: its IP address.
// Behind a reverse proxy every client shares the proxy's address, which
// then limits them together (the safe side).
func ClientOf(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// FailureLimit slows password guessing: after Max failed logins from one
// client within Window, further attempts are refused until the window ends,
// whatever the password. Kept in memory: a restart forgets, which is fine
// for slowing a guesser down.
type FailureLimit struct {
	Max    int
	Window time.Duration

	mu       sync.Mutex
	failures map[string]*failures
	now      func() time.Time
}

type failures struct {
	count int
	since time.Time
}

// NewFailureLimit allows max failures per window per client.
func NewFailureLimit(max int, window time.Duration) *FailureLimit {
	return &FailureLimit{Max: max, Window: window, failures: map[string]*failures{}, now: time.Now}
}

// Blocked reports whether client has used up its failures.
func (l *FailureLimit) Blocked(client string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.current(client)
	return f != nil && f.count >= l.Max
}

// Fail records a failed login of client.
func (l *FailureLimit) Fail(client string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.current(client)
	if f == nil {
		if len(l.failures) > 100000 {
			l.failures = map[string]*failures{} // bound memory under a flood
		}
		f = &failures{since: l.now()}
		l.failures[client] = f
	}
	f.count++
}

// current is client's record in the current window, or nil.
func (l *FailureLimit) current(client string) *failures {
	f := l.failures[client]
	if f != nil && l.now().Sub(f.since) > l.Window {
		delete(l.failures, client)
		return nil
	}
	return f
}
