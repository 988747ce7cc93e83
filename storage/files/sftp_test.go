package files

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func newSFTP(t *testing.T) (*SFTP, string) {
	t.Helper()
	_, root, _, _, _ := sftpTestDirs(t)
	s, err := NewSFTP(ctx, sftpConfig(t, root))
	if err != nil {
		t.Fatalf("NewSFTP: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, root
}

// kill cuts the store's current connection under it, as a network failure
// or an sshd restart would.
func kill(s *SFTP) *sftpConn {
	s.mu.Lock()
	cn := s.conn
	s.mu.Unlock()
	cn.ssh.Close()
	<-cn.dead
	return cn
}

func TestSFTPReconnects(t *testing.T) {
	s, _ := newSFTP(t)
	if _, err := s.Put(ctx, "a/f.txt", strings.NewReader("before")); err != nil {
		t.Fatal(err)
	}
	old := kill(s)
	if fi, err := s.Stat(ctx, "a/f.txt"); err != nil || fi.Size != 6 {
		t.Fatalf("Stat after the connection dropped = %+v, %v", fi, err)
	}
	s.mu.Lock()
	same := s.conn == old
	s.mu.Unlock()
	if same {
		t.Fatal("still on the dead connection")
	}
	kill(s)
	if _, err := s.Put(ctx, "a/g.txt", strings.NewReader("after")); err != nil {
		t.Fatalf("Put after the connection dropped: %v", err)
	}
	kill(s)
	if list, err := s.List(ctx, "a"); err != nil || len(list) != 2 {
		t.Fatalf("List after the connection dropped = %+v, %v", list, err)
	}
	if got := readAll(t, s, "a/g.txt"); got != "after" {
		t.Fatalf("content %q", got)
	}
	s.Close()
	if _, err := s.Stat(ctx, "a/g.txt"); err == nil {
		t.Fatal("Stat after Close reconnected")
	}
}

// A failing upload source is the client's problem, not the connection's:
// the connection stays.
func TestSFTPSourceErrorKeepsConnection(t *testing.T) {
	s, _ := newSFTP(t)
	s.mu.Lock()
	before := s.conn
	s.mu.Unlock()
	_, err := s.Put(ctx, "x.bin", &failingReader{data: randomBytes(t, 1<<20), failAt: 1 << 19, err: io.ErrUnexpectedEOF})
	if !errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "dropped") {
		t.Fatalf("Put = %v, want the source's ErrUnexpectedEOF", err)
	}
	s.mu.Lock()
	after := s.conn
	s.mu.Unlock()
	if after != before {
		t.Fatal("a source error dropped the connection")
	}
}

// dropReader cuts the connection after n bytes of an upload.
type dropReader struct {
	s    *SFTP
	r    io.Reader
	n    int
	done bool
}

func (d *dropReader) Read(p []byte) (int, error) {
	if d.n <= 0 && !d.done {
		d.done = true
		kill(d.s)
	}
	m, err := d.r.Read(p)
	d.n -= m
	return m, err
}

func TestSFTPConnectionLostMidUploadLeavesNothing(t *testing.T) {
	s, root := newSFTP(t)
	data := randomBytes(t, 8<<20)
	_, err := s.Put(ctx, "up/big.bin", &dropReader{s: s, r: bytes.NewReader(data), n: 2 << 20})
	if err == nil {
		t.Fatal("Put succeeded over a dropped connection")
	}
	t.Logf("Put error: %v", err)
	if got := entries(t, root); len(got) != 1 || got[0] != "up" {
		t.Fatalf("left behind: %v", got)
	}
}

// How the login node is reached (keys, host keys) is the dialer's to
// check (slurm/login); the store checks what it is given and the root.
func TestNewSFTPRefusesBadConfig(t *testing.T) {
	base, root, _, _, _ := sftpTestDirs(t)
	good := sftpConfig(t, root)
	writeTree(t, base, map[string][]byte{"root/file": []byte("x")}, 0, 0)

	for name, tc := range map[string]struct {
		edit func(c *SFTPConfig)
		want string
	}{
		"relative root":     {func(c *SFTPConfig) { c.Root = "shared/x" }, "absolute"},
		"missing root":      {func(c *SFTPConfig) { c.Root = root + "/nope" }, "root"},
		"root is a file":    {func(c *SFTPConfig) { c.Root = root + "/file" }, "not a directory"},
		"no dialer":         {func(c *SFTPConfig) { c.Dialer = nil }, "needs"},
		"nothing listening": {func(c *SFTPConfig) { c.Dialer = devDialer(t, "127.0.0.1:1") }, "refused"},
	} {
		cfg := good
		tc.edit(&cfg)
		s, err := NewSFTP(ctx, cfg)
		if err == nil {
			s.Close()
			t.Errorf("%s: NewSFTP succeeded", name)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q does not say %q", name, err, tc.want)
		}
	}
}
