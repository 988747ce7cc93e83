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

// apptainerGate runs first in an isolated Apptainer job with proxies,
// inside the container: it waits until every bridge listens on the job's
// loopback (ports given after their count) and then runs the command
// line that follows. Its $0 names the job's bridge directory, which is
// how the script finds the container's processes. Bash alone: the image
// needs nothing but the bash every job needs.
const apptainerGate = `for p in "${@:2:$1}"; do ` +
	`until (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do ` +
	`if ((SECONDS > 120)); then echo "kqi: the bridge to the site's proxy did not come up" >&2; exit 125; fi; ` +
	`sleep 0.1 2>/dev/null; done; done; shift "$(($1 + 1))"; exec "$@"`

// writeApptainerBridge writes the end of an Apptainer kqi_container for
// an isolated job with proxies. Apptainer has no way to hold a container
// before it starts, and joining a prepared namespace (--netns-path) is
// for root or users an administrator lists, so the container starts with
// apptainerGate in front of the command: meanwhile, for each proxy, socat
// listens on a socket in kqi_tmp and forwards to the proxy, the script
// finds the gate's process (in another network namespace, its $0 naming
// this job's directory) and a second socat, entered into that process's
// user and network namespaces (nsenter, as the same user: Apptainer's
// user-namespace mode, the default since 1.1, makes the job's user their
// owner), listens on the job's loopback and forwards to the socket. Then
// the gate lets the command run. The bridges end with the job.
func writeApptainerBridge(w *scriptWriter, bridges []proxyBridge, run func(launch, after string)) {
	w.raw("\tif ! command -v socat >/dev/null || ! command -v nsenter >/dev/null; then\n")
	w.raw("\t\tkqi_say \"KQI_JOB_NETWORK=isolated with a proxy needs socat and nsenter on the node\"\n")
	w.raw("\t\treturn 125\n")
	w.raw("\tfi\n")
	w.raw("\tlocal dir bridges=() app pid= p i rc gate=" + w.q(apptainerGate) + "\n")
	w.raw("\tdir=$(mktemp -d \"$kqi_tmp/net.XXXXXX\") || return 125\n")
	ports := ""
	for i, b := range bridges {
		w.raw(fmt.Sprintf("\tsocat UNIX-LISTEN:\"$dir/proxy-%d.sock\",fork,mode=600 TCP:%s & bridges+=($!)\n", i, w.q(b.Target)))
		ports += fmt.Sprintf(" %d", b.Port)
	}
	// Explicit stdin: a background command's is /dev/null, and a shell
	// into the job reads its keys from it.
	run(fmt.Sprintf(`bash -c "$gate" "kqi-net:$dir" %d%s "${kqi_launch[@]}" "$1"`, len(bridges), ports), " <&0 &")
	w.raw("\tapp=$!\n")
	w.raw("\t# Up to two minutes for the container to start (an image may be converted first).\n")
	w.raw("\tfor ((i = 0; i < 1200 && ! pid; i++)); do\n")
	w.raw("\t\tfor p in /proc/[0-9]*; do\n")
	w.raw("\t\t\tif [[ -e $p/ns/net && ! $p/ns/net -ef /proc/$$/ns/net ]] && grep -qsaF -- \"kqi-net:$dir\" \"$p/cmdline\"; then pid=${p#/proc/}; break; fi\n")
	w.raw("\t\tdone\n")
	w.raw("\t\tif [[ -z $pid ]]; then kill -0 \"$app\" 2>/dev/null || break; sleep 0.1; fi\n")
	w.raw("\tdone\n")
	w.raw("\tif [[ -n $pid ]] && ! nsenter -t \"$pid\" -U -n --preserve-credentials true; then\n")
	w.raw("\t\tkqi_say \"KQI_JOB_NETWORK=isolated: cannot enter the job's network namespace (Apptainer in setuid mode needs --userns in KQI_APPTAINER_ARGS)\"\n")
	w.raw("\t\tkill \"$app\" 2>/dev/null\n")
	w.raw("\telif [[ -n $pid ]]; then\n")
	for i, b := range bridges {
		w.raw(fmt.Sprintf("\t\tnsenter -t \"$pid\" -U -n --preserve-credentials socat TCP-LISTEN:%d,bind=127.0.0.1,fork,reuseaddr UNIX-CONNECT:\"$dir/proxy-%d.sock\" & bridges+=($!)\n", b.Port, i))
	}
	w.raw("\tfi\n")
	w.raw("\twait \"$app\"; rc=$?\n")
	w.raw("\tkill \"${bridges[@]}\" 2>/dev/null\n")
	w.raw("\twait \"${bridges[@]}\" 2>/dev/null\n")
	w.raw("\trm -rf -- \"$dir\"\n")
	w.raw("\treturn \"$rc\"\n")
}
