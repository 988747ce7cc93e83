package files

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// failingReader yields data up to failAt, then fails with err: an upload cut
// off halfway.
type failingReader struct {
	data   []byte
	failAt int
	err    error
	off    int
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.off >= r.failAt {
		return 0, r.err
	}
	n := copy(p, r.data[r.off:min(r.failAt, len(r.data))])
	r.off += n
	return n, nil
}

// cancellingReader yields 32 MiB and cancels its context after cancelAt
// bytes, as a client going away mid-upload does. (It ends, so a Put that
// ignored ctx would finish and fail the test rather than hang.)
type cancellingReader struct {
	cancel   context.CancelFunc
	cancelAt int
	off      int
}

func (r *cancellingReader) Read(p []byte) (int, error) {
	if r.off >= r.cancelAt {
		r.cancel()
	}
	if r.off >= 32<<20 {
		return 0, io.EOF
	}
	for i := range p {
		p[i] = byte(r.off + i)
	}
	r.off += len(p)
	return len(p), nil
}

func TestBadNamesRefused(t *testing.T) {
	bad := []string{
		"../x", "/abs", "a/../../x", "a/../x", "..", ".", "", "a//b", "a/./b",
		"trailing/", "nul\x00byte", "dir/nul\x00", strings.Repeat("n", 256),
	}
	forEachImpl(t, func(t *testing.T, s testStore) {
		if _, err := s.fs.Put(ctx, "ok/kept.txt", strings.NewReader("kept")); err != nil {
			t.Fatal(err)
		}
		before := entries(t, filepath.Dir(s.dir))
		for _, p := range bad {
			checks := map[string]error{}
			_, checks["Put"] = s.fs.Put(ctx, p, strings.NewReader("evil"))
			_, checks["Open"] = s.fs.Open(ctx, p)
			checks["Remove"] = s.fs.Remove(ctx, p)
			checks["RemoveAll"] = s.fs.RemoveAll(ctx, p)
			checks["Link from"] = s.fs.Link(ctx, p, "ok/link")
			checks["Link to"] = s.fs.Link(ctx, "ok/kept.txt", p)
			if p != "." { // the root itself may be listed, stat'ed and made
				_, checks["Stat"] = s.fs.Stat(ctx, p)
				_, checks["List"] = s.fs.List(ctx, p)
				checks["MkdirAll"] = s.fs.MkdirAll(ctx, p)
			}
			for op, err := range checks {
				if !errors.Is(err, ErrInvalidPath) {
					t.Errorf("%s(%q) = %v, want ErrInvalidPath", op, p, err)
				}
			}
		}
		if after := entries(t, filepath.Dir(s.dir)); !slices.Equal(before, after) {
			t.Fatalf("bad names changed the disk:\nbefore %v\nafter  %v", before, after)
		}
		if got := readAll(t, s.fs, "ok/kept.txt"); got != "kept" {
			t.Fatalf("kept.txt = %q", got)
		}
	})
}

func TestCheckNameAndJoin(t *testing.T) {
	for _, name := range []string{
		"データ 1.csv", `a b'c".txt`, "emoji 🎉.png", `back\slash`, "-dash", " spaces ",
		"...", ".hidden", "..x", strings.Repeat("é", 127), // 254 bytes
	} {
		if err := CheckName(name); err != nil {
			t.Errorf("CheckName(%q) = %v, want nil", name, err)
		}
	}
	for _, name := range []string{
		"", ".", "..", "a/b", "/abs", "a\x00b", "bad\xffutf8", strings.Repeat("é", 128),
	} {
		if err := CheckName(name); !errors.Is(err, ErrInvalidPath) {
			t.Errorf("CheckName(%q) = %v, want ErrInvalidPath", name, err)
		}
	}
	if p, err := Join("data", "42", "データ 1.csv"); err != nil || p != "data/42/データ 1.csv" {
		t.Errorf("Join = %q, %v", p, err)
	}
	for _, parts := range [][]string{{}, {"a", ".."}, {"a", "b/c"}, {"/abs"}, {"a", ""}, {"bad\xff"}} {
		if p, err := Join(parts...); !errors.Is(err, ErrInvalidPath) {
			t.Errorf("Join(%q) = %q, %v; want ErrInvalidPath", parts, p, err)
		}
	}
}

