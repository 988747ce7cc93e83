package jobs_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"strings"
	"testing"

	"kqi/portal/jobs"
	"kqi/slurm"
)

// output.zip deflates what compresses and stores what does not (random
// or already-compressed data), and every entry reads back as the file.
func TestZipStoresWhatDoesNotCompress(t *testing.T) {
	svc, _, who, ds, _ := fakeEnv(t)
	ctx := context.Background()
	j, err := svc.Submit(ctx, who, jobs.Training, jobs.Request{Name: "z", DatasetID: ds, Command: "true", CPU: 1, MemoryGB: 1})
	if err != nil {
		t.Fatal(err)
	}
	random := func(n int) string {
		b := make([]byte, n)
		rand.Read(b)
		return string(b)
	}
	text := strings.Repeat("epoch 1 loss 0.25 accuracy 0.91\n", 20_000) // 660 kB
	for _, c := range []struct {
		path, content string
		method        uint16
	}{
		{"model.bin", random(3 << 20), zip.Store}, // beyond the sample: the rest is copied after it
		{"small-random.bin", random(5000), zip.Store},
		{"metrics/log.txt", text, zip.Deflate},
		{"mixed.bin", strings.Repeat("a", 40<<10) + random(1<<20), zip.Deflate}, // the sample decides
		{"tiny.txt", "ok\n", zip.Deflate},
		{"empty", "", zip.Deflate},
	} {
		t.Run(c.path, func(t *testing.T) {
			if _, err := svc.Files.Put(ctx, j.JobDir+"/"+slurm.OutputDir+"/"+c.path, strings.NewReader(c.content)); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if err := svc.WriteZip(ctx, j, &out); err != nil {
				t.Fatal(err)
			}
			zr, err := zip.NewReader(bytes.NewReader(out.Bytes()), int64(out.Len()))
			if err != nil {
				t.Fatal(err)
			}
			var found bool
			for _, f := range zr.File {
				if f.Name != c.path {
					continue
				}
				found = true
				if f.Method != c.method {
					t.Errorf("method %d, want %d", f.Method, c.method)
				}
				r, err := f.Open()
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(r) // checks the CRC too
				if err != nil || string(got) != c.content {
					t.Errorf("read back %d bytes, %v; want %d bytes", len(got), err, len(c.content))
				}
			}
			if !found {
				t.Fatalf("%s not in the zip", c.path)
			}
		})
	}
}
