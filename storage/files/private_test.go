package files

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// A secret is never readable by others, not even for a moment: the mode is
// 0600 when the file appears under its name, on both stores.
func TestCreatePrivate(t *testing.T) {
	forEachImpl(t, func(t *testing.T, s testStore) {
		fs := s.fs
		ctx := context.Background()
		if err := fs.CreatePrivate(ctx, "job/secrets", []byte("KQI_TOKEN=s3cret\n")); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(fs.LocalPath("job/secrets"))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Fatalf("secrets mode %v", fi.Mode().Perm())
		}
	})
}

// A secret is written once: a name already taken, by a file or by a link
// (which is not followed), is refused and left as it was.
func TestCreatePrivateTakesOnlyANewName(t *testing.T) {
	forEachImpl(t, func(t *testing.T, s testStore) {
		fs := s.fs
		ctx := context.Background()
		if err := fs.CreatePrivate(ctx, "job/secrets", []byte("first")); err != nil {
			t.Fatal(err)
		}
		if err := fs.CreatePrivate(ctx, "job/secrets", []byte("second")); err == nil {
			t.Error("a second secret over the first was written")
		}
		if b, err := os.ReadFile(fs.LocalPath("job/secrets")); err != nil || string(b) != "first" {
			t.Errorf("the first secret: %q, %v", b, err)
		}
		outside := filepath.Join(t.TempDir(), "elsewhere")
		if err := os.WriteFile(outside, []byte("kept"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(outside, fs.LocalPath("job/link")); err != nil {
			t.Fatal(err)
		}
		if err := fs.CreatePrivate(ctx, "job/link", []byte("secret")); err == nil {
			t.Error("a secret was written through a link")
		}
		if b, err := os.ReadFile(outside); err != nil || string(b) != "kept" {
			t.Errorf("the link's target: %q, %v", b, err)
		}
	})
}

// WithOwner hands every created file and directory to the cluster account.
func TestLocalWithOwner(t *testing.T) {
	root := t.TempDir()
	l, err := NewLocal(root, WithOwner(65534, 65534)) // nobody
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	if err := l.CreatePrivate(ctx, "jobs/1/secrets", []byte("x")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"jobs", "jobs/1", "jobs/1/secrets"} {
		fi, err := os.Stat(l.LocalPath(p))
		if err != nil {
			t.Fatal(err)
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != 65534 || st.Gid != 65534 {
			t.Errorf("%s owned by %d:%d", p, st.Uid, st.Gid)
		}
	}
}
