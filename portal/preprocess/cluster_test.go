package preprocess_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os/exec"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"kqi/portal/preprocess"
	"kqi/slurm"
	"kqi/storage"
)

// names are the names of data, sorted.
func names(ds []storage.Data) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Name)
	}
	sort.Strings(out)
	return out
}

// TestRunsOnTheCluster runs preprocesses on the dev cluster through both
// backends: a run on three data is one job array of three tasks (squeue
// and scontrol show it), each task's two output directories become two
// data with their files (subdirectories kept) and lineage, a file directly
// under /kqi/output is ignored, a datum is run at most once, a task
// exiting 1 fails and registers nothing, deleting an entry deletes its
// data (refused while a frozen dataset holds one) and lets the datum run
// again, and a PIL script written against KAMONOHASHI's contract runs
// unchanged in the dev image.
func TestRunsOnTheCluster(t *testing.T) {
	for name, cluster := range clusters(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, cluster)
			ctx := context.Background()
			var src []int64
			for i := range 3 {
				src = append(src, e.datum(t, fmt.Sprintf("d%d", i), map[string]string{"a.txt": fmt.Sprintf("alpha %d", i), "b b.csv": "x,y\n"}))
			}
			bad := e.datum(t, "bad", map[string]string{"a.txt": "x"})
			p := e.define(t, preprocess.Fields{Name: "Upper case 1", Image: slurm.HostImage, GitRepository: e.repo, CPU: 1, MemoryGB: 1,
				Command: strings.Join([]string{
					`set -e`,
					`test "$PWD" = /kqi/git && test -f resize.py`,
					`test "$(cat /kqi/input/$DATA_ID/a.txt)" != "" && test -f "/kqi/input/$DATA_ID/b b.csv"`,
					`if touch /kqi/input/$DATA_ID/probe 2>/dev/null; then echo "/kqi/input is writable"; exit 10; fi`,
					`test "$DATA_NAME" != bad`,
					`mkdir -p /kqi/output/${DATA_NAME}_upper/sub /kqi/output/${DATA_NAME}_ids`,
					`tr a-z A-Z </kqi/input/$DATA_ID/a.txt >/kqi/output/${DATA_NAME}_upper/sub/a.txt`,
					`echo "$PREPROCESSING_ID $DATA_ID ${KQI_TOKEN:+token}" >/kqi/output/${DATA_NAME}_ids/ids.txt`,
					`echo ignored >/kqi/output/top.txt`,
					`sleep 2`,
				}, "\n")})

			hs := e.run(t, p.ID, src...)
			array := slurm.ArrayJobOf(hs[0].Job.SlurmJobID)
			t.Cleanup(func() { cluster.Cancel(context.Background(), array) })
			for i, h := range hs {
				if h.DataID != src[i] || h.Job == nil || h.Job.SlurmJobID != slurm.TaskID(array, i) || h.Job.Status != string(slurm.StatusQueued) {
					t.Fatalf("entry %d: %+v, job %+v", i, h, h.Job)
				}
			}
			out, err := exec.Command("squeue", "--noheader", "--array", "--states=all", "--jobs="+array, "--format=%i %j").CombinedOutput()
			if err != nil {
				t.Fatalf("squeue: %v\n%s", err, out)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			sort.Strings(lines)
			want := []string{}
			for i := range 3 {
				want = append(want, fmt.Sprintf("%s_%d preprocess-upper-case-1-%d", array, i, hs[0].Job.ID))
			}
			if !reflect.DeepEqual(lines, want) {
				t.Fatalf("squeue shows %q, want %q", lines, want)
			}
			for i := range 4 {
				task := slurm.TaskID(array, i)
				sc, err := exec.Command("scontrol", "show", "job", task).CombinedOutput()
				if ok := err == nil && strings.Contains(string(sc), "ArrayJobId="+array+" "); ok != (i < 3) {
					t.Fatalf("scontrol show job %s: %v\n%s", task, err, sc)
				}
			}

			// Running a datum again is refused, alone or with others.
			_, err = e.svc.Run(ctx, e.who, p.ID, preprocess.Run{DataIDs: []int64{bad, src[1]}, CPU: 1, MemoryGB: 1})
			refusedWith(t, err, "preprocess.already_run")

			for i, h := range e.await(t, p.ID, 3*time.Minute, src...) {
				if h.Status() != string(slurm.StatusCompleted) || len(h.Outputs) != 2 {
					t.Fatalf("entry of d%d: %s (%s %s), outputs %+v; log:\n%s", i, h.Status(), h.Job.Reason, h.Job.ReasonArg, h.Outputs, e.log(t, h))
				}
				if got, want := names(h.Outputs), []string{fmt.Sprintf("d%d_ids", i), fmt.Sprintf("d%d_upper", i)}; !reflect.DeepEqual(got, want) {
					t.Fatalf("outputs %v, want %v", got, want)
				}
				for _, o := range h.Outputs {
					d, err := e.store.DataByID(ctx, e.tenant, o.ID)
					if err != nil {
						t.Fatal(err)
					}
					var files []string
					for _, f := range d.Files {
						files = append(files, f.Name)
					}
					if !slices.Equal(d.Tags, []string{"Upper case 1"}) || !strings.Contains(d.Memo, "Upper case 1") || !strings.Contains(d.Memo, fmt.Sprintf("d%d (#%d)", i, src[i])) {
						t.Errorf("datum %s: tags %v memo %q", d.Name, d.Tags, d.Memo)
					}
					switch {
					case strings.HasSuffix(d.Name, "_upper"):
						if !slices.Equal(files, []string{"sub/a.txt"}) || e.read(t, d.ID, "sub/a.txt") != fmt.Sprintf("ALPHA %d", i) {
							t.Errorf("datum %s: files %v", d.Name, files)
						}
					default:
						if !slices.Equal(files, []string{"ids.txt"}) || e.read(t, d.ID, "ids.txt") != fmt.Sprintf("%d %d token\n", p.ID, src[i]) {
							t.Errorf("datum %s: files %v, ids.txt %q", d.Name, files, e.read(t, d.ID, "ids.txt"))
						}
					}
					l, err := e.svc.LineageOf(ctx, e.tenant, d.ID)
					if err != nil || len(l.CameFrom) != 1 || l.CameFrom[0].DataID != src[i] || l.CameFrom[0].PreprocessName != "Upper case 1" {
						t.Errorf("lineage of %s: %+v, %v", d.Name, l, err)
					}
				}
				if l, err := e.svc.LineageOf(ctx, e.tenant, src[i]); err != nil || len(l.MadeInto) != 1 || len(l.MadeInto[0].Outputs) != 2 {
					t.Errorf("lineage of d%d: %+v, %v", i, l, err)
				}
				if log := e.log(t, h); !strings.Contains(log, "the command exited with code 0") {
					t.Errorf("log of d%d:\n%s", i, log)
				}
			}
			if p, _ := e.svc.Get(ctx, e.tenant, p.ID); !p.Used {
				t.Error("a preprocess that ran is not marked used")
			}

			// A task exiting 1 fails and registers nothing.
			before := e.dataCount(t)
			e.run(t, p.ID, bad)
			h := e.await(t, p.ID, 2*time.Minute, bad)[0]
			if h.Status() != string(slurm.StatusFailed) || *h.Job.ExitCode != 1 || len(h.Outputs) != 0 || e.dataCount(t) != before {
				t.Fatalf("failing entry: %s exit %v outputs %v; data %d → %d", h.Status(), h.Job.ExitCode, h.Outputs, before, e.dataCount(t))
			}

			// Deleting an entry whose output a frozen dataset holds is refused.
			first, _ := e.svc.History(ctx, e.tenant, p.ID, src[0])
			e.freeze(t, first.Outputs[0].ID)
			refusedWith(t, e.svc.DeleteHistory(ctx, e.tenant, p.ID, src[0]), "preprocess.output_frozen")

			// Deleting an entry deletes its data, and the datum runs again.
			second, _ := e.svc.History(ctx, e.tenant, p.ID, src[1])
			if err := e.svc.DeleteHistory(ctx, e.tenant, p.ID, src[1]); err != nil {
				t.Fatal(err)
			}
			for _, o := range second.Outputs {
				if _, err := e.store.DataByID(ctx, e.tenant, o.ID); !errors.Is(err, storage.ErrNotFound) {
					t.Errorf("output %d of a deleted entry: %v", o.ID, err)
				}
			}
			if _, err := e.fs.Stat(ctx, second.Job.JobDir); err == nil {
				t.Errorf("job directory %s of a deleted entry is still there", second.Job.JobDir)
			}
			e.run(t, p.ID, src[1])
			if again := e.await(t, p.ID, 2*time.Minute, src[1])[0]; again.Status() != string(slurm.StatusCompleted) || len(again.Outputs) != 2 {
				t.Fatalf("second run: %s outputs %v", again.Status(), again.Outputs)
			}

			// The PIL script, unchanged, in the dev image.
			pil := e.define(t, preprocess.Fields{Name: "resize", Image: "local/python:3", GitRepository: e.repo, Command: "python3 resize.py", CPU: 1, MemoryGB: 1})
			img := e.datum(t, "photos", map[string]string{"cat.png": pngOf(t, 32, 20), "dog.png": pngOf(t, 10, 40), "notes.txt": "not an image"})
			e.run(t, pil.ID, img)
			h = e.await(t, pil.ID, 3*time.Minute, img)[0]
			if h.Status() != string(slurm.StatusCompleted) || !reflect.DeepEqual(names(h.Outputs), []string{"photos_cat", "photos_dog"}) {
				t.Fatalf("PIL run: %s (%s %s) outputs %v; log:\n%s", h.Status(), h.Job.Reason, h.Job.ReasonArg, names(h.Outputs), e.log(t, h))
			}
			for _, o := range h.Outputs {
				title := strings.TrimPrefix(o.Name, "photos_")
				got, err := png.Decode(strings.NewReader(e.read(t, o.ID, title+"_8x8.png")))
				if err != nil || got.Bounds().Dx() != 8 || got.Bounds().Dy() != 8 {
					t.Errorf("%s: %v, %v", o.Name, got.Bounds(), err)
				}
			}
		})
	}
}

func (e *env) dataCount(t *testing.T) int {
	t.Helper()
	var n int
	if err := e.db.QueryRow(`SELECT count(*) FROM data WHERE tenant_id = $1`, e.tenant).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// freeze puts a datum in a dataset a training has used.
func (e *env) freeze(t *testing.T, dataID int64) {
	t.Helper()
	var ds int64
	if err := e.db.QueryRow(`INSERT INTO datasets (tenant_id, name, frozen_at) VALUES ($1, 'used', now()) RETURNING id`, e.tenant).Scan(&ds); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.Exec(`INSERT INTO dataset_entries (dataset_id, data_id, area) VALUES ($1, $2, 'training')`, ds, dataID); err != nil {
		t.Fatal(err)
	}
}

func pngOf(t *testing.T, w, h int) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for x := range w {
		img.Set(x, x%h, color.RGBA{R: 200, A: 255})
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
