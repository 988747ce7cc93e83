package data_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"kqi/portal/data"
	"kqi/storage"
	"kqi/storage/files"
)

// Files of an id reserved by an upload that crashed before recording are
// removed once old; recorded data and fresh uploads are left alone.
func TestSweepOrphans(t *testing.T) {
	ctx := context.Background()
	svc, tenant := newService(t)
	st, fs := svc.Store, svc.Files
	put := func(id int64) string {
		path, _ := data.FilePath(tenant.ID, id, "f.bin")
		if _, err := fs.Put(ctx, path, strings.NewReader("x")); err != nil {
			t.Fatal(err)
		}
		return path
	}
	age := func(path string) {
		old := time.Now().Add(-48 * time.Hour)
		for _, p := range []string{path, path[:strings.LastIndex(path, "/")]} {
			os.Chtimes(fs.LocalPath(p), old, old)
		}
	}
	kept, _ := st.NextDataID(ctx)
	keptPath := put(kept)
	st.CreateData(ctx, storage.NewData{ID: kept, TenantID: tenant.ID, Name: "kept", Files: []storage.NewFile{{Name: "f.bin", Size: 1}}})
	age(keptPath)
	orphan, _ := st.NextDataID(ctx)
	age(put(orphan))
	fresh, _ := st.NextDataID(ctx)
	put(fresh)
	// A portal killed mid-upload leaves only a temporary file: the file
	// and its directory go in the same pass.
	crashed, _ := st.NextDataID(ctx)
	tmpPath, _ := data.FilePath(tenant.ID, crashed, files.TempPrefix+"half")
	if _, err := fs.Put(ctx, tmpPath, strings.NewReader("half an upload")); err != nil {
		t.Fatal(err)
	}
	age(tmpPath)

	n, err := svc.SweepOrphans(ctx, 24*time.Hour)
	if err != nil || n != 2 {
		t.Fatalf("swept %d, %v; want the orphan and the crashed upload", n, err)
	}
	for id, want := range map[int64]bool{kept: true, orphan: false, fresh: true, crashed: false} {
		_, err := fs.Stat(ctx, data.DataDir(tenant.ID, id))
		if (err == nil) != want {
			t.Errorf("data dir %d exists=%v, want %v", id, err == nil, want)
		}
	}
}
