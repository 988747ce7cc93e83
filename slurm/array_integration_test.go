package slurm

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestArray submits one job array of three tasks through each backend,
// each task its own job script in its own directory, throttled to two at
// a time: squeue shows one job with three tasks, both backends report
// each task by its id ("A_i") while pending, running and ended, task 1
// exits 1 and the others 0, and a pending task is cancelled on its own.
func TestArray(t *testing.T) {
	d := newDevCluster(t)
	for _, b := range d.backends {
		c := b.c
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			array := d.spec(t, b.name+"-array", "true")
			array.ArraySize, array.ArrayLimit = 4, 2
			for i := range array.ArraySize {
				task := d.spec(t, b.name+"-array/"+strconv.Itoa(i), strings.Join([]string{
					`test "$SLURM_ARRAY_TASK_ID" = ` + strconv.Itoa(i),
					`echo task ` + strconv.Itoa(i) + ` >/kqi/output/task.txt`,
					`sleep 3`,
					`test "$SLURM_ARRAY_TASK_ID" != 1`,
				}, "\n"))
				task.Name = array.Name
				if i == 3 {
					task.Command = "sleep 600"
				}
				script, err := Render(task, Bubblewrap{})
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(task.JobDir, ScriptFile), []byte(script), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			script, err := RenderArray(array)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			id, err := c.Submit(ctx, script, array)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cancelJob(c, id) })
			tasks := []string{TaskID(id, 0), TaskID(id, 1), TaskID(id, 2), TaskID(id, 3)}

			// At first: one job, its tasks listed one by one, at most two running.
			jobs, err := c.Jobs(ctx, tasks)
			if err != nil || len(jobs) != 4 {
				t.Fatalf("Jobs(%v) = %+v, %v", tasks, jobs, err)
			}
			out, err := exec.Command("squeue", "--noheader", "--jobs="+id, "--Format=ArrayJobID:|,JobArrayID:|").CombinedOutput()
			if err != nil {
				t.Fatalf("squeue: %v\n%s", err, out)
			}
			for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				if !strings.HasPrefix(line, id+"|"+id+"_") {
					t.Errorf("squeue line %q is not a task of array %s", line, id)
				}
			}
			if sc, err := exec.Command("scontrol", "show", "job", id).CombinedOutput(); err != nil || strings.Count(string(sc), "ArrayJobId="+id) < 1 {
				t.Errorf("scontrol show job %s: %v\n%s", id, err, sc)
			}

			for i, want := range []struct {
				state string
				code  int
			}{{"COMPLETED", 0}, {"FAILED", 1}, {"COMPLETED", 0}} {
				j := waitFor(t, c, tasks[i], 3*time.Minute, "ended", ended)
				dir := TaskDir(array.JobDir, i)
				if j.State != want.state || j.ExitCode != want.code || j.Comment != array.Comment || j.Name != array.Name {
					log, _ := os.ReadFile(filepath.Join(dir, LogFile))
					t.Fatalf("task %d: %+v, log:\n%s", i, j, log)
				}
				if o := outcome(t, j, dir); o.ExitCode != want.code {
					t.Fatalf("task %d: outcome %+v", i, o)
				}
				if b, err := os.ReadFile(filepath.Join(dir, OutputDir, "task.txt")); err != nil || string(b) != "task "+strconv.Itoa(i)+"\n" {
					t.Fatalf("task %d wrote %q, %v", i, b, err)
				}
			}
			j := waitFor(t, c, tasks[3], time.Minute, "running", func(j JobInfo) bool { return j.State == "RUNNING" })
			if _, byComment, err := c.FindJobs(ctx, nil, []string{array.Comment}); err != nil || len(byComment[array.Comment]) == 0 || ArrayJobOf(byComment[array.Comment][0].ID) != id {
				t.Fatalf("FindJobs = %+v, %v", byComment, err)
			}
			if err := c.Cancel(ctx, tasks[3]); err != nil {
				t.Fatal(err)
			}
			j = waitFor(t, c, tasks[3], time.Minute, "ended", ended)
			if j.State != "CANCELLED" {
				t.Fatalf("task 3 after cancel: %+v", j)
			}
			d.sameOnBoth(t, tasks...)
		})
	}
}
