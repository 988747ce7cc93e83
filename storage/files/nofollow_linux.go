package files

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// OpenNoFollow implements FS with openat2: the kernel resolves the path
// beneath the root and refuses any symbolic link on the way, with no window
// between a check and the open.
func (l *Local) OpenNoFollow(ctx context.Context, p string) (File, error) {
	if err := checkPath(p, false); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// O_NONBLOCK: a job may leave a FIFO where a file is expected, and a
	// blocking open would wait for a writer forever. Reads of a regular
	// file ignore the flag.
	f, err := l.openBeneath("open", p, unix.O_RDONLY|unix.O_NONBLOCK)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("files: open %q: %w: not a regular file", p, ErrInvalidPath)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return localFile{f}, nil
}

// ListNoFollow implements FS: the directory is opened as OpenNoFollow opens
// a file, and its entries are read and described through that handle, so a
// directory swapped for a link meanwhile cannot redirect the listing.
func (l *Local) ListNoFollow(ctx context.Context, dir string) ([]FileInfo, error) {
	if err := checkPath(dir, true); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d, err := l.openBeneath("list", dir, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return []FileInfo{}, nil
		}
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("files: list %q: %w", dir, err)
	}
	out := make([]FileInfo, 0, len(names))
	for _, name := range names {
		var st unix.Stat_t
		if err := unix.Fstatat(int(d.Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			if err == unix.ENOENT {
				continue // removed since the directory was read
			}
			return nil, fmt.Errorf("files: list %q: %s: %w", dir, name, err)
		}
		out = append(out, FileInfo{
			Name:    name,
			Size:    st.Size,
			ModTime: time.Unix(st.Mtim.Unix()),
			IsDir:   st.Mode&unix.S_IFMT == unix.S_IFDIR,
			Symlink: st.Mode&unix.S_IFMT == unix.S_IFLNK,
		})
	}
	sortByName(out)
	return out, nil
}

// openBeneath opens p under the root with openat2, refusing symbolic links
// anywhere on the way.
func (l *Local) openBeneath(op, p string, flags int) (*os.File, error) {
	root, err := unix.Open(l.dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("files: %s %q: %w", op, p, err)
	}
	defer unix.Close(root)
	fd, err := unix.Openat2(root, p, &unix.OpenHow{
		Flags:   uint64(flags | unix.O_CLOEXEC),
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		switch err {
		case unix.ENOENT:
			return nil, wrapErr(op, p, os.ErrNotExist)
		case unix.ELOOP, unix.EXDEV:
			return nil, fmt.Errorf("files: %s %q: %w: it goes through a symbolic link", op, p, ErrInvalidPath)
		case unix.ENOTDIR:
			return nil, fmt.Errorf("files: %s %q: %w: not a directory", op, p, ErrInvalidPath)
		}
		return nil, fmt.Errorf("files: %s %q without links: %w", op, p, err)
	}
	return os.NewFile(uintptr(fd), l.LocalPath(p)), nil
}
