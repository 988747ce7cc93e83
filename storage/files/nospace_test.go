package files

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// A put into a full filesystem is ErrNoSpace, not a broken-off source, and
// leaves no temporary file. The directory is a 1 MiB tmpfs inside the root.
func TestPutIntoAFullFilesystem(t *testing.T) {
	forEachImpl(t, func(t *testing.T, s testStore) {
		if os.Geteuid() != 0 {
			t.Fatal("mounting a small filesystem needs root (the project's tests run as root)")
		}
		small := filepath.Join(s.dir, "small")
		if err := os.Mkdir(small, 0o755); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", small).CombinedOutput(); err != nil {
			t.Fatalf("mount a small tmpfs: %v\n%s", err, out)
		}
		t.Cleanup(func() { exec.Command("umount", "-l", small).Run() })
		if err := os.Chown(small, s.uid, s.gid); err != nil {
			t.Fatal(err)
		}

		_, err := s.fs.Put(ctx, "small/big", bytes.NewReader(make([]byte, 4<<20)))
		if !errors.Is(err, ErrNoSpace) {
			t.Fatalf("Put of 4 MiB into 1 MiB: %v; want ErrNoSpace", err)
		}
		left, _ := os.ReadDir(small)
		if len(left) != 0 {
			t.Errorf("left in the full directory: %v", left)
		}
		// A source that breaks off is not a full disk.
		_, err = s.fs.Put(ctx, "small/cut", &failingReader{data: make([]byte, 2000), failAt: 1000, err: io.ErrUnexpectedEOF})
		if err == nil || errors.Is(err, ErrNoSpace) {
			t.Errorf("Put of a cut-off source: %v; want an error that is not ErrNoSpace", err)
		}
	})
}
