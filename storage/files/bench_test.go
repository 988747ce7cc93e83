package files

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"
)

// benchFileSize is big enough that per-file costs vanish, small enough that
// one benchmark iteration stays around a second.
const benchFileSize = 256 << 20

// writeSource writes a benchFileSize file of random bytes (so no filesystem
// can shortcut it) and returns its path.
func writeSource(b *testing.B, dir string) string {
	b.Helper()
	name := filepath.Join(dir, "source.bin")
	f, err := os.Create(name)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.NewChaCha8([32]byte{1})
	if _, err := io.CopyN(f, rng, benchFileSize); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return name
}

// warm reads name fully, so every timed copy starts with the source in the
// page cache: the comparison is of writing, not of reading a cold disk.
func warm(b *testing.B, name string) {
	b.Helper()
	f, err := os.Open(name)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if _, err := io.Copy(io.Discard, f); err != nil {
		b.Fatal(err)
	}
}

// bodyReader hides *os.File's WriterTo, so Put reads through its buffer as
// it does from an HTTP request body, not with an in-kernel file copy.
type bodyReader struct{ r io.Reader }

func (r bodyReader) Read(p []byte) (int, error) { return r.r.Read(p) }

// timeCp copies src to dst with cp(1) and fsyncs dst: the same durability
// Put gives, so both sides pay for getting the bytes onto the disk.
func timeCp(b *testing.B, src, dst string) time.Duration {
	b.Helper()
	start := time.Now()
	if out, err := exec.Command("cp", src, dst).CombinedOutput(); err != nil {
		b.Fatalf("cp: %v: %s", err, out)
	}
	f, err := os.Open(dst)
	if err != nil {
		b.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	return time.Since(start)
}

func timePut(b *testing.B, fsys FS, src, dst string) time.Duration {
	b.Helper()
	f, err := os.Open(src)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	start := time.Now()
	n, err := fsys.Put(ctx, dst, bodyReader{f})
	if err != nil || n != benchFileSize {
		b.Fatalf("Put = %d, %v", n, err)
	}
	return time.Since(start)
}

func mbps(bytes int64, d time.Duration) float64 { return float64(bytes) / 1e6 / d.Seconds() }

// putVsCp runs, per iteration, two Puts and two cps of the same warm source
// into the same directory, in ABBA order (so neither side always goes
// first), and reports both speeds and their ratio from the median times:
// the machine is shared, and the median keeps one disturbed round from
// deciding the ratio. Both fsync the result; neither reads a cold disk.
//
// Each timed copy starts from the same state: a warm source, no old
// destination, and no dirty pages or pending journal work left behind by
// the other copy or the deletes (without the sync, whichever copy ran
// second paid for the first). One untimed round first, as the first writes
// into a fresh directory are slower for both.
func putVsCp(b *testing.B, fsys FS, rootDir string) {
	src := writeSource(b, b.TempDir())
	cpDst := filepath.Join(rootDir, "cp.bin")
	var putTimes, cpTimes []time.Duration
	putOnce := func() { putTimes = append(putTimes, timePut(b, fsys, src, "put.bin")) }
	cpOnce := func() { cpTimes = append(cpTimes, timeCp(b, src, cpDst)) }
	settle := func() {
		os.Remove(cpDst)
		fsys.Remove(ctx, "put.bin")
		syscall.Sync()
		warm(b, src)
	}
	settle()
	putOnce()
	cpOnce()
	putTimes, cpTimes = nil, nil
	b.SetBytes(2 * benchFileSize)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		order := []func(){putOnce, cpOnce, cpOnce, putOnce}
		if i%2 == 1 {
			order = []func(){cpOnce, putOnce, putOnce, cpOnce}
		}
		for _, run := range order {
			b.StopTimer()
			settle()
			b.StartTimer()
			run()
		}
	}
	put, cp := mbps(benchFileSize, median(putTimes)), mbps(benchFileSize, median(cpTimes))
	b.ReportMetric(put, "put-MB/s")
	b.ReportMetric(cp, "cp-MB/s")
	b.ReportMetric(put/cp, "put/cp")
	b.Logf("Put %.0f MB/s, cp %.0f MB/s: put/cp = %.2f (medians of %d × %d MiB; fsync on both, warm source)", put, cp, put/cp, len(putTimes), benchFileSize>>20)
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkLocalPutVsCp compares Put on the local store with cp to the same
// disk. The file store's root is the dev cluster's shared root when set, so
// the disk is the one jobs use.
func BenchmarkLocalPutVsCp(b *testing.B) {
	dir := b.TempDir()
	if shared := os.Getenv("KQI_SHARED_ROOT"); shared != "" {
		d, err := os.MkdirTemp(shared, "bench-local-")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(d) })
		dir = d
	}
	l, err := NewLocal(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	putVsCp(b, l, dir)
}

// BenchmarkSFTPPut compares Put through the dev cluster's sshd with a local
// cp to the same directory: what an upload costs when the portal host does
// not mount the shared filesystem.
func BenchmarkSFTPPut(b *testing.B) {
	_, root, _, _, _ := sftpTestDirs(b)
	s, err := NewSFTP(ctx, sftpConfig(b, root))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	putVsCp(b, s, root)
}

// BenchmarkStage10000 stages 10,000 files (100 data of 100 files) into a
// fresh job directory per iteration.
func BenchmarkStage10000(b *testing.B) {
	for _, im := range []struct {
		name string
		new  func(b *testing.B) testStore
	}{
		{"local", func(b *testing.B) testStore {
			dir := b.TempDir()
			l, err := NewLocal(dir)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { l.Close() })
			return testStore{fs: l, dir: dir, uid: os.Getuid(), gid: os.Getgid()}
		}},
		{"sftp", func(b *testing.B) testStore {
			_, root, _, uid, gid := sftpTestDirs(b)
			s, err := NewSFTP(ctx, sftpConfig(b, root))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			return testStore{fs: s, dir: root, uid: uid, gid: gid}
		}},
	} {
		b.Run(im.name, func(b *testing.B) {
			s := im.new(b)
			base := stageFixture(b, s, 10_000, 1)
			var total time.Duration
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				links := make([]Link, len(base))
				for j, l := range base {
					links[j] = Link{From: l.From, To: fmt.Sprintf("jobs/%d/%s", i, l.To)}
				}
				b.StartTimer()
				st, err := Stage(ctx, s.fs, links)
				if err != nil || st.Links != len(links) {
					b.Fatalf("Stage = %+v, %v", st, err)
				}
				total += st.Duration
				b.StopTimer()
				if err := os.RemoveAll(filepath.Join(s.dir, "jobs")); err != nil {
					b.Fatal(err)
				}
				syscall.Sync() // the next round must not pay for this one's deletes
				b.StartTimer()
			}
			per := total / time.Duration(b.N)
			b.ReportMetric(float64(per.Microseconds())/1000, "ms/stage")
			b.ReportMetric(10_000/per.Seconds(), "links/s")
			b.Logf("%s: staging 10,000 files takes %v (%.0f links/s)", im.name, per, 10_000/per.Seconds())
		})
	}
}
