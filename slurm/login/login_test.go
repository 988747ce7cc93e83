package login

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"kqi/slurm/slurmtest"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// devConfig is the dev cluster's login node (an integration test: skipped
// by make test-unit, failing without the settings otherwise).
func devConfig(t *testing.T) Config {
	t.Helper()
	env := slurmtest.Integration(t, "KQI_SSH_ADDR", "KQI_SSH_USER", "KQI_SSH_KEY_FILE", "KQI_SSH_KNOWN_HOSTS")
	return Config{Addr: env["KQI_SSH_ADDR"], User: env["KQI_SSH_USER"], KeyFile: env["KQI_SSH_KEY_FILE"], KnownHostsFile: env["KQI_SSH_KNOWN_HOSTS"]}
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func newPublicKey(t *testing.T) ssh.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestKnownAlgorithms(t *testing.T) {
	ed := newPublicKey(t)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaPub, err := ssh.NewPublicKey(&rsaKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	line := func(host string, k ssh.PublicKey) string { return host + " " + string(ssh.MarshalAuthorizedKey(k)) }
	kh := writeFile(t, "known_hosts", []byte(line("[login.example]:2222", ed)+line("rsa.example", rsaPub)))
	cb, err := knownhosts.New(kh)
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string][]string{
		"login.example:2222": {ssh.KeyAlgoED25519},
		"rsa.example:22":     {ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA},
	} {
		if got, err := knownAlgorithms(cb, addr); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("algorithms for %s = %v, %v; want %v", addr, got, err, want)
		}
	}
	if got, err := knownAlgorithms(cb, "unknown.example:22"); err == nil || !strings.Contains(err.Error(), "not in the known_hosts") {
		t.Errorf("an unlisted host = %v, %v", got, err)
	}
}

// New reads everything once and refuses what cannot work at start-up,
// for every user of the dialer alike.
func TestNewRefuses(t *testing.T) {
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	key := writeFile(t, "id_ed25519", pem.EncodeToMemory(block))
	known := writeFile(t, "known_hosts", []byte("[login.example]:2222 "+string(ssh.MarshalAuthorizedKey(newPublicKey(t)))))
	empty := writeFile(t, "empty", nil)
	good := Config{Addr: "login.example:2222", User: "kqi", KeyFile: key, KnownHostsFile: known}
	if _, err := New(good); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		edit func(c *Config)
		want string
	}{
		"no user":             {func(c *Config) { c.User = "" }, "needs"},
		"no address":          {func(c *Config) { c.Addr = "" }, "needs"},
		"missing key file":    {func(c *Config) { c.KeyFile = key + ".nope" }, "ssh key"},
		"key file not a key":  {func(c *Config) { c.KeyFile = empty }, "ssh key"},
		"missing known_hosts": {func(c *Config) { c.KnownHostsFile = known + ".nope" }, "known_hosts"},
		"host not known":      {func(c *Config) { c.KnownHostsFile = empty }, "not in the known_hosts"},
		"other host known":    {func(c *Config) { c.Addr = "login.example:22" }, "not in the known_hosts"},
	} {
		cfg := good
		tc.edit(&cfg)
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: New = %v, want an error saying %q", name, err, tc.want)
		}
	}
}

