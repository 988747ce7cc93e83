package notify

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"

	"kqi/portal/config"
)

// Guard keeps webhooks off the portal's own network: a webhook is a URL a
// user chooses and the portal calls, so without it any user could make
// the portal post to the database host, the cluster's REST API or the
// portal itself. Addresses that are loopback, link-local, private or
// otherwise special, and the portal's own, are refused unless the site's
// allow-list (KQI_WEBHOOK_ALLOW) holds them. A URL is checked when it is
// saved and again at each call, on the address actually dialled, since
// what a name resolves to can change in between.
type Guard struct {
	Allow []netip.Prefix // allowed even when internal
	Self  []string       // the portal's own host names (its base URL's)
}

// GuardFor is the site's guard.
func GuardFor(cfg *config.Config) Guard {
	g := Guard{Allow: cfg.WebhookAllow}
	if u, err := url.Parse(cfg.BaseURL); err == nil && u.Hostname() != "" {
		g.Self = []string{u.Hostname()}
	}
	return g
}

var (
	// ErrInternal refuses an address the guard keeps webhooks from.
	ErrInternal = errors.New("notify: the webhook's address is internal (see KQI_WEBHOOK_ALLOW)")
	// ErrUnresolvable is a webhook host that resolves to no address.
	ErrUnresolvable = errors.New("notify: the webhook's host does not resolve")
)

// special are ranges no public service is reached at, besides those
// netip names (loopback, private, link-local, multicast, unspecified).
var special = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8",       // "this network"
		"100.64.0.0/10",   // carrier-grade NAT
		"192.0.0.0/24",    // protocol assignments
		"198.18.0.0/15",   // benchmarking
		"240.0.0.0/4",     // reserved, and broadcast
		"64:ff9b::/96",    // NAT64: would reach any IPv4 address, internal ones too
		"64:ff9b:1::/48",  // local NAT64
		"fec0::/10",       // old site-local
		"2001:db8::/32",   // documentation
		"192.0.2.0/24",    // documentation
		"198.51.100.0/24", // documentation
		"203.0.113.0/24",  // documentation
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

func internal(a netip.Addr) bool {
	if a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() {
		return true
	}
	for _, p := range special {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Allowed reports whether a webhook may be sent to a.
func (g Guard) Allowed(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range g.Allow {
		if p.Contains(a) {
			return true
		}
	}
	return !internal(a) && !g.own(a)
}

// own reports whether a is one of the portal's addresses: of this host's
// interfaces, or what its own names resolve to.
func (g Guard) own(a netip.Addr) bool {
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, ia := range addrs {
			if n, ok := ia.(*net.IPNet); ok {
				if b, ok := netip.AddrFromSlice(n.IP); ok && b.Unmap() == a {
					return true
				}
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, host := range g.Self {
		ips, _ := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		for _, b := range ips {
			if b.Unmap() == a {
				return true
			}
		}
	}
	return false
}

// CheckHost resolves a webhook's host and refuses it when any of its
// addresses is not allowed (a name with one internal address among
// public ones would reach it at some call).
func (g Guard) CheckHost(ctx context.Context, host string) error {
	if a, err := netip.ParseAddr(host); err == nil {
		if !g.Allowed(a) {
			return ErrInternal
		}
		return nil
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(ips) == 0 {
		return ErrUnresolvable
	}
	for _, a := range ips {
		if !g.Allowed(a) {
			return ErrInternal
		}
	}
	return nil
}

// Client is the HTTP client webhooks are sent with: no proxy (the guard
// must see the real address), no redirects (a redirect could lead
// inside), and every connection's address checked as it is dialled.
func (g Guard) Client() *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second, Control: func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil || !g.Allowed(ap.Addr()) {
			return ErrInternal
		}
		return nil
	}}
	return &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{Proxy: nil, DialContext: d.DialContext, ForceAttemptHTTP2: true,
			TLSHandshakeTimeout: 10 * time.Second, ResponseHeaderTimeout: 10 * time.Second, MaxIdleConns: 4, IdleConnTimeout: 30 * time.Second},
	}
}
