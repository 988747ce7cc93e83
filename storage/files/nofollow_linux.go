package files

import (
	"context"
	"fmt"
	"os"

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
	root, err := unix.Open(l.dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("files: open %q: %w", p, err)
	}
	defer unix.Close(root)
	fd, err := unix.Openat2(root, p, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		switch err {
		case unix.ENOENT:
			return nil, wrapErr("open", p, os.ErrNotExist)
		case unix.ELOOP, unix.EXDEV:
			return nil, fmt.Errorf("files: open %q: %w: it goes through a symbolic link", p, ErrInvalidPath)
		}
		return nil, fmt.Errorf("files: open %q without links: %w", p, err)
	}
	f := os.NewFile(uintptr(fd), l.LocalPath(p))
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("files: open %q: not a regular file", p)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return localFile{f}, nil
}
