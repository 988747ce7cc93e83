package jobs_test

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"kqi/portal/data"
	"kqi/slurm"
)

// The first job of a dataset stages it, once its row has frozen it, and
// its tree becomes the dataset's; later jobs bind that tree and make no
// link of their own. Every job sees the same inputs: hard links of the
// data's own files.
func TestEveryJobOfADatasetGetsItsFiles(t *testing.T) {
	e, fake := newFakeEnv(t)
	d, err := e.store.DatasetByID(t.Context(), e.tenant.ID, e.dataset)
	if err != nil || d.FrozenAt != nil || len(d.Entries) != 1 {
		t.Fatalf("the dataset before any job: %+v, %v; want one datum, not frozen", d, err)
	}
	datum := d.Entries[0].DataID
	shared := e.svc.Files.LocalPath(data.DatasetInputDir(e.tenant.ID, e.dataset))
	want := []string{fmt.Sprintf("training/%d/a.txt", datum), fmt.Sprintf("training/%d/b b.csv", datum)}
	for _, name := range []string{"first", "second", "third"} {
		j := e.submit(t, name, "true")
		job, ok := fake.Job(j.SlurmJobID)
		if !ok {
			t.Fatalf("%s: no Slurm job %q", name, j.SlurmJobID)
		}
		if job.Spec.InputSource != shared || !strings.Contains(job.Script, "--ro-bind "+shared+" /kqi/input\n") {
			t.Fatalf("%s binds %q at /kqi/input, want the dataset's tree %q", name, job.Spec.InputSource, shared)
		}
		var got []string
		err := filepath.WalkDir(shared, func(p string, de fs.DirEntry, err error) error {
			if err != nil || de.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(shared, p)
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
		if !slices.Equal(got, want) {
			t.Errorf("%s sees %q, want %q", name, got, want)
		}
		// The job's own directory holds its secrets alone: no input/ of
		// its own, no output/ yet (the script makes both on the node), and
		// no script.sh (the script is kept with the row).
		own, err := os.ReadDir(e.svc.Files.LocalPath(j.JobDir))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, de := range own {
			names = append(names, de.Name())
		}
		if !slices.Equal(names, []string{slurm.SecretsFile}) {
			t.Errorf("%s's directory holds %q", name, names)
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
