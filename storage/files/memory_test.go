package files

import (
	"io"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"
)

// patternReader yields n bytes of a pattern without holding them: an
// upload that is larger than anything the test keeps in memory.
type patternReader struct{ n int64 }

func (r *patternReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.n {
		p = p[:r.n]
	}
	for i := range p {
		p[i] = byte(i)
	}
	r.n -= int64(len(p))
	return len(p), nil
}

// peakHeap samples the live heap every millisecond while fn runs and
// returns the largest value above what it was before.
func peakHeap(fn func()) uint64 {
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 { metrics.Read(sample); return sample[0].Value.Uint64() }
	base := read()
	var (
		peak uint64
		wg   sync.WaitGroup
		stop = make(chan struct{})
	)
	wg.Go(func() {
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			if v := read(); v > peak {
				peak = v
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	})
	fn()
	close(stop)
	wg.Wait()
	if peak < base {
		return 0
	}
	return peak - base
}

// An upload streams: the heap does not grow with the file.
func TestPutMemoryBounded(t *testing.T) {
	const size, limit = 256 << 20, 24 << 20
	forEachImpl(t, func(t *testing.T, s testStore) {
		var n int64
		var err error
		peak := peakHeap(func() { n, err = s.fs.Put(ctx, "big.bin", &patternReader{n: size}) })
		if err != nil || n != size {
			t.Fatalf("Put = %d, %v", n, err)
		}
		t.Logf("peak heap growth during a %d MiB upload: %.1f MiB", size>>20, float64(peak)/(1<<20))
		if peak > limit {
			t.Fatalf("heap grew by %d MiB during a %d MiB upload: not streaming", peak>>20, size>>20)
		}
	})
}

// A small file (a job's script or secrets) is written without the upload
// pipeline's buffers: each used to cost 16 MiB allocated and zeroed.
func TestSmallPutAllocatesLittle(t *testing.T) {
	// Local only: SFTP writes through pkg/sftp's own buffers.
	s := newLocalStore(t)
	const puts = 20
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < puts; i++ {
		if _, err := s.fs.Put(ctx, "small/secrets", strings.NewReader("KQI_TOKEN=0123456789abcdef0123456789abcdef012345\n")); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / puts; per > 1<<20 {
		t.Errorf("a 54-byte Put allocates %d KiB; want well under 1 MiB", per>>10)
	}
}
