package files

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var ctx = context.Background()

func TestRoundTrip(t *testing.T) {
	forEachImpl(t, func(t *testing.T, s testStore) {
		data := randomBytes(t, 3<<20+12345) // not a multiple of any buffer
		n, err := s.fs.Put(ctx, "data/1/blob.bin", bytes.NewReader(data))
		if err != nil || n != int64(len(data)) {
			t.Fatalf("Put = %d, %v; want %d, nil", n, err, len(data))
		}

		list, err := s.fs.List(ctx, "data/1")
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		if len(list) != 1 || list[0].Name != "blob.bin" || list[0].Size != int64(len(data)) || list[0].IsDir {
			t.Fatalf("List = %+v, want one file blob.bin of %d bytes", list, len(data))
		}
		if root, _ := s.fs.List(ctx, "."); len(root) != 1 || root[0].Name != "data" || !root[0].IsDir {
			t.Fatalf("List(.) = %+v, want the directory data", root)
		}
		fi, err := s.fs.Stat(ctx, "data/1/blob.bin")
		if err != nil || fi.Name != "blob.bin" || fi.Size != int64(len(data)) || time.Since(fi.ModTime) > time.Minute {
			t.Fatalf("Stat = %+v, %v", fi, err)
		}

		f, err := s.fs.Open(ctx, "data/1/blob.bin")
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		got, err := io.ReadAll(f)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("download: %d bytes, err %v; identical = %v", len(got), err, bytes.Equal(got, data))
		}
		if _, err := f.Seek(1<<20, io.SeekStart); err != nil {
			t.Fatalf("Seek: %v", err)
		}
		part := make([]byte, 100)
		if _, err := io.ReadFull(f, part); err != nil || !bytes.Equal(part, data[1<<20:1<<20+100]) {
			t.Fatalf("read after seek: %v, equal %v", err, bytes.Equal(part, data[1<<20:1<<20+100]))
		}
		if ofi, err := f.Stat(); err != nil || ofi.Size != int64(len(data)) {
			t.Fatalf("File.Stat = %+v, %v", ofi, err)
		}
		if err := f.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}

		// Jobs run as the cluster user: what the portal writes must be
		// readable by others.
		assertMode(t, filepath.Join(s.dir, "data/1/blob.bin"), 0o644)
		assertMode(t, filepath.Join(s.dir, "data/1"), 0o755|os.ModeDir)
		assertMode(t, filepath.Join(s.dir, "data"), 0o755|os.ModeDir)

		if err := s.fs.Remove(ctx, "data/1/blob.bin"); err != nil {
			t.Fatalf("Remove: %v", err)
		}
		if list, err := s.fs.List(ctx, "data/1"); err != nil || len(list) != 0 {
			t.Fatalf("List after Remove = %+v, %v", list, err)
		}
		if _, err := s.fs.Stat(ctx, "data/1/blob.bin"); !errors.Is(err, ErrNotExist) {
			t.Fatalf("Stat after Remove: %v, want ErrNotExist", err)
		}
		if _, err := s.fs.Open(ctx, "data/1/blob.bin"); !errors.Is(err, ErrNotExist) {
			t.Fatalf("Open after Remove: %v, want ErrNotExist", err)
		}
		if _, err := s.fs.Open(ctx, "nodir/x/y"); !errors.Is(err, ErrNotExist) {
			t.Fatalf("Open under a missing dir: %v, want ErrNotExist", err)
		}
		if err := s.fs.Remove(ctx, "data/1/blob.bin"); err != nil {
			t.Fatalf("Remove of a missing file: %v, want nil", err)
		}
		if err := s.fs.Remove(ctx, "nodir/x/y"); err != nil {
			t.Fatalf("Remove under a missing dir: %v, want nil", err)
		}
		if list, err := s.fs.List(ctx, "no/such/dir"); err != nil || len(list) != 0 {
			t.Fatalf("List of a missing dir = %+v, %v; want empty, nil", list, err)
		}
	})
}

