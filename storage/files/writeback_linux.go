package files

import (
	"errors"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// directAlign is the alignment O_DIRECT needs of buffers, sizes and
// offsets (the largest logical block size in common use).
const directAlign = 4096

// openDirect reopens an empty file just created by Put for direct I/O, or
// returns nil when the filesystem does not support it (tmpfs, some network
// filesystems): the caller then writes through the page cache.
//
// Why: an upload is written once and not read back soon. Going through the
// page cache costs a copy of every byte (the largest cost of an upload, by
// profile) and evicts pages other users need; direct I/O sends the buffer to
// the disk as it is.
func openDirect(f *os.File) *os.File {
	fd, err := unix.Open("/proc/self/fd/"+itoa(int(f.Fd())), unix.O_WRONLY|unix.O_DIRECT|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	return os.NewFile(uintptr(fd), f.Name())
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

// putWriter writes an upload: aligned full chunks through O_DIRECT when
// available, anything else (the last, short chunk; or every chunk when
// direct I/O is refused) through the page cache with early writeback.
type putWriter struct {
	f       *os.File // buffered descriptor
	direct  *os.File // O_DIRECT descriptor of the same file, or nil
	tried   bool     // direct was opened, or could not be
	off     int64
	flushed int64 // bytes handed to writeback on the buffered path
}

// writebackChunk is how much the buffered path writes before asking the
// kernel to start flushing it, so the flush overlaps the rest of the upload
// instead of all waiting for the final fsync.
const writebackChunk = 8 << 20

// newPutWriter writes f. The direct descriptor is opened at the first
// aligned chunk: a small file (a script, a secrets file) never needs one.
func newPutWriter(f *os.File) *putWriter {
	return &putWriter{f: f}
}

func (w *putWriter) Write(p []byte) (int, error) {
	if !w.tried && aligned(p) && w.off%directAlign == 0 {
		w.direct, w.tried = openDirect(w.f), true
	}
	if w.direct != nil && aligned(p) && w.off%directAlign == 0 {
		n, err := w.direct.WriteAt(p, w.off)
		if err == nil || !errors.Is(err, unix.EINVAL) {
			w.off += int64(n)
			return n, err
		}
		// Refused after all (some filesystems accept the open, not the
		// write): fall back for good.
		w.direct.Close()
		w.direct = nil
	}
	n, err := w.f.WriteAt(p, w.off)
	w.off += int64(n)
	if w.off-w.flushed >= writebackChunk {
		// Advisory: a failure here only loses the overlap; the fsync that
		// ends every Put still reports real write errors.
		_ = unix.SyncFileRange(int(w.f.Fd()), w.flushed, w.off-w.flushed, unix.SYNC_FILE_RANGE_WRITE)
		w.flushed = w.off
	}
	return n, err
}

// Close releases the direct descriptor; the caller syncs and closes f.
func (w *putWriter) Close() error {
	if w.direct != nil {
		return w.direct.Close()
	}
	return nil
}

func aligned(p []byte) bool {
	return len(p) > 0 && len(p)%directAlign == 0 && uintptr(unsafe.Pointer(&p[0]))%directAlign == 0
}

// alignedBuffer returns n bytes starting on a directAlign boundary.
func alignedBuffer(n int) []byte {
	b := make([]byte, n+directAlign)
	off := int(uintptr(unsafe.Pointer(&b[0])) % directAlign)
	if off != 0 {
		off = directAlign - off
	}
	return b[off : off+n : off+n]
}
