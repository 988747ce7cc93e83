package files

import (
	"crypto/rand"
	"fmt"
	"path"
	"strings"
	"unicode/utf8"
)

// maxNameLen is NAME_MAX on Linux filesystems: a longer name would fail at
// the kernel with a less helpful error.
const maxNameLen = 255

// CheckName validates one file name as the user gave it: any UTF-8 is kept
// as is, but "", ".", "..", names containing '/' or NUL, names longer than
// 255 bytes, and invalid UTF-8 are refused with a clear error.
func CheckName(name string) error {
	if err := checkComponent(name); err != nil {
		return err
	}
	if !utf8.ValidString(name) {
		return fmt.Errorf("%w: file name %q is not valid UTF-8", ErrInvalidPath, name)
	}
	return nil
}

// checkComponent is the structural part of CheckName: what makes a name
// unsafe as one path component. Paths given to FS methods are held to this,
// not to UTF-8, so files a job wrote under a non-UTF-8 name can still be
// listed, read and removed.
func checkComponent(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty file name", ErrInvalidPath)
	case name == "." || name == "..":
		return fmt.Errorf("%w: file name %q is reserved", ErrInvalidPath, name)
	case strings.IndexByte(name, '/') >= 0:
		return fmt.Errorf("%w: file name %q contains '/'", ErrInvalidPath, name)
	case strings.IndexByte(name, 0) >= 0:
		return fmt.Errorf("%w: file name %q contains a NUL byte", ErrInvalidPath, name)
	case len(name) > maxNameLen:
		return fmt.Errorf("%w: file name is %d bytes long, the limit is %d", ErrInvalidPath, len(name), maxNameLen)
	}
	return nil
}

// Join builds a path from parts, each checked with CheckName (no "..", no
// absolute, no separators inside a part).
func Join(parts ...string) (string, error) {
	if len(parts) == 0 {
		return "", fmt.Errorf("%w: empty path", ErrInvalidPath)
	}
	for _, p := range parts {
		if err := CheckName(p); err != nil {
			return "", err
		}
	}
	return strings.Join(parts, "/"), nil
}

// checkPath validates a path given to an FS method: relative, slash-separated,
// already clean, and every component safe. The root itself (".") is accepted
// only where allowRoot says so; no method accepts "" so that a forgotten
// variable never means "the whole tree".
func checkPath(p string, allowRoot bool) error {
	if p == "." {
		if allowRoot {
			return nil
		}
		return fmt.Errorf("%w: the root itself is not allowed here", ErrInvalidPath)
	}
	if strings.HasPrefix(p, "/") {
		return fmt.Errorf("%w: %q is absolute", ErrInvalidPath, p)
	}
	for _, c := range strings.Split(p, "/") {
		if err := checkComponent(c); err != nil {
			return fmt.Errorf("path %q: %w", p, err)
		}
	}
	return nil
}

// splitPath returns the parent directory (or ".") and base name of a checked
// path.
func splitPath(p string) (dir, base string) {
	dir, base = path.Split(p)
	if dir == "" {
		return ".", base
	}
	return dir[:len(dir)-1], base
}

// tempName returns a fresh temporary name for an upload into dir. 128
// random bits make a collision between concurrent uploads practically
// impossible; the file is also created exclusively, so one would fail rather
// than overwrite.
func tempName(dir string) string {
	name := TempPrefix + rand.Text()
	if dir == "." {
		return name
	}
	return dir + "/" + name
}
