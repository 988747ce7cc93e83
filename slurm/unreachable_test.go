package slurm

import (
	"context"
	"crypto/ed25519"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"kqi/slurm/login"

	"golang.org/x/crypto/ssh"
)

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func mustSigner(t *testing.T, key any) ssh.Signer {
	t.Helper()
	s, err := ssh.NewSignerFromKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A call that could not connect is ErrUnreachable (it had no effect); one
// that reached the service and failed is not.
func TestUnreachable(t *testing.T) {
	spec := JobSpec{Name: "j", Comment: "c", CPUs: 1, Image: HostImage, Command: "true", JobDir: "/shared/j"}
	t.Run("rest refused", func(t *testing.T) {
		c, _ := fakeREST(t, func(w http.ResponseWriter, r *http.Request) {})
		c.cfg.URL = "http://" + closedAddr(t)
		if _, err := c.Submit(context.Background(), "#!/bin/bash\n", spec); !errors.Is(err, ErrUnreachable) {
			t.Fatalf("submit to a closed port: %v; want ErrUnreachable", err)
		}
	})
	t.Run("rest answered an error", func(t *testing.T) {
		c, _ := fakeREST(t, func(w http.ResponseWriter, r *http.Request) { answer(w, 500, `{"errors":[{"error":"boom"}]}`) })
		if _, err := c.Submit(context.Background(), "#!/bin/bash\n", spec); err == nil || errors.Is(err, ErrUnreachable) {
			t.Fatalf("submit that reached slurmrestd: %v; want an error that is not ErrUnreachable", err)
		}
	})
	t.Run("ssh refused", func(t *testing.T) {
		_, priv, err := ed25519.GenerateKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		block, err := ssh.MarshalPrivateKey(priv, "")
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		key, known := filepath.Join(dir, "id"), filepath.Join(dir, "known_hosts")
		os.WriteFile(key, pem.EncodeToMemory(block), 0o600)
		addr := closedAddr(t)
		_, port, _ := net.SplitHostPort(addr)
		os.WriteFile(known, []byte("[127.0.0.1]:"+port+" "+string(ssh.MarshalAuthorizedKey(mustSigner(t, priv).PublicKey()))), 0o600)
		d, err := login.New(login.Config{Addr: addr, User: "kqi", KeyFile: key, KnownHostsFile: known})
		if err != nil {
			t.Fatal(err)
		}
		c := NewSSHOver(d, 5*time.Second)
		defer c.Close()
		if _, err := c.Submit(context.Background(), "#!/bin/bash\n", spec); !errors.Is(err, ErrUnreachable) {
			t.Fatalf("submit to a closed port: %v; want ErrUnreachable", err)
		}
	})
}
