// Package files stores the files of data, datasets and jobs on the cluster's
// shared filesystem, under one configured root.
//
// Two implementations sit behind FS: Local, for a portal host that mounts the
// shared filesystem, and SFTP, for one that reaches it only through a login
// node. Both write uploads under a temporary name and rename them into place,
// so a reader never sees half a file and a failed upload leaves nothing; both
// refuse any path that could leave the root. Stage lays out a job's inputs as
// hard links, so staging copies no bytes whatever the dataset's size.
package files

import (
	"context"
	"errors"
	"io"
	"strings"
	"time"
)

// FS is a tree of files under one root on the cluster's shared filesystem.
// Paths are slash-separated and relative to the root; they never escape it.
// Implementations are safe for concurrent use.
type FS interface {
	// Put streams r into path: it writes a temporary name in the same
	// directory and renames it into place only when r ends cleanly, so a
	// failed/cancelled/cut-off upload leaves no file and no temp file.
	// Parent directories are created. Returns the bytes written.
	Put(ctx context.Context, path string, r io.Reader) (int64, error)
	// CreatePrivate writes a secret to a new file, readable by its owner
	// only (0600) from the moment it exists, never after the fact, and on
	// disk when it returns. path must not exist yet: a secret is written
	// once, into a directory being laid out, so it is written in place,
	// with no temporary to rename. A failed write removes it.
	CreatePrivate(ctx context.Context, path string, data []byte) error
	// Open opens a regular file for reading.
	Open(ctx context.Context, path string) (File, error)
	// OpenNoFollow opens a regular file only if no component of path is a
	// symbolic link: for files a job wrote, where a link could point at
	// another tenant's data elsewhere under the root.
	OpenNoFollow(ctx context.Context, path string) (File, error)
	Stat(ctx context.Context, path string) (FileInfo, error)
	// List returns one level of dir, sorted by name; a missing dir is empty.
	// Symbolic links are reported as themselves (not followed).
	List(ctx context.Context, dir string) ([]FileInfo, error)
	// ListNoFollow is List for directories a job wrote: refused if any
	// component of dir is a symbolic link.
	ListNoFollow(ctx context.Context, dir string) ([]FileInfo, error)
	// Remove removes a file or an empty directory; a missing path is no error.
	Remove(ctx context.Context, path string) error
	// RemoveAll removes dir and everything under it; the root itself is
	// refused.
	RemoveAll(ctx context.Context, dir string) error
	MkdirAll(ctx context.Context, dir string) error
	// RenameDir moves the directory dir to newDir, whose parent must exist.
	// A non-empty directory at newDir is kept and the call fails; what
	// happens to an empty one or a file there differs between stores, so
	// callers move only non-empty directories, to names nothing else makes.
	// It is not retried after a dropped connection: the first attempt may
	// have succeeded.
	RenameDir(ctx context.Context, dir, newDir string) error
	// Link makes newPath a hard link to oldPath (no bytes copied). The parent
	// of newPath must exist.
	Link(ctx context.Context, oldPath, newPath string) error
	// LocalPath returns the absolute path on the shared filesystem as the
	// compute nodes see it (root + path) — what job scripts bind. It returns
	// "" for a path that fails validation, so a bad path can never name a
	// place outside the root.
	LocalPath(path string) string
}

// File is an open file of an FS.
type File interface {
	io.ReadSeekCloser
	Stat() (FileInfo, error)
}

// FileInfo describes one file or directory.
type FileInfo struct {
	Name    string // base name
	Size    int64
	ModTime time.Time
	IsDir   bool
	Symlink bool // the entry is a symbolic link (reported as itself)
}

var (
	// ErrNotExist reports a missing file; errors from both implementations
	// wrap it, so errors.Is(err, ErrNotExist) works for either.
	ErrNotExist = errors.New("file does not exist")
	// ErrInvalidPath reports a name or path refused by validation, before
	// anything was touched: a caller can answer it with 400, not 500.
	ErrInvalidPath = errors.New("invalid path")
	// ErrNoSpace reports a write the store refused for want of space (a
	// full disk or quota), as opposed to a source that broke off.
	ErrNoSpace = errors.New("no space left in the file store")
)

// TempPrefix starts the name of every upload in progress. A listing may show
// such names (an upload running now, or one a crash left); SweepTemp removes
// the old ones and IsTemp lets a page hide them.
const TempPrefix = ".kqi-upload-"

// IsTemp reports whether name is the temporary name of an upload.
func IsTemp(name string) bool { return strings.HasPrefix(name, TempPrefix) }