func TestUTF8NamesKept(t *testing.T) {
	names := []string{
		"データ 1.csv", `a b'c".txt`, "emoji 🎉.png", `back\slash`, "-dash", " spaces ",
		"$(touch pwned)", "tab\there", "new\nline", strings.Repeat("長", 85), // 255 bytes
	}
	forEachImpl(t, func(t *testing.T, s testStore) {
		for i, name := range names {
			p, err := Join("data", "7", name)
			if err != nil {
				t.Fatalf("Join(%q): %v", name, err)
			}
			if _, err := s.fs.Put(ctx, p, strings.NewReader(name)); err != nil {
				t.Fatalf("Put(%q): %v", p, err)
			}
			if got := readAll(t, s.fs, p); got != name {
				t.Errorf("content of %q = %q", name, got)
			}
			// Stored under exactly that name on the shared filesystem.
			if _, err := os.Stat(filepath.Join(s.dir, "data", "7", name)); err != nil {
				t.Errorf("file %d not on disk under its name: %v", i, err)
			}
			if lp := s.fs.LocalPath(p); lp != filepath.Join(s.dir, "data", "7", name) {
				t.Errorf("LocalPath(%q) = %q", p, lp)
			}
		}
		list, err := s.fs.List(ctx, "data/7")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, fi := range list {
			got = append(got, fi.Name)
		}
		want := slices.Clone(names)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("List = %q\nwant   %q", got, want)
		}
	})
}

func TestCutOffUploadLeavesNothing(t *testing.T) {
	forEachImpl(t, func(t *testing.T, s testStore) {
		data := randomBytes(t, 4<<20)
		cases := []struct {
			name string
			put  func() error
			want error
		}{
			{"reader error halfway", func() error {
				_, err := s.fs.Put(ctx, "up/a.bin", &failingReader{data: data, failAt: 2 << 20, err: errors.New("connection reset")})
				return err
			}, nil},
			{"unexpected EOF halfway", func() error {
				_, err := s.fs.Put(ctx, "up/a.bin", &failingReader{data: data, failAt: 2<<20 + 17, err: io.ErrUnexpectedEOF})
				return err
			}, io.ErrUnexpectedEOF},
			{"context cancelled mid-upload", func() error {
				c, cancel := context.WithCancel(ctx)
				defer cancel()
				_, err := s.fs.Put(c, "up/a.bin", &cancellingReader{cancel: cancel, cancelAt: 3 << 20})
				return err
			}, context.Canceled},
			{"context cancelled before", func() error {
				c, cancel := context.WithCancel(ctx)
				cancel()
				_, err := s.fs.Put(c, "up/a.bin", bytes.NewReader(data))
				return err
			}, context.Canceled},
		}
		for _, tc := range cases {
			err := tc.put()
			if err == nil {
				t.Fatalf("%s: Put succeeded", tc.name)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("%s: Put = %v, want %v", tc.name, err, tc.want)
			}
			if _, err := s.fs.Stat(ctx, "up/a.bin"); !errors.Is(err, ErrNotExist) {
				t.Errorf("%s: the file exists (Stat: %v)", tc.name, err)
			}
			// The parent directory may stay; no file, temporary or not.
			if got := entries(t, s.dir); len(got) > 1 || (len(got) == 1 && got[0] != "up") {
				t.Errorf("%s: left behind %v", tc.name, got)
			}
		}
	})
}

