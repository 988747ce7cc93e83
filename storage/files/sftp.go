package files

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// Dialer opens a new SSH connection to the server, its host key checked,
// within ctx. The store owns each connection it gets and closes it. The
// portal passes the login node's dialer (slurm/login), the one its SSH
// Slurm backend uses; it also keeps connections alive, closing one whose
// server stopped answering, which is how the store learns it died.
type Dialer interface {
	Dial(ctx context.Context) (*ssh.Client, error)
}

// SFTPConfig says how to reach the shared filesystem through a login node.
type SFTPConfig struct {
	Dialer Dialer
	// Root is the absolute path of the tree on the server, as the compute
	// nodes see it: LocalPath is built from it.
	Root string
}

// sftpCleanupTimeout bounds removing a failed upload's temporary file.
const sftpCleanupTimeout = 15 * time.Second

// sftpStageWorkers is how many links Stage has in flight at once: each is a
// round trip, and overlapping them hides the latency.
const sftpStageWorkers = 16

// SFTP is an FS on a server reached over SFTP, for a portal host that does
// not mount the shared filesystem. It needs OpenSSH's extensions
// hardlink@openssh.com (Link, Stage) and posix-rename@openssh.com (Put's
// atomic replace). A dropped connection is re-established on the next call;
// calls that are safe to repeat are retried once on a fresh connection.
//
// The server follows symbolic links, so every path is first resolved by the
// server (realpath) and refused unless it lies under the root; the resolved
// path is then used. A link swapped in between those two requests could
// still be followed: the root must not be writable by anyone but the portal
// and the jobs it runs.
type SFTP struct {
	dialer   Dialer
	root     string // SFTPConfig.Root, cleaned
	realRoot string // root as the server resolves it

	mu     sync.Mutex
	conn   *sftpConn // nil until connected, after a drop, and after Close
	closed bool
}

var _ FS = (*SFTP)(nil)

// sftpConn is one SSH connection with its SFTP session.
type sftpConn struct {
	ssh  *ssh.Client
	c    *sftp.Client
	dead chan struct{} // closed when the SSH connection ends
}

func (cn *sftpConn) isDead() bool {
	select {
	case <-cn.dead:
		return true
	default:
		return false
	}
}

func (cn *sftpConn) close() {
	cn.c.Close()
	cn.ssh.Close()
}

// NewSFTP connects to the server, checks the extensions it needs and the
// root, and returns a ready store.
func NewSFTP(ctx context.Context, cfg SFTPConfig) (*SFTP, error) {
	switch {
	case cfg.Dialer == nil:
		return nil, errors.New("files: sftp needs a Dialer")
	case !path.IsAbs(cfg.Root):
		return nil, fmt.Errorf("files: sftp root %q must be an absolute path", cfg.Root)
	}
	s := &SFTP{dialer: cfg.Dialer, root: path.Clean(cfg.Root)}
	cn, err := s.client(ctx)
	if err != nil {
		return nil, err
	}
	real, err := cn.c.RealPath(s.root)
	if err == nil {
		var fi os.FileInfo
		if fi, err = cn.c.Stat(real); err == nil && !fi.IsDir() {
			err = errors.New("not a directory")
		}
	}
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("files: sftp root %q: %w", s.root, err)
	}
	s.realRoot = real
	return s, nil
}

// Close closes the connection. The store must not be used afterwards.
func (s *SFTP) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.conn != nil {
		s.conn.close()
		s.conn = nil
	}
	return nil
}

// client returns the live connection, dialling a new one if there is none
// or the last one died.
func (s *SFTP) client(ctx context.Context) (*sftpConn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errors.New("files: sftp store is closed")
	}
	if s.conn != nil && !s.conn.isDead() {
		return s.conn, nil
	}
	if s.conn != nil {
		s.conn.close()
		s.conn = nil
	}
	cn, err := s.dial(ctx)
	if err != nil {
		return nil, err
	}
	s.conn = cn
	return cn, nil
}

