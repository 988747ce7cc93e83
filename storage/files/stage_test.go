package files

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
)

// stageFixture writes n source files under data/{i%100}/ (behind the store's
// back, to keep the test fast) and returns links that stage them as a
// training's inputs, the way a job directory lays them out.
func stageFixture(t testing.TB, s testStore, n, size int) []Link {
	t.Helper()
	content := make([]byte, size)
	srcs := make(map[string][]byte, n)
	links := make([]Link, 0, n)
	for i := range n {
		dataID := i % 100
		from := fmt.Sprintf("data/%d/file-%05d.bin", dataID, i)
		srcs[from] = content
		links = append(links, Link{From: from, To: fmt.Sprintf("jobs/7/input/training/%d/file-%05d.bin", dataID, i)})
	}
	writeTree(t, s.dir, srcs, s.uid, s.gid)
	return links
}

func TestStage10000(t *testing.T) {
	const n, size = 10_000, 4 << 10
	forEachImpl(t, func(t *testing.T, s testStore) {
		links := stageFixture(t, s, n, size)
		st, err := Stage(ctx, s.fs, links)
		if err != nil {
			t.Fatalf("Stage: %v", err)
		}
		t.Logf("staged %d links in %d dirs in %v (%.0f links/s)", st.Links, st.Dirs, st.Duration, float64(st.Links)/st.Duration.Seconds())
		if st.Links != n || st.Dirs != 100 || st.Duration <= 0 {
			t.Fatalf("stats = %+v, want %d links in 100 dirs", st, n)
		}
		// No bytes copied: every target is the source's inode, which now has
		// two names. (Free space is no witness here: other tests write to
		// the same disk meanwhile, by hundreds of MiB.)
		for _, l := range links {
			src, dst := stat(t, s.fs.LocalPath(l.From)), stat(t, s.fs.LocalPath(l.To))
			if src.Ino != dst.Ino || src.Dev != dst.Dev || dst.Nlink != 2 {
				t.Fatalf("%s: inode %d nlink %d, source inode %d: not a hard link", l.To, dst.Ino, dst.Nlink, src.Ino)
			}
		}
		assertMode(t, filepath.Join(s.dir, "jobs/7/input/training/42"), 0o755|os.ModeDir)
		list, err := s.fs.List(ctx, "jobs/7/input/training/42")
		if err != nil || len(list) != n/100 {
			t.Fatalf("List of a staged dir: %d entries, %v", len(list), err)
		}
	})
}

func stat(t testing.TB, name string) *syscall.Stat_t {
	t.Helper()
	fi, err := os.Lstat(name)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t)
}

func TestStageRefusesBeforeTouching(t *testing.T) {
	forEachImpl(t, func(t *testing.T, s testStore) {
		writeTree(t, s.dir, map[string][]byte{"data/1/a": []byte("a")}, s.uid, s.gid)
		for name, links := range map[string][]Link{
			"escaping source":  {{"data/1/a", "job/in/a"}, {"../outside/x", "job/in/x"}},
			"escaping target":  {{"data/1/a", "job/in/a"}, {"data/1/a", "job/../../x"}},
			"absolute target":  {{"data/1/a", "/tmp/x"}},
			"duplicate target": {{"data/1/a", "job/in/a"}, {"data/1/a", "job/in/a"}},
			"root as target":   {{"data/1/a", "."}},
		} {
			st, err := Stage(ctx, s.fs, links)
			if !errors.Is(err, ErrInvalidPath) || st.Links != 0 || st.Dirs != 0 {
				t.Errorf("%s: Stage = %+v, %v; want ErrInvalidPath and nothing done", name, st, err)
			}
		}
		if got := entries(t, s.dir); !slices.Equal(got, []string{"data", "data/1", "data/1/a"}) {
			t.Fatalf("refused stages touched the disk: %v", got)
		}
	})
}

func TestStageStopsOnError(t *testing.T) {
	forEachImpl(t, func(t *testing.T, s testStore) {
		links := stageFixture(t, s, 200, 1)
		links[150].From = "data/missing/file" // fails when reached
		st, err := Stage(ctx, s.fs, links)
		if !errors.Is(err, ErrNotExist) {
			t.Fatalf("Stage = %v, want ErrNotExist", err)
		}
		if st.Links >= len(links) {
			t.Fatalf("Stage reported %d links made after a failure", st.Links)
		}
		// What it reports is what it made.
		made := 0
		for _, l := range links {
			if _, err := os.Lstat(s.fs.LocalPath(l.To)); err == nil {
				made++
			}
		}
		if made != st.Links {
			t.Fatalf("Stage reported %d links, %d exist", st.Links, made)
		}
	})
}

func TestLinkSharesInode(t *testing.T) {
	forEachImpl(t, func(t *testing.T, s testStore) {
		if _, err := s.fs.Put(ctx, "data/1/x.csv", bytesReader("a,b\n")); err != nil {
			t.Fatal(err)
		}
		if err := s.fs.Link(ctx, "data/1/x.csv", "x-link.csv"); err != nil {
			t.Fatalf("Link: %v", err)
		}
		if stat(t, s.fs.LocalPath("data/1/x.csv")).Ino != stat(t, s.fs.LocalPath("x-link.csv")).Ino {
			t.Fatal("Link made a copy")
		}
		if err := s.fs.Link(ctx, "data/1/x.csv", "x-link.csv"); err == nil {
			t.Fatal("Link over an existing name succeeded")
		}
		if err := s.fs.Link(ctx, "data/1/x.csv", "no/parent/x"); err == nil {
			t.Fatal("Link into a missing directory succeeded")
		}
		if err := s.fs.Link(ctx, "data/1/nope", "y"); !errors.Is(err, ErrNotExist) {
			t.Fatalf("Link of a missing file = %v, want ErrNotExist", err)
		}
		if err := s.fs.Link(ctx, "data/1", "dirlink"); err == nil {
			t.Fatal("Link of a directory succeeded")
		}
		for _, bad := range [][2]string{{"../outside/x", "y"}, {"data/1/x.csv", "../outside/y"}, {"/etc/passwd", "y"}, {"data/1/x.csv", "/tmp/y"}} {
			if err := s.fs.Link(ctx, bad[0], bad[1]); !errors.Is(err, ErrInvalidPath) {
				t.Errorf("Link(%q, %q) = %v, want ErrInvalidPath", bad[0], bad[1], err)
			}
		}
		if got := entries(t, s.outside); len(got) != 0 {
			t.Fatalf("Link wrote outside the root: %v", got)
		}
	})
}
