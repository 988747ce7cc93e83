package portaltest

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"kqi/portal/config"
	"kqi/portal/shell"
	"kqi/slurm"
	"kqi/slurm/login"
	"kqi/slurm/slurmtest"
	"kqi/storage"
	"kqi/storage/files"
)

// WithShell opens shells on the dev cluster: srun over its sshd (the
// login node), as on every site, whatever the Slurm backend. It makes the
// test an integration test (slurmtest.Integration).
func WithShell(c *config.Config) {
	c.SSHAddr = os.Getenv("KQI_SSH_ADDR")
	c.SSHKeyFile = os.Getenv("KQI_SSH_KEY_FILE")
	c.SSHKnownHosts = os.Getenv("KQI_SSH_KNOWN_HOSTS")
	if c.SSHAddr == "" {
		c.SSHAddr = "missing" // still the cluster: newGateway fails the test with the variable's name
	}
}

// newGateway is the test portal's shell gateway: real with WithShell,
// else on FakeShells; none when the test turned shells off
// (KQI_SHELL_LISTEN=off). Sessions are checked every 100 ms so tests see
// a job's end quickly.
func newGateway(t testing.TB, cfg *config.Config, st *storage.Store, fs files.FS, log *slog.Logger) *shell.Gateway {
	t.Helper()
	if !cfg.Shell.Enabled() {
		return nil
	}
	g := &shell.Gateway{Store: st, Files: fs, Log: log, Opener: &FakeShells{},
		Cfg: shell.Config{Idle: cfg.Shell.Idle, MaxPerUser: cfg.Shell.MaxPerUser, JobCheck: 100 * time.Millisecond}}
	if cfg.SSHAddr != "" {
		env := slurmtest.Integration(t, "KQI_SSH_ADDR", "KQI_SLURM_USER", "KQI_SSH_KEY_FILE", "KQI_SSH_KNOWN_HOSTS")
		d, err := login.New(login.Config{Addr: env["KQI_SSH_ADDR"], User: env["KQI_SLURM_USER"], KeyFile: env["KQI_SSH_KEY_FILE"], KnownHostsFile: env["KQI_SSH_KNOWN_HOSTS"]})
		if err != nil {
			t.Fatal(err)
		}
		g.Opener = shell.Shells{Shells: slurm.Shells{Login: d}}
	}
	return g
}

// StartSSH starts the portal's SSH endpoint on a free local port with a
// host key made for the test, and returns its address and the key file.
func (e *Env) StartSSH(t testing.TB) (addr string, hostKeyFile string) {
	t.Helper()
	hostKeyFile = filepath.Join(t.TempDir(), "host_key")
	key, err := shell.HostKey(hostKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv := &shell.Server{Gateway: e.Shell, Store: e.Store, HostKey: key, Log: e.Shell.Log}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ctx, ln)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return ln.Addr().String(), hostKeyFile
}

// FakeShells stands in for the cluster's shells in tests without the
// dev cluster: each shell echoes its input after a banner and exits 0 at
// the end of its input. It records what it was asked for. It covers the
// portal's side (refusals, recording, the bridges), not srun or the
// container.
type FakeShells struct {
	mu       sync.Mutex
	Requests []slurm.ShellRequest
}

// Open implements shell.Opener.
func (f *FakeShells) Open(_ context.Context, req slurm.ShellRequest) (shell.Process, error) {
	f.mu.Lock()
	f.Requests = append(f.Requests, req)
	f.mu.Unlock()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	errR, errW := io.Pipe()
	p := &fakeProcess{in: inW, out: outR, errOut: errR, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		outW.Write([]byte("fake shell of job " + req.JobID + "\r\n"))
		io.Copy(outW, inR)
		outW.Close()
		errW.Close()
	}()
	return p, nil
}

type fakeProcess struct {
	in     *io.PipeWriter
	out    *io.PipeReader
	errOut *io.PipeReader
	done   chan struct{}
	closed sync.Once
}

func (p *fakeProcess) Write(b []byte) (int, error) { return p.in.Write(b) }
func (p *fakeProcess) CloseStdin() error           { return p.in.Close() }
func (p *fakeProcess) Stdout() io.Reader           { return p.out }
func (p *fakeProcess) Stderr() io.Reader           { return p.errOut }
func (p *fakeProcess) Resize(int, int) error       { return nil }
func (p *fakeProcess) Wait() (int, error)          { <-p.done; return 0, nil }
func (p *fakeProcess) Close() error {
	p.closed.Do(func() { p.in.Close() })
	return nil
}