// dial opens the SSH connection and the SFTP session.
func (s *SFTP) dial(ctx context.Context) (*sftpConn, error) {
	sc, err := s.dialer.Dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("files: sftp: %w", err)
	}
	// Opening the SFTP session has no timeout of its own: an ending ctx
	// closes the connection under it.
	stop := context.AfterFunc(ctx, func() { sc.Close() })
	// Packets stay at the library's safe 32 KiB: 64 to 255 KiB measured no
	// faster against OpenSSH here, where encryption is the bottleneck.
	client, err := sftp.NewClient(sc, sftp.UseConcurrentWrites(true))
	if !stop() && err == nil {
		client.Close()
		err = ctx.Err()
	}
	if err != nil {
		sc.Close()
		return nil, fmt.Errorf("files: sftp session on %s: %w", sc.RemoteAddr(), err)
	}
	for _, ext := range []string{"hardlink@openssh.com", "posix-rename@openssh.com"} {
		if _, ok := client.HasExtension(ext); !ok {
			client.Close()
			sc.Close()
			return nil, fmt.Errorf("files: sftp server %s lacks the %s extension", sc.RemoteAddr(), ext)
		}
	}
	cn := &sftpConn{ssh: sc, c: client, dead: make(chan struct{})}
	go func() {
		sc.Wait()
		close(cn.dead)
	}()
	return cn, nil
}

// do runs fn on a live connection. If the connection was lost meanwhile it
// is dropped, and fn is run once more on a new one when retry says repeating
// it is harmless.
func (s *SFTP) do(ctx context.Context, retry bool, fn func(c *sftp.Client) error) error {
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		cn, err := s.client(ctx)
		if err != nil {
			return err
		}
		err = fn(cn.c)
		if err == nil || !connLost(cn, err) {
			return err
		}
		s.drop(cn)
		if !retry || attempt > 0 {
			return fmt.Errorf("sftp connection to %s dropped: %w", cn.ssh.RemoteAddr(), err)
		}
	}
}

// connLost tells a dropped connection from any other failure. A request on
// a connection that just died may fail with a plain EOF before the death is
// noticed, so EOFs count, except from the upload's own source.
func connLost(cn *sftpConn, err error) bool {
	var src sourceError
	if errors.As(err, &src) {
		return false
	}
	return cn.isDead() ||
		errors.Is(err, sftp.ErrSSHFxConnectionLost) ||
		errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed)
}

// drop forgets cn if it is still the current connection.
func (s *SFTP) drop(cn *sftpConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == cn {
		cn.close()
		s.conn = nil
	}
}

// remote is p's path on the server, before symbolic links are resolved.
func (s *SFTP) remote(p string) string {
	if p == "." {
		return s.root
	}
	return s.root + "/" + p
}

// resolve asks the server for p's real path (every symbolic link followed;
// the last component may be missing) and refuses one outside the root.
func (s *SFTP) resolve(c *sftp.Client, p string) (string, error) {
	real, err := c.RealPath(s.remote(p))
	if err != nil {
		return "", err
	}
	if real != s.realRoot && !strings.HasPrefix(real, strings.TrimSuffix(s.realRoot, "/")+"/") {
		return "", fmt.Errorf("%w: %q leads outside the root (to %s)", ErrInvalidPath, p, real)
	}
	return real, nil
}