func assertMode(t *testing.T, name string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode() != want {
		t.Errorf("%s: mode %v, want %v", name, fi.Mode(), want)
	}
}

func TestOpenDirectoryRefused(t *testing.T) {
	forEachImpl(t, func(t *testing.T, s testStore) {
		if err := s.fs.MkdirAll(ctx, "a/b"); err != nil {
			t.Fatal(err)
		}
		if f, err := s.fs.Open(ctx, "a/b"); err == nil {
			f.Close()
			t.Fatal("Open of a directory succeeded")
		}
		if _, err := s.fs.Put(ctx, "a/b", strings.NewReader("x")); err == nil {
			t.Fatal("Put over a directory succeeded")
		}
		if got := entries(t, filepath.Join(s.dir, "a")); !slices.Equal(got, []string{"b"}) {
			t.Fatalf("left behind: %v", got)
		}
	})
}

func TestListSortedAndDirs(t *testing.T) {
	forEachImpl(t, func(t *testing.T, s testStore) {
		for _, n := range []string{"c.txt", "a.txt", "b/inner.txt", "B.txt"} {
			if _, err := s.fs.Put(ctx, "d/"+n, strings.NewReader(n)); err != nil {
				t.Fatal(err)
			}
		}
		list, err := s.fs.List(ctx, "d")
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, fi := range list {
			names = append(names, fmt.Sprintf("%s:%v:%d", fi.Name, fi.IsDir, map[bool]int64{true: -1, false: fi.Size}[fi.IsDir]))
		}
		want := []string{"B.txt:false:5", "a.txt:false:5", "b:true:-1", "c.txt:false:5"}
		if !slices.Equal(names, want) {
			t.Fatalf("List = %v, want %v", names, want)
		}
		if _, err := s.fs.List(ctx, "d/a.txt"); err == nil {
			t.Fatal("List of a file succeeded")
		}
	})
}

func TestPutReplacesAtomically(t *testing.T) {
	forEachImpl(t, func(t *testing.T, s testStore) {
		if _, err := s.fs.Put(ctx, "f.txt", strings.NewReader("old content")); err != nil {
			t.Fatal(err)
		}
		// A failed upload over an existing file keeps the old one.
		_, err := s.fs.Put(ctx, "f.txt", &failingReader{data: randomBytes(t, 2<<20), failAt: 1 << 20, err: io.ErrUnexpectedEOF})
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("Put with a cut-off body: %v, want ErrUnexpectedEOF", err)
		}
		if got := readAll(t, s.fs, "f.txt"); got != "old content" {
			t.Fatalf("after a failed replace: %q", got)
		}
		if _, err := s.fs.Put(ctx, "f.txt", strings.NewReader("new")); err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, s.fs, "f.txt"); got != "new" {
			t.Fatalf("after replace: %q", got)
		}
		if got := entries(t, s.dir); !slices.Equal(got, []string{"f.txt"}) {
			t.Fatalf("root holds %v, want only f.txt", got)
		}
	})
}

