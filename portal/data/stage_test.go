package data_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"kqi/portal/data"
	"kqi/storage"
	"kqi/storage/files"
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

// frozenDataset is datasetOfFiles frozen, as a job's row leaves it, with
// the tree its jobs must see.
func frozenDataset(t *testing.T, n, perData int) (*data.Service, int64, int64, map[string]uint64) {
	t.Helper()
	svc, tenantID, dsID := datasetOfFiles(t, n, perData)
	if err := svc.Store.FreezeDataset(context.Background(), tenantID, dsID); err != nil {
		t.Fatal(err)
	}
	return svc, tenantID, dsID, datasetTree(t, svc, tenantID, dsID)
}

// datasetTree is what a job of the dataset must see at /kqi/input: each
// {area}/{dataId}/{file} with the inode of the stored file it links.
func datasetTree(t *testing.T, svc *data.Service, tenantID, dsID int64) map[string]uint64 {
	t.Helper()
	list, err := svc.Store.DatasetFiles(context.Background(), tenantID, dsID)
	if err != nil || len(list) == 0 {
		t.Fatalf("dataset files: %d, %v", len(list), err)
	}
	want := map[string]uint64{}
	for _, f := range list {
		src, _ := data.FilePath(tenantID, f.DataID, f.FileName)
		want[fmt.Sprintf("%s/%d/%s", f.Area, f.DataID, f.FileName)], _ = inode(t, svc.Files.LocalPath(src))
	}
	return want
}

// stagedTree lists the files below dir (relative to the store's root), each
// with its inode.
func stagedTree(t *testing.T, svc *data.Service, dir string) map[string]uint64 {
	t.Helper()
	root := svc.Files.LocalPath(dir)
	got := map[string]uint64{}
	err := filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		got[filepath.ToSlash(rel)], _ = inode(t, p)
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", dir, err)
	}
	return got
}

// Eight first jobs of a frozen dataset at once, each of a submit that
// found no staged tree: exactly one tree becomes the dataset's, whole, and
// every job gets the whole dataset, from it or from its own copy. A later
// job finds the tree and stages nothing.
func TestFirstJobsOfADatasetStageItOnce(t *testing.T) {
	svc, tenantID, dsID, want := frozenDataset(t, 3, 40)
	ctx := context.Background()
	shared := data.DatasetInputDir(tenantID, dsID)
	if dir, err := svc.StagedDataset(ctx, tenantID, dsID); dir != "" || err != nil {
		t.Fatalf("staged before any job: %q, %v", dir, err)
	}
	frozen, ok, err := svc.Store.FrozenDatasetFiles(ctx, tenantID, dsID)
	if !ok || err != nil {
		t.Fatalf("frozen files: %v %v", ok, err)
	}

	const n = 8
	dirs, errs := make([]string, n), make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		list := frozen // read before the row, as a submit does
		if i%2 == 1 {
			list = nil // read now
		}
		wg.Go(func() {
			<-start
			dirs[i], _, errs[i] = svc.StageDatasetOnce(ctx, tenantID, dsID, list, fmt.Sprintf("tenants/%d/jobs/%d/input", tenantID, i))
		})
	}
	close(start)
	wg.Wait()
	kept := 0
	for i, dir := range dirs {
		if errs[i] != nil {
			t.Fatalf("job %d: %v", i, errs[i])
		}
		own := fmt.Sprintf("tenants/%d/jobs/%d/input", tenantID, i)
		switch dir {
		case shared:
			kept++
		case own:
		default:
			t.Fatalf("job %d binds %q, want %q or its own %q", i, dir, shared, own)
		}
		if got := stagedTree(t, svc, dir); !maps.Equal(got, want) {
			t.Fatalf("job %d sees %v, want %v", i, got, want)
		}
	}
	if kept != 1 {
		t.Fatalf("%d jobs' trees became the dataset's, want 1", kept)
	}
	if dir, err := svc.StagedDataset(ctx, tenantID, dsID); dir != shared || err != nil {
		t.Fatalf("staged after the first jobs: %q, %v; want %q", dir, err, shared)
	}
	// The shared tree is nobody's job directory: deleting every job's
	// directory leaves it whole.
	if err := svc.Files.RemoveAll(ctx, fmt.Sprintf("tenants/%d/jobs", tenantID)); err != nil {
		t.Fatal(err)
	}
	if got := stagedTree(t, svc, shared); !maps.Equal(got, want) {
		t.Fatalf("after the jobs went: %v", got)
	}
}