// OpenNoFollow implements FS. The server resolves the path before and
// after the open; unless both times it is the path itself (no component a
// symbolic link), the open is refused. SFTP has no no-follow open, so a link
// swapped in and back out between those two checks is not caught: the
// local store, which the kernel checks in one step, is the stronger one.
func (s *SFTP) OpenNoFollow(ctx context.Context, p string) (File, error) {
	if err := checkPath(p, false); err != nil {
		return nil, err
	}
	want := path.Join(s.realRoot, p)
	var f *sftp.File
	err := s.do(ctx, true, func(c *sftp.Client) error {
		plain := func() error {
			real, err := s.resolve(c, p)
			if err == nil && real != want {
				err = fmt.Errorf("%w: %q goes through a symbolic link", ErrInvalidPath, p)
			}
			return err
		}
		if err := plain(); err != nil {
			return err
		}
		// The server's open blocks on a FIFO until a writer comes, and
		// with it the whole session: only a regular file is opened.
		if fi, err := c.Lstat(want); err != nil {
			return err
		} else if !fi.Mode().IsRegular() {
			return fmt.Errorf("%w: %q is not a regular file", ErrInvalidPath, p)
		}
		var err error
		if f, err = c.Open(want); err != nil {
			return err
		}
		fi, err := f.Stat()
		if err == nil && !fi.Mode().IsRegular() {
			err = fmt.Errorf("%w: %q is not a regular file", ErrInvalidPath, p)
		}
		if err == nil {
			err = plain()
		}
		if err != nil {
			f.Close()
		}
		return err
	})
	if err != nil {
		return nil, wrapErr("open", p, err)
	}
	return sftpFile{f}, nil
}

// resolveParent resolves p's directory but not its last component, for
// operations that act on a name itself (remove, rename, link).
func (s *SFTP) resolveParent(c *sftp.Client, p string) (string, error) {
	dir, base := splitPath(p)
	real, err := s.resolve(c, dir)
	if err != nil {
		return "", err
	}
	return path.Join(real, base), nil
}

// Put implements FS. Writes are pipelined (many packets in flight), the data
// is fsynced on the server when it supports fsync@openssh.com, and the
// rename replaces an existing file atomically.
func (s *SFTP) Put(ctx context.Context, p string, r io.Reader) (int64, error) {
	return s.put(ctx, p, r, filePerm)
}

// CreatePrivate implements FS. The file is made 0600 while still empty.
func (s *SFTP) CreatePrivate(ctx context.Context, p string, data []byte) error {
	if err := checkPath(p, false); err != nil {
		return err
	}
	dir, base := splitPath(p)
	if err := s.do(ctx, true, func(c *sftp.Client) error { return s.mkdirAll(c, dir) }); err != nil {
		return fmt.Errorf("files: create %q: %w", p, err)
	}
	var made string
	err := s.do(ctx, false, func(c *sftp.Client) error {
		realDir, err := s.resolve(c, dir)
		if err != nil {
			return err
		}
		target := path.Join(realDir, base)
		f, err := c.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
		if err != nil {
			return err
		}
		made = target
		if _, err := writeSFTP(ctx, c, f, bytes.NewReader(data), privatePerm); err != nil {
			return noSpaceOr(c, realDir, err)
		}
		return nil
	})
	if err != nil {
		if made != "" {
			s.removeTemp(ctx, made)
		}
		return wrapErr("create", p, err)
	}
	return nil
}

func (s *SFTP) put(ctx context.Context, p string, r io.Reader, perm os.FileMode) (int64, error) {
	if err := checkPath(p, false); err != nil {
		return 0, err
	}
	dir, base := splitPath(p)
	if err := s.do(ctx, true, func(c *sftp.Client) error { return s.mkdirAll(c, dir) }); err != nil {
		return 0, fmt.Errorf("files: put %q: %w", p, err)
	}
	var (
		n   int64
		tmp string
	)
	err := s.do(ctx, false, func(c *sftp.Client) error {
		realDir, err := s.resolve(c, dir)
		if err != nil {
			return err
		}
		tmp = tempName(realDir)
		f, err := c.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
		if err != nil {
			tmp = ""
			return err
		}
		n, err = writeSFTP(ctx, c, f, r, perm)
		if err != nil {
			return noSpaceOr(c, realDir, err)
		}
		return c.PosixRename(tmp, path.Join(realDir, base))
	})
	if err != nil {
		if tmp != "" {
			s.removeTemp(ctx, tmp)
		}
		return n, wrapErr("put", p, err)
	}
	return n, nil
}