func TestSymlinkEscapeRefused(t *testing.T) {
	forEachImpl(t, func(t *testing.T, s testStore) {
		// A job can leave symbolic links in its output; none may lead out.
		writeTree(t, s.outside, map[string][]byte{"secret": []byte("secret")}, s.uid, s.gid)
		writeTree(t, s.dir, map[string][]byte{"in/file": []byte("inside")}, s.uid, s.gid)
		for name, target := range map[string]string{
			"abs": s.outside,    // absolute
			"rel": "../outside", // relative, climbing out
			"ok":  "in",         // relative, staying inside
			"abf": s.outside + "/secret",
		} {
			if err := os.Symlink(target, filepath.Join(s.dir, name)); err != nil {
				t.Fatal(err)
			}
			os.Lchown(filepath.Join(s.dir, name), s.uid, s.gid)
		}
		outsideBefore := entries(t, s.outside)

		for _, link := range []string{"abs", "rel"} {
			if _, err := s.fs.Put(ctx, link+"/planted", strings.NewReader("x")); err == nil {
				t.Errorf("Put through %s succeeded", link)
			}
			if f, err := s.fs.Open(ctx, link+"/secret"); err == nil {
				f.Close()
				t.Errorf("Open through %s succeeded", link)
			}
			if _, err := s.fs.Stat(ctx, link+"/secret"); err == nil {
				t.Errorf("Stat through %s succeeded", link)
			}
			if _, err := s.fs.List(ctx, link); err == nil {
				t.Errorf("List through %s succeeded", link)
			}
			if err := s.fs.MkdirAll(ctx, link+"/newdir"); err == nil {
				t.Errorf("MkdirAll through %s succeeded", link)
			}
			if err := s.fs.Link(ctx, link+"/secret", "in/stolen"); err == nil {
				t.Errorf("Link from %s succeeded", link)
			}
			if err := s.fs.Link(ctx, "in/file", link+"/planted-link"); err == nil {
				t.Errorf("Link into %s succeeded", link)
			}
			if err := s.fs.RenameDir(ctx, "in", link+"/moved"); err == nil {
				t.Errorf("RenameDir into %s succeeded", link)
			}
			if err := s.fs.RenameDir(ctx, link+"/secret", "in/moved"); err == nil {
				t.Errorf("RenameDir out of %s succeeded", link)
			}
			if err := s.fs.Remove(ctx, link+"/secret"); err == nil {
				t.Errorf("Remove through %s reported success", link)
			}
			s.fs.RemoveAll(ctx, link+"/secret")
		}
		if f, err := s.fs.Open(ctx, "abf"); err == nil {
			f.Close()
			t.Errorf("Open of a link to an outside file succeeded")
		}
		if after := entries(t, s.outside); !slices.Equal(outsideBefore, after) {
			t.Errorf("outside the root changed: %v → %v", outsideBefore, after)
		}
		if b, err := os.ReadFile(filepath.Join(s.outside, "secret")); err != nil || string(b) != "secret" {
			t.Errorf("outside file changed: %q, %v", b, err)
		}
		if _, err := os.Stat(filepath.Join(s.dir, "in/stolen")); err == nil {
			t.Errorf("a link to an outside file was made inside")
		}

		// A link that stays inside the root works like the directory.
		if got := readAll(t, s.fs, "ok/file"); got != "inside" {
			t.Errorf("read through an inside link: %q", got)
		}
		// Removing a tree removes the links in it, not what they point to.
		if err := os.MkdirAll(filepath.Join(s.dir, "tree/sub"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(s.outside, filepath.Join(s.dir, "tree/sub/esc")); err != nil {
			t.Fatal(err)
		}
		chownTree(t, filepath.Join(s.dir, "tree"), s.uid, s.gid)
		if err := s.fs.RemoveAll(ctx, "tree"); err != nil {
			t.Errorf("RemoveAll of a tree holding a link: %v", err)
		}
		if _, err := os.Lstat(filepath.Join(s.dir, "tree")); err == nil {
			t.Errorf("RemoveAll left the tree")
		}
		// Removing the link removes the link, not what it points to.
		if err := s.fs.Remove(ctx, "abs"); err != nil {
			t.Errorf("Remove of the link itself: %v", err)
		}
		if _, err := os.Stat(filepath.Join(s.outside, "secret")); err != nil {
			t.Errorf("removing a link touched its target: %v", err)
		}
	})
}
