package files

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
)

// A secret is never readable by others, not even for a moment: the mode is
// 0600 when the file appears under its name, on both stores.
func TestPutPrivate(t *testing.T) {
	forEachImpl(t, func(t *testing.T, s testStore) {
		fs := s.fs
		ctx := context.Background()
		if _, err := fs.PutPrivate(ctx, "job/secrets", strings.NewReader("KQI_TOKEN=s3cret\n")); err != nil {
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

// WithOwner hands every created file and directory to the cluster account.
func TestLocalWithOwner(t *testing.T) {
	root := t.TempDir()
	l, err := NewLocal(root, WithOwner(65534, 65534)) // nobody
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	if _, err := l.PutPrivate(ctx, "jobs/1/secrets", strings.NewReader("x")); err != nil {
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