// writeSFTP fills f from r, syncs it where the server can and closes it,
// reporting the first failure. The mode is set before any byte is written.
func writeSFTP(ctx context.Context, c *sftp.Client, f *sftp.File, r io.Reader, perm os.FileMode) (int64, error) {
	var n int64
	err := f.Chmod(perm)
	if err == nil {
		src := &sourceReader{r: ctxReader{ctx, r}}
		// Zero means the client's maximum number of writes in flight.
		n, err = f.ReadFromWithConcurrency(src, 0)
		if err != nil && src.err != nil && errors.Is(err, src.err) {
			err = sourceError{err}
		}
	}
	if _, ok := c.HasExtension("fsync@openssh.com"); ok && err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return n, err
}

// noSpaceOr marks a failed write as ErrNoSpace when the directory's
// filesystem is (nearly) full: SFTP v3 has no status for it, so OpenSSH's
// server answers a full disk with a generic failure.
func noSpaceOr(c *sftp.Client, dir string, err error) error {
	var src sourceError
	if errors.As(err, &src) {
		return err
	}
	if _, ok := c.HasExtension("statvfs@openssh.com"); !ok {
		return err
	}
	vfs, serr := c.StatVFS(dir)
	if serr == nil && vfs.Bavail*vfs.Frsize < noSpaceBelow {
		return fmt.Errorf("%w: %w", ErrNoSpace, err)
	}
	return err
}

// noSpaceBelow is the free space under which a failed write is taken for
// a full filesystem.
const noSpaceBelow = 1 << 20

// sourceReader remembers its reader's error, so that a failing upload
// source (a cut-off body ends in io.ErrUnexpectedEOF) is not mistaken for a
// dropped connection.
type sourceReader struct {
	r   io.Reader
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}

// sourceError marks a failure of the upload's source, not of the store.
type sourceError struct{ err error }

func (e sourceError) Error() string { return e.err.Error() }
func (e sourceError) Unwrap() error { return e.err }

// removeTemp removes what a failed write left (an upload's temporary, a
// secret begun) even when ctx is already cancelled (that may be why it
// failed), reconnecting if need be. If even that fails, SweepTemp finds
// a temporary, and the job's removal a secret.
func (s *SFTP) removeTemp(ctx context.Context, tmp string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sftpCleanupTimeout)
	defer cancel()
	s.do(ctx, true, func(c *sftp.Client) error {
		if err := c.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	})
}

// Open implements FS.
func (s *SFTP) Open(ctx context.Context, p string) (File, error) {
	if err := checkPath(p, false); err != nil {
		return nil, err
	}
	var f *sftp.File
	err := s.do(ctx, true, func(c *sftp.Client) error {
		real, err := s.resolve(c, p)
		if err != nil {
			return err
		}
		if f, err = c.Open(real); err != nil {
			return err
		}
		fi, err := f.Stat()
		if err == nil && fi.IsDir() {
			err = fmt.Errorf("%w: is a directory", ErrInvalidPath)
		}
		if err != nil {
			f.Close()
		}
		return err
	})
	if err != nil {
		return nil, wrapErr("open", p, err)
	}
	return sftpFile{f}, nil
}

type sftpFile struct{ *sftp.File }

func (f sftpFile) Stat() (FileInfo, error) {
	fi, err := f.File.Stat()
	if err != nil {
		return FileInfo{}, err
	}
	return toFileInfo(fi), nil
}

// Stat implements FS.
func (s *SFTP) Stat(ctx context.Context, p string) (FileInfo, error) {
	if err := checkPath(p, true); err != nil {
		return FileInfo{}, err
	}
	var fi os.FileInfo
	err := s.do(ctx, true, func(c *sftp.Client) error {
		real, err := s.resolve(c, p)
		if err == nil {
			fi, err = c.Stat(real)
		}
		return err
	})
	if err != nil {
		return FileInfo{}, wrapErr("stat", p, err)
	}
	info := toFileInfo(fi)
	info.Name = path.Base(p) // the name asked for, not a link's target
	return info, nil
}

