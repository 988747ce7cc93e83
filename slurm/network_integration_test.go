package slurm

import (
	"context"
	"fmt"
	"io"
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
// outside world. Real jobs on the dev cluster, run by bubblewrap and by
// Apptainer (the stand-in, slurm/internal/fakeapptainer, which makes the
// namespaces of --net --network none as Apptainer's user-namespace mode
// does but runs the command on the node's own files).
func TestJobNetwork(t *testing.T) {
	d := newDevCluster(t)
	c := d.backends[0].c
	portal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "portal") }))
	t.Cleanup(portal.Close) // the subtests run after this function returns
	// "Outside" is a server the job reaches only through the site's proxy,
	// which forwards what it is asked for.
	outside := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "outside "+r.URL.Path) }))
	t.Cleanup(outside.Close)
	direct := &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 10 * time.Second}
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, err := direct.Get(r.URL.String())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		fmt.Fprint(w, "via-proxy ")
		io.Copy(w, resp.Body)
	}))
	t.Cleanup(proxy.Close)
	rest, _ := url.Parse(d.env["KQI_SLURM_REST_URL"])
	ports := map[string]string{"portal": port(t, portal.URL), "postgres": "5432", "slurmrestd": rest.Port(), "sshd": port(t, "//"+d.env["KQI_SSH_ADDR"]),
		"outside": port(t, outside.URL)}
	var probe strings.Builder
	probe.WriteString(`probe() { if (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null; then echo "$1 open"; else echo "$1 closed"; fi; }` + "\n")
	for name, p := range ports {
		// ../output from /kqi/git: the stand-in's command sees the job's
		// directories where they are on the node.
		fmt.Fprintf(&probe, "probe %s %s >>../output/probe.txt\n", name, p)
	}
	viaProxy := `hp=${HTTP_PROXY#http://}; hp=${hp%/}; if exec 3<>"/dev/tcp/${hp%:*}/${hp##*:}"; then printf 'GET ` + outside.URL + `/x HTTP/1.0\r\n\r\n' >&3; cat <&3 >../output/proxy.txt; fi`

	// The stand-in and an image for it where the job's user reaches them.
	bin, images := filepath.Join(d.root, "apptainer", "bin", "apptainer"), filepath.Join(d.root, "images")
	d.mkdir(t, filepath.Dir(bin))
	d.mkdir(t, images)
	copyFile(t, fakeApptainer(t), bin, 0o755)
	writeFile(t, filepath.Join(images, "probe.sif"), "a SIF")
	runtimes := map[string]func(network string) (Runtime, string){
		"bubblewrap": func(n string) (Runtime, string) { return Bubblewrap{Network: n}, HostImage },
		"apptainer": func(n string) (Runtime, string) {
			return Apptainer{Binary: bin, ImageDir: images, Network: n}, filepath.Join(images, "probe.sif")
		},
	}

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
		for rt, runtime := range runtimes {
			t.Run(rt+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				command := probe.String()
				spec := d.spec(t, "net-"+rt+"-"+tc.name, "")
				if tc.proxy {
					spec.SiteEnv = []EnvVar{{"HTTP_PROXY", proxy.URL}, {"http_proxy", proxy.URL}}
					command += viaProxy + "\n"
				}
				spec.Command = command
				r, image := runtime(tc.network)
				spec.Image = image
				script, err := Render(spec, r)
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
					if !strings.Contains(string(got), "via-proxy outside /x") {
						t.Errorf("through the proxy: %q\nlog:\n%s", got, log)
					}
				}
			})
		}
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

// copyFile copies src to dst with mode perm.
func copyFile(t *testing.T, src, dst string, perm os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, perm); err != nil {
		t.Fatal(err)
	}
}
