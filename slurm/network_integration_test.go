package slurm

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A job on an isolated network reaches none of the node's loopback
// services (the portal, PostgreSQL, slurmrestd, sshd) while a job on the
// host's network does; through the site's proxy it still reaches the
// outside world. Real jobs on the dev cluster, run by bubblewrap.
func TestJobNetwork(t *testing.T) {
	d := newDevCluster(t)
	c := d.backends[0].c
	portal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "portal") }))
	t.Cleanup(portal.Close) // the subtests run after this function returns
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "via-proxy "+r.URL.String()) }))
	t.Cleanup(proxy.Close)
	rest, _ := url.Parse(d.env["KQI_SLURM_REST_URL"])
	ports := map[string]string{"portal": port(t, portal.URL), "postgres": "5432", "slurmrestd": rest.Port(), "sshd": port(t, "//"+d.env["KQI_SSH_ADDR"])}
	var probe strings.Builder
	probe.WriteString(`probe() { if (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null; then echo "$1 open"; else echo "$1 closed"; fi; }` + "\n")
	for name, p := range ports {
		fmt.Fprintf(&probe, "probe %s %s >>/kqi/output/probe.txt\n", name, p)
	}
	viaProxy := `hp=${HTTP_PROXY#http://}; hp=${hp%/}; if exec 3<>"/dev/tcp/${hp%:*}/${hp##*:}"; then printf 'GET http://example.invalid/x HTTP/1.0\r\n\r\n' >&3; cat <&3 >/kqi/output/proxy.txt; fi`

	for _, tc := range []struct {
		name    string
		network string
		proxy   bool
		want    string // every service's state
	}{
		{"host", NetworkHost, false, "open"},
		{"isolated", NetworkIsolated, false, "closed"},
		{"isolated-proxy", NetworkIsolated, true, "closed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			command := probe.String()
			spec := d.spec(t, "net-"+tc.name, "")
			if tc.proxy {
				spec.SiteEnv = []EnvVar{{"HTTP_PROXY", proxy.URL}, {"http_proxy", proxy.URL}}
				command += viaProxy + "\n"
			}
			spec.Command = command
			script, err := Render(spec, Bubblewrap{Network: tc.network})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			id, err := c.Submit(ctx, script, spec)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cancelJob(c, id) })
			j := waitFor(t, c, id, 2*time.Minute, "ended", ended)
			log, _ := os.ReadFile(spec.Path(LogFile))
			if o := outcome(t, j, spec.JobDir); o.Status != StatusCompleted {
				t.Fatalf("outcome %+v, log:\n%s", o, log)
			}
			out, _ := os.ReadFile(filepath.Join(spec.JobDir, OutputDir, "probe.txt"))
			for name := range ports {
				if !strings.Contains(string(out), name+" "+tc.want) {
					t.Errorf("%s: want %s %s, probe:\n%s\nlog:\n%s", tc.name, name, tc.want, out, log)
				}
			}
			if tc.proxy {
				got, _ := os.ReadFile(filepath.Join(spec.JobDir, OutputDir, "proxy.txt"))
				if !strings.Contains(string(got), "via-proxy http://example.invalid/x") {
					t.Errorf("through the proxy: %q\nlog:\n%s", got, log)
				}
			}
		})
	}
}

func port(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, p, err := net.SplitHostPort(u.Host); err == nil {
		return p
	}
	t.Fatalf("no port in %q", raw)
	return ""
}
