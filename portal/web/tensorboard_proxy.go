package web

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"kqi/portal/jobs"
)

// tensorBoardProxyRoutes registers /tensorboard/{id}/…, the reverse proxy
// (HTTP and WebSocket) to a TensorBoard job's endpoint on its node. Every
// request resumes the session and loads the job through the visitor's
// tenant: another tenant's TensorBoard is not found, like none; compute
// nodes are reached by the portal only. There is no CSRF check here: the
// app's own requests carry no portal token, and the session cookie is
// SameSite=Lax, so other sites' forms and WebSockets arrive without it.
func (h *Handler) tensorBoardProxyRoutes() {
	r := h.router.NewRoute().Subrouter()
	r.Use(h.withSession, h.requireLogin, h.requireTenant)
	// Every method: the app's own requests go through as they are.
	r.Handle(jobs.TensorBoardRoot+"/{id:[0-9]+}", http.HandlerFunc(h.proxyTensorBoard)).Name("tensorboardProxy")
	r.PathPrefix(jobs.TensorBoardRoot + "/{id:[0-9]+}/").HandlerFunc(h.proxyTensorBoard).Name("tensorboardProxyPath")
}

// tensorBoardTransport reaches the nodes: never through a proxy from the
// environment, quick to give up on a node that does not answer.
var tensorBoardTransport = &http.Transport{
	Proxy:                 nil,
	DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	MaxIdleConnsPerHost:   16,
	IdleConnTimeout:       90 * time.Second,
	ResponseHeaderTimeout: 2 * time.Minute,
}

func (h *Handler) proxyTensorBoard(w http.ResponseWriter, r *http.Request) {
	tb, ok := h.tensorBoardFromRoute(w, r)
	if !ok {
		return
	}
	if !sameOrigin(r) {
		h.renderError(w, r, http.StatusForbidden, "error.csrf")
		return
	}
	if !tb.Active() || tb.StopRequested {
		h.render(w, r, http.StatusServiceUnavailable, "error", "error.title", errorData{Status: http.StatusServiceUnavailable, Message: "tensorboard.proxy_stopped"})
		return
	}
	endpoint, err := h.jobs.TensorBoardEndpoint(r.Context(), tb)
	if tb.Status != "running" || errors.Is(err, jobs.ErrNoEndpoint) {
		h.render(w, r, http.StatusServiceUnavailable, "error", "error.title", errorData{Status: http.StatusServiceUnavailable, Message: "tensorboard.proxy_starting"})
		return
	}
	if err := h.jobs.TensorBoardSeen(r.Context(), tb.ID); err != nil {
		h.log.Warn("recording a tensorboard request", "job", tb.ID, "error", err)
	}
	// This route's own server policy: a long response or a WebSocket is
	// not cut by the server's timeouts, and the app's pages keep the
	// app's Content-Security-Policy instead of the portal's (which would
	// block its scripts); the portal's other headers stay.
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Time{})
	rc.SetWriteDeadline(time.Time{})
	target := &url.URL{Scheme: "http", Host: endpoint}
	proxy := &httputil.ReverseProxy{
		Transport: tensorBoardTransport,
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target) // the path stays: the app serves below its prefix
			// The visitor's Host, so that an app checking a WebSocket's
			// Origin against it (as most do) sees the two agree.
			pr.Out.Host = pr.In.Host
			pr.SetXForwarded()
			dropPortalCookies(pr.Out)
			pr.Out.Header.Del("Authorization")
		},
		ModifyResponse: func(resp *http.Response) error {
			w.Header().Del("Content-Security-Policy")
			keepAppCookies(resp.Header)
			if loc, err := url.Parse(resp.Header.Get("Location")); err == nil && loc.Host == endpoint {
				loc.Scheme, loc.Host = "", ""
				resp.Header.Set("Location", loc.String())
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if errors.Is(err, context.Canceled) {
				return
			}
			h.log.Warn("tensorboard does not answer", "job", tb.ID, "endpoint", endpoint, "error", err)
			h.render(w, r, http.StatusBadGateway, "error", "error.title", errorData{Status: http.StatusBadGateway, Message: "tensorboard.proxy_unreachable"})
		},
	}
	proxy.ServeHTTP(w, r)
}

// portalCookies never leave the portal: the app on the node gets the
// request without the visitor's session.
var portalCookies = map[string]bool{sessionCookie: true, csrfCookie: true, langCookie: true}

func dropPortalCookies(r *http.Request) {
	cookies := r.Cookies()
	r.Header.Del("Cookie")
	for _, c := range cookies {
		if !portalCookies[c.Name] {
			r.AddCookie(c)
		}
	}
}

// keepAppCookies drops the app's Set-Cookie of a portal cookie's name: it
// would replace the visitor's session.
func keepAppCookies(h http.Header) {
	set := h.Values("Set-Cookie")
	h.Del("Set-Cookie")
	for _, c := range set {
		name, _, _ := strings.Cut(c, "=")
		if !portalCookies[strings.TrimSpace(name)] {
			h.Add("Set-Cookie", c)
		}
	}
}

// sameOrigin refuses a WebSocket (or any request) that names another
// site as its origin: browsers send Origin on every WebSocket handshake.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}
