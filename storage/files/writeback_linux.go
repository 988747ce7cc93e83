package files

import (
	"os"

	"golang.org/x/sys/unix"
)

// writebackChunk is how much a Put writes before asking the kernel to start
// flushing it.
const writebackChunk = 8 << 20

// writebackWriter starts disk writeback of each chunk as soon as it is
// written (sync_file_range, which does not wait), so the flush overlaps the
// rest of the upload and the final fsync finds little left to do. Without
// it a large upload first fills the page cache, then waits for all of it.
type writebackWriter struct {
	f       *os.File
	off     int64 // bytes written
	flushed int64 // bytes handed to writeback
}

func newWritebackWriter(f *os.File) *writebackWriter { return &writebackWriter{f: f} }

func (w *writebackWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.off += int64(n)
	if w.off-w.flushed >= writebackChunk {
		// Advisory: a failure here only loses the overlap, and the fsync
		// that ends every Put still reports real write errors.
		_ = unix.SyncFileRange(int(w.f.Fd()), w.flushed, w.off-w.flushed, unix.SYNC_FILE_RANGE_WRITE)
		w.flushed = w.off
	}
	return n, err
}
