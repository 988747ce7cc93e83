package files

import (
	"context"
	"crypto/rand"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// testStore is one FS under test with what the checks need to look at it
// from outside: the directory on this machine's disk that is its root (the
// SFTP server is this machine), and the owner its files must have so that
// the implementation's user can use them.
type testStore struct {
	fs       FS
	dir      string // the root on local disk
	outside  string // a directory next to the root, writable by the store's user
	uid, gid int
}

// forEachImpl runs fn as a subtest for each implementation, each on a fresh,
// empty root. The SFTP one needs the dev cluster: it fails without it, and
// skips under -short.
func forEachImpl(t *testing.T, fn func(t *testing.T, s testStore)) {
	for _, im := range []struct {
		name string
		new  func(t *testing.T) testStore
	}{
		{"local", newLocalStore},
		{"sftp", newSFTPStore},
	} {
		t.Run(im.name, func(t *testing.T) { fn(t, im.new(t)) })
	}
}

func newLocalStore(t *testing.T) testStore {
	t.Helper()
	base := t.TempDir()
	dir := filepath.Join(base, "root")
	outside := filepath.Join(base, "outside")
	for _, d := range []string{dir, outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	l, err := NewLocal(dir)
	if err != nil {
		t.Fatalf("NewLocal: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return testStore{fs: l, dir: dir, outside: outside, uid: os.Getuid(), gid: os.Getgid()}
}

// requireEnv returns a setting of the dev cluster (its sshd, its shared
// filesystem). Under -short, as `make test-unit` runs, it skips the test;
// otherwise a missing setting fails it, never skips, so a missing cluster
// turns `make test` red. It is slurmtest.Integration's twin: storage does
// not import slurm.
func requireEnv(t testing.TB, name string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the dev cluster: `make test` runs it (skipped under -short, as `make test-unit` runs)")
	}
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set: start the dev cluster (scripts/dev-cluster.sh up) and export its settings (set -a; . /var/lib/kqi-dev/env; set +a), or run `make test`, which does both", name)
	}
	return v
}

// sftpConfig returns the dev cluster's SFTP settings with root as Root.
func sftpConfig(t testing.TB, root string) SFTPConfig {
	return SFTPConfig{Dialer: devDialer(t, requireEnv(t, "KQI_SSH_ADDR")), Root: root}
}

// devDialer logs in to the dev cluster's sshd at addr as KQI_SSH_USER.
// The portal's dialer is slurm/login's, which storage does not import;
// this is the least that reaches the dev server (its one host key is
// ed25519, so no host key algorithm needs choosing; no keepalive).
func devDialer(t testing.TB, addr string) Dialer {
	t.Helper()
	key, err := os.ReadFile(requireEnv(t, "KQI_SSH_KEY_FILE"))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	hostKeys, err := knownhosts.New(requireEnv(t, "KQI_SSH_KNOWN_HOSTS"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ClientConfig{User: requireEnv(t, "KQI_SSH_USER"), Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: hostKeys}
	return dialFunc(func(context.Context) (*ssh.Client, error) { return ssh.Dial("tcp", addr, cfg) })
}

type dialFunc func(context.Context) (*ssh.Client, error)

func (f dialFunc) Dial(ctx context.Context) (*ssh.Client, error) { return f(ctx) }

// sshUserIDs returns the uid and gid of the SSH user on this machine.
func sshUserIDs(t testing.TB) (int, int) {
	t.Helper()
	u, err := user.Lookup(requireEnv(t, "KQI_SSH_USER"))
	if err != nil {
		t.Fatalf("look up the SSH user: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return uid, gid
}

// sftpTestDirs makes KQI_SHARED_ROOT/test-sftp-<random>/{root,outside},
// owned by the SSH user and removed when the test ends.
func sftpTestDirs(t testing.TB) (base, root, outside string, uid, gid int) {
	t.Helper()
	shared := requireEnv(t, "KQI_SHARED_ROOT")
	uid, gid = sshUserIDs(t)
	base = filepath.Join(shared, "test-sftp-"+rand.Text()[:12])
	root = filepath.Join(base, "root")
	outside = filepath.Join(base, "outside")
	for _, d := range []string{base, root, outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(d, uid, gid); err != nil {
			t.Fatalf("chown %s to the SSH user (tests run as root): %v", d, err)
		}
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	return base, root, outside, uid, gid
}

func newSFTPStore(t *testing.T) testStore {
	t.Helper()
	_, root, outside, uid, gid := sftpTestDirs(t)
	s, err := NewSFTP(ctx, sftpConfig(t, root))
	if err != nil {
		t.Fatalf("NewSFTP: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return testStore{fs: s, dir: root, outside: outside, uid: uid, gid: gid}
}

// writeTree writes files on local disk under dir behind the store's back
// and gives the whole tree to uid:gid, as if the store's user had made it.
func writeTree(t testing.TB, dir string, files map[string][]byte, uid, gid int) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	chownTree(t, dir, uid, gid)
}

func chownTree(t testing.TB, dir string, uid, gid int) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// randomBytes returns n random bytes.
func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := io.ReadFull(rand.Reader, b); err != nil {
		t.Fatal(err)
	}
	return b
}

// entries lists a local directory's names, recursively, relative to dir.
func entries(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func bytesReader(s string) io.Reader { return strings.NewReader(s) }
