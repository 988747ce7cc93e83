package auth

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Client names the client of a request for the limit: its IP address. A
// request that comes from one of the trusted reverse proxies is named by
// the nearest address in X-Forwarded-For that is not a trusted proxy
// itself; without that, every user behind the proxy would share one limit,
// and one guesser could lock them all out. The header is believed only
// from a trusted proxy: anyone else could write any address in it.
func (l *FailureLimit) Client(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	client, err := netip.ParseAddr(host)
	if err != nil || !l.trusted(client) {
		return host
	}
	// Each proxy appends the address it saw, so the right end is nearest.
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // a garbled hop: stop at the last address known good
		}
		client = hop
		if !l.trusted(hop) {
			break
		}
	}
	return client.Unmap().String()
}

func (l *FailureLimit) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range l.Proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// FailureLimit slows password guessing: after Max failed logins from one
// client within Window, further attempts are refused until the window ends,
// whatever the password. Kept in memory: a restart forgets, which is fine
// for slowing a guesser down.
type FailureLimit struct {
	Max    int
	Window time.Duration
	// Proxies are the reverse proxies whose X-Forwarded-For names the
	// client (KQI_TRUSTED_PROXIES).
	Proxies []netip.Prefix

	mu       sync.Mutex
	failures map[string]*failures
	now      func() time.Time
}

type failures struct {
	count int
	since time.Time
}

// NewFailureLimit allows max failures per window per client; proxies are
// the trusted reverse proxies in front of the portal.
func NewFailureLimit(max int, window time.Duration, proxies []netip.Prefix) *FailureLimit {
	return &FailureLimit{Max: max, Window: window, Proxies: proxies, failures: map[string]*failures{}, now: time.Now}
}

// Blocked reports whether client has used up its failures.
func (l *FailureLimit) Blocked(client string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.current(client)
	return f != nil && f.count >= l.Max
}

// Take counts an attempt of client before its password is checked and
// reports whether it may go ahead; a client that has used up its tries is
// refused. Counting first means parallel guesses cannot all pass the check
// while the slow password hashes run. A login that succeeds gives its
// attempt back (Succeeded).
func (l *FailureLimit) Take(client string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.record(client)
	if f.count >= l.Max {
		return false
	}
	f.count++
	return true
}

// Succeeded gives back the attempt of a login that was right.
func (l *FailureLimit) Succeeded(client string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if f := l.current(client); f != nil && f.count > 0 {
		f.count--
	}
}

// Fail records a failed login of client.
func (l *FailureLimit) Fail(client string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.record(client).count++
}

// record is client's record in the current window, made if need be.
func (l *FailureLimit) record(client string) *failures {
	f := l.current(client)
	if f == nil {
		if len(l.failures) > 100000 {
			l.failures = map[string]*failures{} // bound memory under a flood
		}
		f = &failures{since: l.now()}
		l.failures[client] = f
	}
	return f
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

// AccountDelay slows guessing at one account from many addresses: after
// Free failed logins of an account within Window, each further attempt
// must come Delay after the one before, whatever the address. It delays
// rather than locks, so an attacker cannot keep the owner out: they can
// still log in, at worst Delay later. A successful login clears the count.
type AccountDelay struct {
	Free   int
	Delay  time.Duration
	Window time.Duration

	mu       sync.Mutex
	accounts map[string]*attempts
	now      func() time.Time
}

type attempts struct {
	failures    int
	since, last time.Time
}

// NewAccountDelay allows free failures per account and window, then one
// attempt per delay.
func NewAccountDelay(free int, delay, window time.Duration) *AccountDelay {
	return &AccountDelay{Free: free, Delay: delay, Window: window, accounts: map[string]*attempts{}, now: time.Now}
}

// Take reports how long an attempt at account must still wait; 0 means it
// may go ahead, and the attempt is then counted as a failure until
// Succeeded says otherwise.
func (d *AccountDelay) Take(account string) time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	a := d.accounts[account]
	if a == nil || now.Sub(a.since) > d.Window {
		if len(d.accounts) > 100000 {
			d.accounts = map[string]*attempts{} // bound memory under a flood
		}
		a = &attempts{since: now}
		d.accounts[account] = a
	}
	if a.failures >= d.Free {
		if wait := a.last.Add(d.Delay).Sub(now); wait > 0 {
			return wait
		}
	}
	a.failures++
	a.last = now
	return 0
}

// Succeeded clears the account's failures.
func (d *AccountDelay) Succeeded(account string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.accounts, account)
}
