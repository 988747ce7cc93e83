package files

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// Uploads larger than a chunk go through O_DIRECT in aligned chunks and end
// with a short buffered tail; the bytes must come back identical across
// those boundaries, on the shared filesystem and on tmpfs (where direct I/O
// is refused and the buffered path takes over).
func TestPutAcrossDirectChunks(t *testing.T) {
	// The disk is the dev cluster's shared filesystem, the one jobs use: an
	// integration subtest.
	roots := map[string]func(t *testing.T) string{"disk": func(t *testing.T) string {
		return filepath.Join(requireEnv(t, "KQI_SHARED_ROOT"), "test-direct-"+filepath.Base(t.TempDir()))
	}}
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		roots["tmpfs"] = func(t *testing.T) string { return filepath.Join("/dev/shm", "kqi-direct-"+filepath.Base(t.TempDir())) }
	}
	for name, newRoot := range roots {
		t.Run(name, func(t *testing.T) {
			root := newRoot(t)
			if err := os.MkdirAll(root, 0o755); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(root) })
			l, err := NewLocal(root)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			for _, size := range []int{2*copyBufSize + 4097, copyBufSize, 3 * directAlign, directAlign - 1} {
				want := make([]byte, size)
				rand.Read(want)
				ctx := context.Background()
				// A reader that returns odd-sized pieces, like a network body.
				if _, err := l.Put(ctx, "f.bin", &oddReader{r: bytes.NewReader(want)}); err != nil {
					t.Fatalf("size %d: %v", size, err)
				}
				f, err := l.Open(ctx, "f.bin")
				if err != nil {
					t.Fatal(err)
				}
				got, _ := io.ReadAll(f)
				f.Close()
				if !bytes.Equal(got, want) {
					t.Fatalf("size %d: read back %d bytes that differ", size, len(got))
				}
			}
		})
	}
}

// oddReader hands out at most 3000 bytes a read.
type oddReader struct{ r io.Reader }

func (o *oddReader) Read(p []byte) (int, error) {
	if len(p) > 3000 {
		p = p[:3000]
	}
	return o.r.Read(p)
}