func readAll(t *testing.T, fsys FS, p string) string {
	t.Helper()
	f, err := fsys.Open(ctx, p)
	if err != nil {
		t.Fatalf("Open %s: %v", p, err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatalf("read %s: %v", p, err)
	}
	return string(b)
}

func TestEmptyFile(t *testing.T) {
	forEachImpl(t, func(t *testing.T, s testStore) {
		n, err := s.fs.Put(ctx, "empty", strings.NewReader(""))
		if err != nil || n != 0 {
			t.Fatalf("Put empty = %d, %v", n, err)
		}
		if got := readAll(t, s.fs, "empty"); got != "" {
			t.Fatalf("content %q", got)
		}
	})
}

func TestConcurrentPutsSamePath(t *testing.T) {
	forEachImpl(t, func(t *testing.T, s testStore) {
		const n = 8
		contents := make([]string, n)
		var wg sync.WaitGroup
		for i := range n {
			contents[i] = strings.Repeat(fmt.Sprint(i), 100_000+i)
			wg.Go(func() {
				if _, err := s.fs.Put(ctx, "same/file", strings.NewReader(contents[i])); err != nil {
					t.Errorf("Put %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		got := readAll(t, s.fs, "same/file")
		if !slices.Contains(contents, got) {
			t.Fatalf("final content (%d bytes) is none of the uploads: torn write", len(got))
		}
		if got := entries(t, filepath.Join(s.dir, "same")); !slices.Equal(got, []string{"file"}) {
			t.Fatalf("dir holds %v, want only file", got)
		}
	})
}

func TestRemoveAll(t *testing.T) {
	forEachImpl(t, func(t *testing.T, s testStore) {
		for _, p := range []string{"job/1/input/a", "job/1/output/b/c", "job/2/x"} {
			if _, err := s.fs.Put(ctx, p, strings.NewReader(p)); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.fs.RemoveAll(ctx, "job/1"); err != nil {
			t.Fatalf("RemoveAll: %v", err)
		}
		if got := entries(t, s.dir); !slices.Equal(got, []string{"job", "job/2", "job/2/x"}) {
			t.Fatalf("after RemoveAll: %v", got)
		}
		if err := s.fs.RemoveAll(ctx, "job/1"); err != nil {
			t.Fatalf("RemoveAll of a missing dir: %v", err)
		}
		if err := s.fs.RemoveAll(ctx, "."); !errors.Is(err, ErrInvalidPath) {
			t.Fatalf("RemoveAll(.) = %v, want ErrInvalidPath", err)
		}
		if err := s.fs.Remove(ctx, "job"); err == nil {
			t.Fatal("Remove of a non-empty dir succeeded")
		}
		if err := s.fs.Remove(ctx, "job/2/x"); err != nil {
			t.Fatal(err)
		}
		if err := s.fs.Remove(ctx, "job/2"); err != nil {
			t.Fatalf("Remove of an empty dir: %v", err)
		}
	})
}

// RenameDir moves a whole tree in one step, and never onto a tree that is
// there already: both stay as they were.
func TestRenameDir(t *testing.T) {
	forEachImpl(t, func(t *testing.T, s testStore) {
		for _, p := range []string{"job/1/input/a/x", "job/1/input/b", "job/2/input/c", "shared/other/y"} {
			if _, err := s.fs.Put(ctx, p, strings.NewReader(p)); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.fs.MkdirAll(ctx, "shared/1"); err != nil {
			t.Fatal(err)
		}
		if err := s.fs.RenameDir(ctx, "job/1/input", "shared/1/input"); err != nil {
			t.Fatalf("RenameDir: %v", err)
		}
		if got := readAll(t, s.fs, "shared/1/input/a/x"); got != "job/1/input/a/x" {
			t.Errorf("moved file reads %q", got)
		}
		if _, err := s.fs.Stat(ctx, "job/1/input"); !errors.Is(err, ErrNotExist) {
			t.Errorf("the old name is still there: %v", err)
		}

		// A second tree onto the first: refused, both kept whole.
		before := entries(t, s.dir)
		if err := s.fs.RenameDir(ctx, "job/2/input", "shared/1/input"); err == nil {
			t.Fatal("RenameDir onto a non-empty directory succeeded")
		}
		if err := s.fs.RenameDir(ctx, "job/2/input", "shared/other"); err == nil {
			t.Fatal("RenameDir onto another non-empty directory succeeded")
		}
		if after := entries(t, s.dir); !slices.Equal(before, after) {
			t.Errorf("a refused RenameDir changed the tree: %v → %v", before, after)
		}

		if err := s.fs.RenameDir(ctx, "job/3/input", "shared/3"); !errors.Is(err, ErrNotExist) {
			t.Errorf("RenameDir of a missing dir = %v, want ErrNotExist", err)
		}
		if err := s.fs.RenameDir(ctx, "job/2/input", "missing/parent/input"); err == nil {
			t.Error("RenameDir into a missing parent succeeded")
		}
		for _, bad := range [][2]string{{"../x", "y"}, {"job/2/input", "../y"}, {".", "y"}, {"job/2/input", "."}} {
			if err := s.fs.RenameDir(ctx, bad[0], bad[1]); !errors.Is(err, ErrInvalidPath) {
				t.Errorf("RenameDir(%q, %q) = %v, want ErrInvalidPath", bad[0], bad[1], err)
			}
		}
	})
}

func TestMkdirAll(t *testing.T) {
	forEachImpl(t, func(t *testing.T, s testStore) {
		for range 2 { // the second time everything exists
			if err := s.fs.MkdirAll(ctx, "x/y/z"); err != nil {
				t.Fatalf("MkdirAll: %v", err)
			}
		}
		if err := s.fs.MkdirAll(ctx, "x/y/w/v"); err != nil { // under an existing parent
			t.Fatalf("MkdirAll: %v", err)
		}
		for _, d := range []string{"x", "x/y", "x/y/z", "x/y/w", "x/y/w/v"} {
			assertMode(t, filepath.Join(s.dir, d), 0o755|os.ModeDir)
		}
		if err := s.fs.MkdirAll(ctx, "."); err != nil {
			t.Fatalf("MkdirAll(.): %v", err)
		}
		if _, err := s.fs.Put(ctx, "x/file", strings.NewReader("f")); err != nil {
			t.Fatal(err)
		}
		if err := s.fs.MkdirAll(ctx, "x/file"); err == nil {
			t.Fatal("MkdirAll over a file succeeded")
		}
		if err := s.fs.MkdirAll(ctx, "x/file/sub"); err == nil {
			t.Fatal("MkdirAll under a file succeeded")
		}
	})
}

func TestLocalPath(t *testing.T) {
	forEachImpl(t, func(t *testing.T, s testStore) {
		for p, want := range map[string]string{
			"a/b.txt":      filepath.Join(s.dir, "a/b.txt"),
			"データ 1.csv":    filepath.Join(s.dir, "データ 1.csv"),
			".":            s.dir,
			"../etc":       "",
			"/etc/passwd":  "",
			"a/../../etc":  "",
			"a//b":         "",
			"":             "",
			"a/\x00/b":     "",
			"job/./input":  "",
			"trailing/":    "",
			"a/b/../../..": "",
		} {
			if got := s.fs.LocalPath(p); got != want {
				t.Errorf("LocalPath(%q) = %q, want %q", p, got, want)
			}
		}
	})
}

func TestSweepTemp(t *testing.T) {
	forEachImpl(t, func(t *testing.T, s testStore) {
		old := time.Now().Add(-3 * time.Hour)
		writeTree(t, s.dir, map[string][]byte{
			"d/" + TempPrefix + "old1":        []byte("x"),
			"d/sub/" + TempPrefix + "old2":    []byte("x"),
			"d/" + TempPrefix + "fresh":       []byte("x"),
			"d/old-but-not-temp":              []byte("x"),
			"other/" + TempPrefix + "old-out": []byte("x"),
		}, s.uid, s.gid)
		for _, p := range []string{"d/" + TempPrefix + "old1", "d/sub/" + TempPrefix + "old2", "d/old-but-not-temp", "other/" + TempPrefix + "old-out"} {
			if err := os.Chtimes(filepath.Join(s.dir, p), old, old); err != nil {
				t.Fatal(err)
			}
		}
		n, err := SweepTemp(ctx, s.fs, "d", time.Hour)
		if err != nil || n != 2 {
			t.Fatalf("SweepTemp = %d, %v; want 2, nil", n, err)
		}
		want := []string{"d", "d/" + TempPrefix + "fresh", "d/old-but-not-temp", "d/sub", "other", "other/" + TempPrefix + "old-out"}
		if got := entries(t, s.dir); !slices.Equal(got, want) {
			t.Fatalf("after sweep: %v, want %v", got, want)
		}
	})
}
