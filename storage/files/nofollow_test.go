package files

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
