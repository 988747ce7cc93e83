package slurm

import (
	"reflect"
	"strings"
	"testing"
)

func TestProxyBridges(t *testing.T) {
	bridges, inside, err := proxyBridges([]EnvVar{
		{"LC_ALL", "C.UTF-8"},
		{"HTTP_PROXY", "http://proxy.example.org:3128"},
		{"http_proxy", "http://proxy.example.org:3128"},
		{"HTTPS_PROXY", "http://user:pw@other.example.org:3128"},
		{"NO_PROXY", "localhost"},
	})
	if err != nil {
		t.Fatal(err)
	}
	wantBridges := []proxyBridge{{"proxy.example.org:3128", 3128}, {"other.example.org:3128", 3129}}
	wantInside := []EnvVar{{"HTTPS_PROXY", "http://user:pw@127.0.0.1:3129"}, {"HTTP_PROXY", "http://127.0.0.1:3128"}, {"http_proxy", "http://127.0.0.1:3128"}}
	if !reflect.DeepEqual(bridges, wantBridges) || !reflect.DeepEqual(inside, wantInside) {
		t.Fatalf("bridges %v, inside %v", bridges, inside)
	}
	if _, _, err := proxyBridges([]EnvVar{{"HTTP_PROXY", "not a url"}}); err == nil {
		t.Error("a proxy that is not a URL was accepted")
	}
}

func TestIsolatedBubblewrapScript(t *testing.T) {
	spec := JobSpec{Name: "n", Comment: "c", CPUs: 1, Image: HostImage, Command: "true", JobDir: "/shared/j"}
	host, err := Render(spec, Bubblewrap{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(host, "--unshare-net") {
		t.Error("a host-network job unshares its network")
	}
	isolated, err := Render(spec, Bubblewrap{Network: NetworkIsolated})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(isolated, "args+=(--unshare-net)") || strings.Contains(isolated, "socat") {
		t.Errorf("isolated without a proxy:\n%s", isolated)
	}
	spec.SiteEnv = []EnvVar{{"HTTP_PROXY", "http://proxy.example.org:8080"}}
	bridged, err := Render(spec, Bubblewrap{Network: NetworkIsolated})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"--unshare-net", "--setenv HTTP_PROXY http://127.0.0.1:8080", "TCP:proxy.example.org:8080", "TCP-LISTEN:8080,bind=127.0.0.1", "--block-fd 5"} {
		if !strings.Contains(bridged, want) {
			t.Errorf("isolated with a proxy: no %q in\n%s", want, bridged)
		}
	}
}

func TestIsolatedApptainerScript(t *testing.T) {
	spec := JobSpec{Name: "n", Comment: "c", CPUs: 1, Image: "docker://python:3", Command: "true", JobDir: "/shared/j"}
	host, err := Render(spec, Apptainer{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(host, "--net") {
		t.Error("a host-network job gets a network namespace")
	}
	isolated, err := Render(spec, Apptainer{Network: NetworkIsolated})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(isolated, "--net --network none") || strings.Contains(isolated, "socat") {
		t.Errorf("isolated without a proxy:\n%s", isolated)
	}
	spec.SiteEnv = []EnvVar{{"HTTP_PROXY", "http://proxy.example.org:8080"}}
	bridged, err := Render(spec, Apptainer{Network: NetworkIsolated})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"--net --network none", "HTTP_PROXY=http://127.0.0.1:8080", "TCP:proxy.example.org:8080",
		"TCP-LISTEN:8080,bind=127.0.0.1", `"kqi-net:$dir" 1 8080 "${kqi_launch[@]}" "$1" <&0 &`} {
		if !strings.Contains(bridged, want) {
			t.Errorf("isolated with a proxy: no %q in\n%s", want, bridged)
		}
	}
	// Both launches (with and without registry credentials) are bridged.
	if n := strings.Count(bridged, `bash -c "$gate" "kqi-net:$dir"`); n != 2 {
		t.Errorf("%d bridged launches, want 2", n)
	}
}
