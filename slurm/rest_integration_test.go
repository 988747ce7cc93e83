package slurm

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"kqi/slurm/slurmtest"
)

// devREST builds a client for the dev cluster's slurmrestd (an integration
// test: see slurmtest.Integration).
func devREST(t *testing.T) *REST {
	t.Helper()
	env := slurmtest.Integration(t, "KQI_SLURM_JWT_KEY_FILE", "KQI_SLURM_REST_URL", "KQI_SLURM_USER")
	signer, err := NewTokenSigner(env["KQI_SLURM_JWT_KEY_FILE"], 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewREST(RESTConfig{URL: env["KQI_SLURM_REST_URL"], User: env["KQI_SLURM_USER"], Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// slurmrestd accepts the portal's own tokens: ping and the partition list
// answer, and the partitions are the ones sinfo shows.
func TestRESTAcceptsSignedToken(t *testing.T) {
	c := devREST(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	var resp struct {
		Partitions []struct {
			Name string `json:"name"`
		} `json:"partitions"`
	}
	if err := c.do(ctx, http.MethodGet, "/partitions", nil, &resp); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range resp.Partitions {
		got = append(got, p.Name)
	}
	sort.Strings(got)
	out, err := exec.CommandContext(ctx, "sinfo", "-h", "-o", "%R").Output()
	if err != nil {
		t.Fatalf("sinfo: %v", err)
	}
	want := strings.Fields(string(out))
	sort.Strings(want)
	if strings.Join(got, ",") != strings.Join(want, ",") || !strings.Contains(strings.Join(got, ","), "gpu-a100") {
		t.Fatalf("slurmrestd partitions %v, sinfo %v", got, want)
	}
}

// A token signed with another key is refused, and the refusal is an error.
func TestRESTRefusesForeignToken(t *testing.T) {
	c := devREST(t)
	file := t.TempDir() + "/other.key"
	os.WriteFile(file, []byte("this-is-not-the-cluster-key-0123456789"), 0o600)
	other, _ := NewTokenSigner(file, time.Minute)
	c.cfg.Signer = other
	c.http.RetryMax = 0
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Ping(ctx); err == nil {
		t.Fatal("slurmrestd accepted a token signed with a foreign key")
	}
}

// The dev cluster's slurmrestd serves the version the client speaks.
func TestRESTCheckVersionOnDevCluster(t *testing.T) {
	c := devREST(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.CheckVersion(ctx); err != nil {
		t.Fatal(err)
	}
}
