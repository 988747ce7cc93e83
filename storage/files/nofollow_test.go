package files

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// OpenNoFollow reads a plain file but refuses a path with a symbolic link
// anywhere in it, even one that stays under the root.
func TestOpenNoFollow(t *testing.T) {
	forEachImpl(t, func(t *testing.T, s testStore) {
		ctx := context.Background()
		for _, p := range []string{"a/secret.txt", "b/out/plain.txt"} {
			if _, err := s.fs.Put(ctx, p, strings.NewReader("content of "+p)); err != nil {
				t.Fatal(err)
			}
		}
		// What a job could leave in its output: links inside the root.
		if err := os.Symlink("../../a/secret.txt", filepath.Join(s.dir, "b/out/link.txt")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("../../a", filepath.Join(s.dir, "b/out/dir")); err != nil {
			t.Fatal(err)
		}
		f, err := s.fs.OpenNoFollow(ctx, "b/out/plain.txt")
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(f)
		f.Close()
		if string(got) != "content of b/out/plain.txt" {
			t.Fatalf("read %q", got)
		}
		for _, p := range []string{"b/out/link.txt", "b/out/dir/secret.txt"} {
			if f, err := s.fs.OpenNoFollow(ctx, p); err == nil {
				f.Close()
				t.Errorf("%s: opened through a symbolic link", p)
			} else if !errors.Is(err, ErrInvalidPath) {
				t.Errorf("%s: %v, want ErrInvalidPath", p, err)
			}
		}
		if _, err := s.fs.OpenNoFollow(ctx, "b/out/missing"); !errors.Is(err, ErrNotExist) {
			t.Errorf("missing: %v", err)
		}
		list, _ := s.fs.List(ctx, "b/out")
		for _, e := range list {
			if (e.Name == "link.txt" || e.Name == "dir") != e.Symlink {
				t.Errorf("%s: Symlink=%v", e.Name, e.Symlink)
			}
		}
	})
}

// ListNoFollow lists a plain directory, reporting links as themselves, and
// refuses a directory reached through a link: a job that swaps one of its
// output directories for a link to another tenant's data learns nothing.
func TestListNoFollow(t *testing.T) {
	forEachImpl(t, func(t *testing.T, s testStore) {
		ctx := context.Background()
		for _, p := range []string{"other/data/1/weights.bin", "job/output/sub/plain.txt"} {
			if _, err := s.fs.Put(ctx, p, strings.NewReader("content of "+p)); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Symlink("../../other/data/1", filepath.Join(s.dir, "job/output/d")); err != nil {
			t.Fatal(err)
		}
		list, err := s.fs.ListNoFollow(ctx, "job/output")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range list {
			got = append(got, fmt.Sprintf("%s dir=%v link=%v", e.Name, e.IsDir, e.Symlink))
		}
		if want := []string{"d dir=false link=true", "sub dir=true link=false"}; !slices.Equal(got, want) {
			t.Fatalf("listing %q, want %q", got, want)
		}
		if sub, err := s.fs.ListNoFollow(ctx, "job/output/sub"); err != nil || len(sub) != 1 || sub[0].Name != "plain.txt" || sub[0].Size != int64(len("content of job/output/sub/plain.txt")) {
			t.Fatalf("sub: %+v, %v", sub, err)
		}
		if list, err := s.fs.ListNoFollow(ctx, "job/output/d"); !errors.Is(err, ErrInvalidPath) {
			t.Fatalf("listed through a link: %+v, %v", list, err)
		}
		if list, err := s.fs.ListNoFollow(ctx, "job/missing"); err != nil || len(list) != 0 {
			t.Fatalf("missing dir: %+v, %v", list, err)
		}
		// List, for the portal's own directories, still follows.
		if list, err := s.fs.List(ctx, "job/output/d"); err != nil || len(list) != 1 {
			t.Fatalf("List through the link: %+v, %v", list, err)
		}
	})
}

// OpenNoFollow refuses what is not a regular file at once: a FIFO a job
// leaves where the portal expects a file (its value.txt) must not make the
// reader wait for a writer forever.
func TestOpenNoFollowRefusesNonRegular(t *testing.T) {
	forEachImpl(t, func(t *testing.T, s testStore) {
		ctx := context.Background()
		if err := s.fs.MkdirAll(ctx, "job/output/dir.txt"); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Mkfifo(filepath.Join(s.dir, "job/output/fifo.txt"), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"job/output/fifo.txt", "job/output/dir.txt"} {
			done := make(chan error, 1)
			go func() {
				f, err := s.fs.OpenNoFollow(ctx, p)
				if err == nil {
					f.Close()
				}
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(err, ErrInvalidPath) {
					t.Errorf("%s: %v, want ErrInvalidPath", p, err)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("%s: the open is still waiting", p)
			}
		}
	})
}