// A dataset not frozen can still change: it is staged for the job alone.
func TestStageDatasetOnceKeepsAnUnfrozenDatasetToTheJob(t *testing.T) {
	svc, tenantID, dsID := datasetOfFiles(t, 2, 3)
	ctx := context.Background()
	want := datasetTree(t, svc, tenantID, dsID)
	dir, stats, err := svc.StageDatasetOnce(ctx, tenantID, dsID, nil, "tenants/1/jobs/5/input")
	if err != nil || dir != "tenants/1/jobs/5/input" || stats.Links != len(want) {
		t.Fatalf("staged into %q (%d links), %v", dir, stats.Links, err)
	}
	if got := stagedTree(t, svc, dir); !maps.Equal(got, want) {
		t.Fatalf("the job sees %v, want %v", got, want)
	}
	if dir, err := svc.StagedDataset(ctx, tenantID, dsID); dir != "" || err != nil {
		t.Fatalf("an unfrozen dataset was kept for later jobs: %q, %v", dir, err)
	}
}

// When the tree cannot become the dataset's (here a file is where its
// directory goes), the job keeps its own copy and the operator is told.
func TestStageDatasetOnceKeepsItsOwnWhenTheMoveFails(t *testing.T) {
	svc, tenantID, dsID, want := frozenDataset(t, 2, 3)
	ctx := context.Background()
	var logged strings.Builder
	svc.Log = slog.New(slog.NewTextHandler(&logged, nil))
	if _, err := svc.Files.Put(ctx, path.Dir(data.DatasetInputDir(tenantID, dsID)), strings.NewReader("in the way")); err != nil {
		t.Fatal(err)
	}
	own := fmt.Sprintf("tenants/%d/jobs/9/input", tenantID)
	dir, _, err := svc.StageDatasetOnce(ctx, tenantID, dsID, nil, own)
	if err != nil || dir != own {
		t.Fatalf("staged into %q, %v; want its own %q", dir, err, own)
	}
	if got := stagedTree(t, svc, dir); !maps.Equal(got, want) {
		t.Fatalf("the job sees %v, want %v", got, want)
	}
	if !strings.Contains(logged.String(), "could not be kept for later jobs") {
		t.Errorf("the failed move was not logged: %q", logged.String())
	}
}

// lostAnswer is a store whose renames happen but answer with an error, as
// over a connection that dropped before the server's reply.
type lostAnswer struct{ files.FS }

func (l lostAnswer) RenameDir(ctx context.Context, dir, newDir string) error {
	if err := l.FS.RenameDir(ctx, dir, newDir); err != nil {
		return err
	}
	return errors.New("connection lost")
}

// A move whose answer was lost went through all the same: the job binds
// the dataset's tree, which has its files.
func TestStageDatasetOnceAfterALostAnswer(t *testing.T) {
	svc, tenantID, dsID, want := frozenDataset(t, 2, 3)
	ctx := context.Background()
	svc.Files = lostAnswer{svc.Files}
	dir, _, err := svc.StageDatasetOnce(ctx, tenantID, dsID, nil, fmt.Sprintf("tenants/%d/jobs/3/input", tenantID))
	if err != nil || dir != data.DatasetInputDir(tenantID, dsID) {
		t.Fatalf("staged into %q, %v; want the dataset's tree", dir, err)
	}
	if got := stagedTree(t, svc, dir); !maps.Equal(got, want) {
		t.Fatalf("the job sees %v, want %v", got, want)
	}
}
