package data_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"kqi/portal/data"
	"kqi/storage"
)

// datasetOfFiles registers `perData` files in each of `n` data, puts them
// in the three areas round-robin and returns the service and dataset id.
func datasetOfFiles(tb testing.TB, n, perData int) (*data.Service, int64, int64) {
	tb.Helper()
	ctx := context.Background()
	svc, tenant := newService(tb)
	st, fs := svc.Store, svc.Files
	var entries []storage.Entry
	for i := 0; i < n; i++ {
		id, _ := st.NextDataID(ctx)
		var fl []storage.NewFile
		for j := 0; j < perData; j++ {
			name := fmt.Sprintf("img %04d.png", j)
			path, _ := data.FilePath(tenant.ID, id, name)
			// Written directly: Put's fsyncs would make the set-up slow.
			local := fs.LocalPath(path)
			os.MkdirAll(filepath.Dir(local), 0o755)
			content := fmt.Sprintf("data %d file %d", id, j)
			if err := os.WriteFile(local, []byte(content), 0o644); err != nil {
				tb.Fatal(err)
			}
			fl = append(fl, storage.NewFile{Name: name, Size: int64(len(content))})
		}
		if err := st.CreateData(ctx, storage.NewData{ID: id, TenantID: tenant.ID, Name: fmt.Sprint("d", i), Files: fl}); err != nil {
			tb.Fatal(err)
		}
		entries = append(entries, storage.Entry{DataID: id, Area: storage.Areas[i%3]})
	}
	dsID, err := svc.CreateDataset(ctx, data.Actor{TenantID: tenant.ID}, data.DatasetForm{Name: "big", Entries: entries})
	if err != nil {
		tb.Fatal(err)
	}
	return svc, tenant.ID, dsID
}

func inode(tb testing.TB, path string) (uint64, uint64) {
	tb.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		tb.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return st.Ino, uint64(st.Nlink)
}

// Staging 10,000 files lays out /kqi/input/{area}/{dataId}/{file} as hard
// links: every staged file is the very inode of the stored one.
func TestStageDatasetLinksWithoutCopying(t *testing.T) {
	svc, tenantID, dsID := datasetOfFiles(t, 10, 1000)
	ctx := context.Background()
	stats, err := svc.StageDataset(ctx, tenantID, dsID, "jobs/1/input")
	if err != nil {
		t.Fatal(err)
	}
	if stats.Links != 10000 {
		t.Fatalf("staged %d links, want 10000", stats.Links)
	}
	list, err := svc.Store.DatasetFiles(ctx, tenantID, dsID)
	if err != nil || len(list) != 10000 {
		t.Fatalf("dataset files: %d %v", len(list), err)
	}
	for _, f := range list {
		src, _ := data.FilePath(tenantID, f.DataID, f.FileName)
		dst := fmt.Sprintf("jobs/1/input/%s/%d/%s", f.Area, f.DataID, f.FileName)
		si, _ := inode(t, svc.Files.LocalPath(src))
		di, links := inode(t, svc.Files.LocalPath(dst))
		if si != di || links != 2 {
			t.Fatalf("%s: inode %d vs %d, %d links — bytes were copied", dst, si, di, links)
		}
	}
	t.Logf("staged %d files in %v", stats.Links, stats.Duration)
}

func TestStageOneDatum(t *testing.T) {
	svc, tenantID, dsID := datasetOfFiles(t, 1, 3)
	ctx := context.Background()
	ds, _ := svc.Store.DatasetByID(ctx, tenantID, dsID)
	dataID := ds.Entries[0].DataID
	if _, err := svc.StageData(ctx, tenantID, dataID, "pre/1/input"); err != nil {
		t.Fatal(err)
	}
	got, err := svc.Files.List(ctx, fmt.Sprintf("pre/1/input/%d", dataID))
	if err != nil || len(got) != 3 || got[0].Name != "img 0000.png" {
		t.Fatalf("staged %+v %v", got, err)
	}
	// Another tenant's datum cannot be staged.
	if _, err := svc.StageData(ctx, tenantID+1000, dataID, "pre/2/input"); err == nil {
		t.Fatal("staged a datum of another tenant")
	}
}

// BenchmarkStageDataset10000 times staging a dataset of 10,000 files into
// a fresh job directory (`make bench` prints it).
func BenchmarkStageDataset10000(b *testing.B) {
	svc, tenantID, dsID := datasetOfFiles(b, 10, 1000)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		stats, err := svc.StageDataset(ctx, tenantID, dsID, fmt.Sprintf("jobs/%d/input", i))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(stats.Duration.Milliseconds()), "ms/stage")
		b.ReportMetric(float64(stats.Links)/stats.Duration.Seconds(), "links/s")
	}
}