// List implements FS.
func (s *SFTP) List(ctx context.Context, dir string) ([]FileInfo, error) {
	return s.list(ctx, dir, false)
}

// ListNoFollow implements FS. As with OpenNoFollow, the server resolves
// the directory before and after reading it, and the listing is refused
// unless both times it is the path itself; a link swapped in and back out
// between the checks is not caught.
func (s *SFTP) ListNoFollow(ctx context.Context, dir string) ([]FileInfo, error) {
	return s.list(ctx, dir, true)
}

func (s *SFTP) list(ctx context.Context, dir string, noFollow bool) ([]FileInfo, error) {
	if err := checkPath(dir, true); err != nil {
		return nil, err
	}
	want := path.Join(s.realRoot, dir)
	plain := func(c *sftp.Client) (string, error) {
		real, err := s.resolve(c, dir)
		if err == nil && noFollow && real != want {
			err = fmt.Errorf("%w: %q goes through a symbolic link", ErrInvalidPath, dir)
		}
		return real, err
	}
	var out []FileInfo
	err := s.do(ctx, true, func(c *sftp.Client) error {
		real, err := plain(c)
		if err != nil {
			return err
		}
		entries, err := c.ReadDirContext(ctx, real)
		if errors.Is(err, fs.ErrNotExist) {
			// OpenSSH reports ENOTDIR as "no such file": tell them apart.
			if fi, serr := c.Stat(real); serr == nil && !fi.IsDir() {
				return fmt.Errorf("%q is not a directory", dir)
			}
		}
		if err != nil {
			return err
		}
		out = make([]FileInfo, 0, len(entries))
		for _, e := range entries {
			out = append(out, toFileInfo(e))
		}
		if noFollow {
			_, err = plain(c)
		}
		return err
	})
	if errors.Is(err, fs.ErrNotExist) {
		return []FileInfo{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("files: list %q: %w", dir, err)
	}
	sortByName(out)
	return out, nil
}

// Remove implements FS.
func (s *SFTP) Remove(ctx context.Context, p string) error {
	return s.remove(ctx, "remove", p, (*sftp.Client).Remove)
}

// RemoveAll implements FS. Symbolic links inside dir are removed, not
// followed.
func (s *SFTP) RemoveAll(ctx context.Context, dir string) error {
	return s.remove(ctx, "remove all", dir, (*sftp.Client).RemoveAll)
}

// remove applies rm to p itself (its parent resolved, its last component
// not followed); a missing p is no error.
func (s *SFTP) remove(ctx context.Context, op, p string, rm func(*sftp.Client, string) error) error {
	if err := checkPath(p, false); err != nil {
		return err
	}
	err := s.do(ctx, true, func(c *sftp.Client) error {
		real, err := s.resolveParent(c, p)
		if err == nil {
			err = rm(c, real)
		}
		return err
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("files: %s %q: %w", op, p, err)
	}
	return nil
}

// MkdirAll implements FS.
func (s *SFTP) MkdirAll(ctx context.Context, dir string) error {
	if err := checkPath(dir, true); err != nil {
		return err
	}
	err := s.do(ctx, true, func(c *sftp.Client) error { return s.mkdirAll(c, dir) })
	if err != nil {
		return fmt.Errorf("files: mkdir %q: %w", dir, err)
	}
	return nil
}

// mkdirAll creates dir and its missing parents, each inside the root as the
// server resolves it. An existing directory costs two round trips.
func (s *SFTP) mkdirAll(c *sftp.Client, dir string) error {
	if dir == "." {
		return nil
	}
	if ok, err := s.isDir(c, dir); ok || err != nil {
		return err
	}
	parent, _ := splitPath(dir)
	if err := s.mkdirAll(c, parent); err != nil {
		return err
	}
	real, err := s.resolveParent(c, dir)
	if err != nil {
		return err
	}
	if err := c.Mkdir(real); err != nil {
		// OpenSSH reports an existing name only as a generic failure: look.
		if ok, _ := s.isDir(c, dir); ok {
			return nil
		}
		return err
	}
	return c.Chmod(real, dirPerm)
}

// isDir reports whether dir exists as a directory; a non-directory there is
// an error, a missing one is not.
func (s *SFTP) isDir(c *sftp.Client, dir string) (bool, error) {
	real, err := s.resolve(c, dir)
	var fi os.FileInfo
	if err == nil {
		fi, err = c.Stat(real)
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, err
	case !fi.IsDir():
		return false, fmt.Errorf("%q is not a directory", dir)
	}
	return true, nil
}

// Link implements FS. The server's link(2) does not follow a symbolic link
// at oldPath; it links the link itself. It is not retried after a dropped
// connection: the first attempt may have succeeded.
func (s *SFTP) Link(ctx context.Context, oldPath, newPath string) error {
	return s.fromTo(ctx, "link", oldPath, newPath, (*sftp.Client).Link)
}

// RenameDir implements FS. The server's rename (SSH_FXP_RENAME) refuses
// a name that exists.
func (s *SFTP) RenameDir(ctx context.Context, dir, newDir string) error {
	return s.fromTo(ctx, "rename", dir, newDir, (*sftp.Client).Rename)
}

// fromTo runs op on the server names of from and to, each parent resolved
// (and checked to be inside the root), and reports errors as about to. It
// is not retried after a dropped connection: the first attempt may have
// succeeded.
func (s *SFTP) fromTo(ctx context.Context, name, from, to string, op func(c *sftp.Client, from, to string) error) error {
	if err := checkPath(from, false); err != nil {
		return err
	}
	if err := checkPath(to, false); err != nil {
		return err
	}
	err := s.do(ctx, false, func(c *sftp.Client) error {
		realFrom, err := s.resolveParent(c, from)
		if err != nil {
			return err
		}
		realTo, err := s.resolveParent(c, to)
		if err != nil {
			return err
		}
		return op(c, realFrom, realTo)
	})
	if err != nil {
		return wrapErr(name, to, err)
	}
	return nil
}

// LocalPath implements FS.
func (s *SFTP) LocalPath(p string) string {
	if checkPath(p, true) != nil {
		return ""
	}
	return path.Join(s.root, p)
}

// linkMany is Stage's fast path: each distinct directory is resolved (and
// checked to be inside the root) once, then the links go out with
// sftpStageWorkers in flight, one round trip each instead of three.
func (s *SFTP) linkMany(ctx context.Context, links []Link) (int, error) {
	real := make([]Link, len(links))
	err := s.do(ctx, true, func(c *sftp.Client) error {
		dirs := make(map[string]string)
		resolve := func(p string) (string, error) {
			dir, base := splitPath(p)
			rd, ok := dirs[dir]
			if !ok {
				var err error
				if rd, err = s.resolve(c, dir); err != nil {
					return "", err
				}
				dirs[dir] = rd
			}
			return path.Join(rd, base), nil
		}
		for i, l := range links {
			from, err := resolve(l.From)
			if err != nil {
				return wrapErr("link", l.To, err)
			}
			to, err := resolve(l.To)
			if err != nil {
				return wrapErr("link", l.To, err)
			}
			real[i] = Link{From: from, To: to}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return linkAll(ctx, len(links), sftpStageWorkers, func(ctx context.Context, i int) error {
		err := s.do(ctx, false, func(c *sftp.Client) error { return c.Link(real[i].From, real[i].To) })
		if err != nil {
			return wrapErr("link", links[i].To, err)
		}
		return nil
	})
}