func TestDial(t *testing.T) {
	cfg := devConfig(t)
	ctx := context.Background()

	t.Run("runs-a-command", func(t *testing.T) {
		d, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if d.User() != cfg.User || d.Addr() != cfg.Addr {
			t.Fatalf("User %q Addr %q", d.User(), d.Addr())
		}
		c, err := d.Dial(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		s, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if out, err := s.Output("id -un"); err != nil || strings.TrimSpace(string(out)) != cfg.User {
			t.Fatalf("id -un = %q, %v", out, err)
		}
	})

	t.Run("host-key-mismatch", func(t *testing.T) {
		known, err := os.ReadFile(cfg.KnownHostsFile)
		if err != nil {
			t.Fatal(err)
		}
		host, _, _ := strings.Cut(strings.TrimSpace(string(known)), " ")
		bad := cfg
		bad.KnownHostsFile = writeFile(t, "known_hosts", []byte(host+" "+string(ssh.MarshalAuthorizedKey(newPublicKey(t)))))
		d, err := New(bad)
		if err != nil {
			t.Fatal(err)
		}
		if c, err := d.Dial(ctx); err == nil || !strings.Contains(err.Error(), "key mismatch") {
			if c != nil {
				c.Close()
			}
			t.Fatalf("connected despite a wrong host key: %v", err)
		}
	})

	t.Run("nothing-listening", func(t *testing.T) {
		d := silentDialer(t, cfg, closedAddr(t), time.Second)
		if _, err := d.Dial(ctx); err == nil || !strings.Contains(err.Error(), "dial") {
			t.Fatalf("Dial = %v", err)
		}
	})

	// A server that accepts but never speaks holds the handshake up only
	// until the timeout, or until ctx ends.
	t.Run("silent-server", func(t *testing.T) {
		addr := silentServer(t)
		d := silentDialer(t, cfg, addr, 300*time.Millisecond)
		start := time.Now()
		if _, err := d.Dial(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Dial past the timeout = %v", err)
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Fatalf("the timeout took %s", took)
		}
		d = silentDialer(t, cfg, addr, time.Minute)
		cctx, cancel := context.WithCancel(ctx)
		time.AfterFunc(200*time.Millisecond, cancel)
		start = time.Now()
		if _, err := d.Dial(cctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Dial with a cancelled context = %v", err)
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Fatalf("cancelling took %s", took)
		}
	})
}

// silentDialer is a Dialer for cfg's credentials that dials addr, with
// addr's host key taken as the login node's.
func silentDialer(t *testing.T, cfg Config, addr string, timeout time.Duration) *Dialer {
	t.Helper()
	cfg.Addr, cfg.Timeout = addr, timeout
	cfg.KnownHostsFile = knownAs(t, cfg.KnownHostsFile, addr)
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// knownAs copies the login node's known_hosts entry for another address.
func knownAs(t *testing.T, file, addr string) string {
	t.Helper()
	known, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	_, key, _ := strings.Cut(strings.TrimSpace(string(known)), " ")
	return writeFile(t, "known_hosts", []byte(knownhosts.Normalize(addr)+" "+key+"\n"))
}

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

// silentServer accepts connections and never writes to them.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
			go io.Copy(io.Discard, c)
		}
	}()
	return ln.Addr().String()
}

// The keepalive keeps an idle connection open while the server answers,
// and closes it once the server stops answering (a network that drops
// every packet), so its users fail over instead of hanging.
func TestKeepAlive(t *testing.T) {
	cfg := devConfig(t)
	p := newBlackHoleProxy(t, cfg.Addr)
	cfg.Addr, cfg.Timeout, cfg.KeepAlive = p.addr, 500*time.Millisecond, 100*time.Millisecond
	cfg.KnownHostsFile = knownAs(t, cfg.KnownHostsFile, p.addr)
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c, err := d.Dial(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	died := make(chan struct{})
	go func() {
		c.Wait()
		close(died)
	}()
	select {
	case <-died:
		t.Fatal("a connection whose server answers was closed")
	case <-time.After(time.Second): // ten keepalives answered
	}
	p.swallow.Store(true)
	start := time.Now()
	select {
	case <-died:
	case <-time.After(5 * time.Second):
		t.Fatal("a connection whose server stopped answering is still open")
	}
	t.Logf("closed %s after the server went silent", time.Since(start))
}

// blackHoleProxy forwards TCP to a server until swallow is set, then
// drops everything either way while keeping both connections open.
type blackHoleProxy struct {
	addr    string
	swallow atomic.Bool
}

func newBlackHoleProxy(t *testing.T, target string) *blackHoleProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &blackHoleProxy{addr: ln.Addr().String()}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	pipe := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if err != nil {
				dst.Close()
				return
			}
			if p.swallow.Load() {
				continue
			}
			if _, err := dst.Write(buf[:n]); err != nil {
				src.Close()
				return
			}
		}
	}
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, in, out)
			mu.Unlock()
			go pipe(out, in)
			go pipe(in, out)
		}
	}()
	return p
}
