package auth

import (
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

func TestFailureLimit(t *testing.T) {
	now := time.Unix(1000, 0)
	l := NewFailureLimit(3, time.Minute, nil)
	l.now = func() time.Time { return now }
	for i := 0; i < 3; i++ {
		if l.Blocked("a") {
			t.Fatalf("blocked after %d failures", i)
		}
		l.Fail("a")
	}
	if !l.Blocked("a") {
		t.Fatal("not blocked after 3 failures")
	}
	if l.Blocked("b") {
		t.Fatal("another client is blocked")
	}
	now = now.Add(61 * time.Second)
	if l.Blocked("a") {
		t.Fatal("still blocked after the window")
	}
}

func TestClientBehindTrustedProxies(t *testing.T) {
	l := NewFailureLimit(3, time.Minute, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24"), netip.MustParsePrefix("::1/128")})
	for _, tc := range []struct {
		name, remote string
		forwarded    []string
		want         string
	}{
		{"direct", "203.0.113.5:4000", nil, "203.0.113.5"},
		// An untrusted client cannot pick its name by writing the header.
		{"untrusted writes the header", "203.0.113.5:4000", []string{"198.51.100.1"}, "203.0.113.5"},
		{"one proxy", "10.0.0.2:80", []string{"198.51.100.1"}, "198.51.100.1"},
		// The client wrote a false first hop; the proxy appended the truth.
		{"spoofed first hop", "10.0.0.2:80", []string{"1.2.3.4, 198.51.100.1"}, "198.51.100.1"},
		{"two proxies", "10.0.0.2:80", []string{"198.51.100.1, 10.0.0.3"}, "198.51.100.1"},
		{"headers repeated", "10.0.0.2:80", []string{"198.51.100.9", "198.51.100.1"}, "198.51.100.1"},
		{"proxy without header", "10.0.0.2:80", nil, "10.0.0.2"},
		{"garbled hop", "10.0.0.2:80", []string{"198.51.100.1, not-an-ip"}, "10.0.0.2"},
		{"ipv6 proxy", "[::1]:80", []string{"2001:db8::7"}, "2001:db8::7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/login", nil)
			r.RemoteAddr = tc.remote
			for _, v := range tc.forwarded {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := l.Client(r); got != tc.want {
				t.Fatalf("Client = %q, want %q", got, tc.want)
			}
		})
	}
}
