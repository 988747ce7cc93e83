package slurm

import (
	"fmt"
	"net"
	"net/url"
	"sort"
	"strconv"
)

// The networks a job may get (KQI_JOB_NETWORK).
//
// NetworkHost shares the node's network namespace: the job reaches what
// the node reaches, its loopback services included (slurmrestd, the
// database, a portal on the node), and anything else that listens without
// authentication. NetworkIsolated gives the job a network namespace of its
// own with only its own loopback: no service of the node or the site is
// reachable. When the site sets a proxy (KQI_HTTP_PROXY, KQI_HTTPS_PROXY),
// an isolated job still reaches the outside world through it: the proxy
// variables inside point at a bridge on the job's own loopback that leads
// to the site's proxy (see proxyBridge), and nothing else leaves.
const (
	NetworkHost     = "host"
	NetworkIsolated = "isolated"
)

// CheckNetwork reports whether n is a job network.
func CheckNetwork(n string) error {
	switch n {
	case "", NetworkHost, NetworkIsolated:
		return nil
	}
	return fmt.Errorf("job network %q is not %s or %s", n, NetworkHost, NetworkIsolated)
}

// proxyVars are the variables that name a proxy for the job's programs.
var proxyVars = []string{"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"}

// proxyBridge is one site proxy an isolated job reaches: a listener on
// the job's loopback port Port forwards to Target (host:port) outside.
type proxyBridge struct {
	Target string
	Port   int
}

// proxyBridges reads the proxies of the site's variables and returns one
// bridge per proxy and the variables as the job sees them (pointing at the
// bridge on its loopback).
func proxyBridges(site []EnvVar) ([]proxyBridge, []EnvVar, error) {
	var bridges []proxyBridge
	byTarget := map[string]int{}
	var inside []EnvVar
	for _, e := range site {
		if !contains(proxyVars, e.Name) || e.Value == "" {
			continue
		}
		u, err := url.Parse(e.Value)
		if err != nil || u.Host == "" {
			return nil, nil, fmt.Errorf("%s %q is not a proxy URL like http://proxy.example.org:3128", e.Name, e.Value)
		}
		port := u.Port()
		if port == "" {
			port = map[string]string{"https": "443"}[u.Scheme]
			if port == "" {
				port = "80"
			}
		}
		target := net.JoinHostPort(u.Hostname(), port)
		if _, ok := byTarget[target]; !ok {
			p, _ := strconv.Atoi(port)
			for taken(bridges, p) {
				p++
			}
			byTarget[target] = len(bridges)
			bridges = append(bridges, proxyBridge{Target: target, Port: p})
		}
		u.Host = net.JoinHostPort("127.0.0.1", strconv.Itoa(bridges[byTarget[target]].Port))
		inside = append(inside, EnvVar{Name: e.Name, Value: u.String()})
	}
	sort.SliceStable(inside, func(i, j int) bool { return inside[i].Name < inside[j].Name })
	return bridges, inside, nil
}

func taken(bs []proxyBridge, port int) bool {
	for _, b := range bs {
		if b.Port == port {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// writeBridgedLaunch writes the end of a bubblewrap kqi_container for an
// isolated job with proxies: bwrap sets up its namespaces and waits
// (--block-fd) while, for each proxy, socat listens on a socket in kqi_tmp
// and forwards to the proxy, and a second socat, entered into the job's
// network namespace (nsenter, as the same user), listens on the job's
// loopback and forwards to that socket; then the command runs. Both
// bridges end with the job.
func writeBridgedLaunch(w *scriptWriter, bin string, bridges []proxyBridge) {
	w.raw("\tif ! command -v socat >/dev/null || ! command -v nsenter >/dev/null; then\n")
	w.raw("\t\tkqi_say \"KQI_JOB_NETWORK=isolated with a proxy needs socat and nsenter on the node\"\n")
	w.raw("\t\treturn 125\n")
	w.raw("\tfi\n")
	w.raw("\tlocal dir bridges=() bw pid ifd bfd rc i\n")
	w.raw("\tdir=$(mktemp -d \"$kqi_tmp/net.XXXXXX\") || return 125\n")
	w.raw("\tlocal info=$dir/info block=$dir/block\n")
	w.raw("\tmkfifo -m 600 \"$info\" \"$block\" || return 125\n")
	for i, b := range bridges {
		w.raw(fmt.Sprintf("\tsocat UNIX-LISTEN:\"$dir/proxy-%d.sock\",fork,mode=600 TCP:%s & bridges+=($!)\n", i, w.q(b.Target)))
	}
	w.raw("\t" + w.q(bin) + " --args 3 --info-fd 4 --block-fd 5 -- \"${kqi_launch[@]}\" \"$1\" 3< <(printf '%s\\0' \"${args[@]}\") 4>\"$info\" 5<\"$block\" &\n")
	w.raw("\tbw=$!\n")
	w.raw("\texec {ifd}<\"$info\" {bfd}>\"$block\"\n")
	w.raw("\tpid=$(grep -o '\"child-pid\": *[0-9]*' <&\"$ifd\" | grep -o '[0-9]*$')\n")
	w.raw("\texec {ifd}<&-\n")
	w.raw("\tif [[ -n $pid ]]; then\n")
	for i, b := range bridges {
		w.raw(fmt.Sprintf("\t\tnsenter -t \"$pid\" -U -n --preserve-credentials socat TCP-LISTEN:%d,bind=127.0.0.1,fork,reuseaddr UNIX-CONNECT:\"$dir/proxy-%d.sock\" & bridges+=($!)\n", b.Port, i))
		w.raw(fmt.Sprintf("\t\tfor i in {1..100}; do nsenter -t \"$pid\" -U -n --preserve-credentials bash -c 'exec 3<>/dev/tcp/127.0.0.1/%d' 2>/dev/null && break; sleep 0.1; done\n", b.Port))
	}
	w.raw("\t\techo go >&\"$bfd\"\n")
	w.raw("\tfi\n")
	w.raw("\texec {bfd}>&-\n")
	w.raw("\twait \"$bw\"; rc=$?\n")
	w.raw("\tkill \"${bridges[@]}\" 2>/dev/null\n")
	w.raw("\twait \"${bridges[@]}\" 2>/dev/null\n")
	w.raw("\trm -rf -- \"$dir\"\n")
	w.raw("\treturn \"$rc\"\n")
}

// ApptainerNetworkArgs are the apptainer exec arguments of a job network:
// none for the host's, --net --network none (a namespace with only
// loopback, open to unprivileged users) for an isolated one. Apptainer
// has no bridge to the site's proxy here: an isolated Apptainer job has no
// outside network at all.
func ApptainerNetworkArgs(network string) []string {
	if network == NetworkIsolated {
		return []string{"--net", "--network", "none"}
	}
	return nil
}
