package jobs_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"kqi/portal/data"
	"kqi/slurm"
)

// The first job of a dataset reads its files once its row has frozen it;
// later ones read them while their row is recorded. Every job gets the
// same inputs either way: hard links of the data's own files.
func TestEveryJobOfADatasetGetsItsFiles(t *testing.T) {
	e, _ := newFakeEnv(t)
	d, err := e.store.DatasetByID(t.Context(), e.tenant.ID, e.dataset)
	if err != nil || d.FrozenAt != nil || len(d.Entries) != 1 {
		t.Fatalf("the dataset before any job: %+v, %v; want one datum, not frozen", d, err)
	}
	datum := d.Entries[0].DataID
	var first []string
	for i, name := range []string{"first", "second", "third"} {
		j := e.submit(t, name, "true")
		in := e.svc.Files.LocalPath(j.JobDir + "/" + slurm.InputDir)
		var got []string
		err := filepath.WalkDir(in, func(p string, de fs.DirEntry, err error) error {
			if err != nil || de.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(in, p)
			got = append(got, rel)
			src, _ := data.FilePath(e.tenant.ID, datum, filepath.Base(p))
			if !sameFile(t, p, e.svc.Files.LocalPath(src)) {
				t.Errorf("%s: %s is not a link of the datum's file", name, rel)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		if i == 0 {
			first = got
			if len(got) != 2 {
				t.Fatalf("the first job's inputs: %q, want the datum's two files", got)
			}
		} else if !slices.Equal(got, first) {
			t.Errorf("the %s job's inputs %q, the first's %q", name, got, first)
		}
	}
}

func sameFile(t *testing.T, a, b string) bool {
	t.Helper()
	fa, err := os.Stat(a)
	if err != nil {
		t.Fatal(err)
	}
	fb, err := os.Stat(b)
	if err != nil {
		t.Fatal(err)
	}
	return fa.Sys().(*syscall.Stat_t).Ino == fb.Sys().(*syscall.Stat_t).Ino
}
