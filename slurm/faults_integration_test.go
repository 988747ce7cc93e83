package slurm

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A job that fills its filesystem cannot write its record. It must end an
// error that says so, with the command's exit code Slurm kept, and leave no
// empty temporary record files. The job directory is a 2 MiB tmpfs.
func TestJobFillingTheDisk(t *testing.T) {
	d := newDevCluster(t)
	if os.Geteuid() != 0 {
		t.Fatal("mounting a small filesystem for the job needs root (the dev cluster's tests run as root)")
	}
	for _, b := range d.backends {
		t.Run(b.name, func(t *testing.T) {
			spec := d.spec(t, b.name+"-disk-full", "head -c 8M /dev/zero >/kqi/output/fill")
			mount := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m,mode=0755", "tmpfs", spec.JobDir)
			if out, err := mount.CombinedOutput(); err != nil {
				t.Fatalf("mount a small tmpfs: %v\n%s", err, out)
			}
			t.Cleanup(func() { exec.Command("umount", "-l", spec.JobDir).Run() })
			d.chown(t, spec.JobDir)

			id := submit(t, b.c, spec)
			j := waitFor(t, b.c, id, 2*time.Minute, "ended", ended)
			o := outcome(t, j, spec.JobDir)
			log, _ := os.ReadFile(spec.Path(LogFile))
			if o.Status != StatusError || o.Cause != (Cause{CauseNoSpace, "1"}) {
				t.Fatalf("outcome %+v (Slurm: %+v); want error %s with head's exit code 1; log:\n%s", o, j, CauseNoSpace, log)
			}
			temps, _ := filepath.Glob(filepath.Join(spec.JobDir, "*.tmp"))
			if len(temps) > 0 {
				t.Errorf("temporary record files left: %v", temps)
			}
			if !strings.Contains(string(log), "No space left on device") {
				t.Errorf("log does not show the cause:\n%s", log)
			}
		})
	}
}

// A job Slurm requeues (here by scontrol, as after a node failure) waits
// for its next attempt and says so, on both backends.
func TestRequeuedJobSaysWhichAttempt(t *testing.T) {
	d := newDevCluster(t)
	for _, b := range d.backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			spec := d.spec(t, b.name+"-requeue", "sleep 300")
			id := submit(t, b.c, spec)
			waitFor(t, b.c, id, 2*time.Minute, "running", func(j JobInfo) bool { return j.State == "RUNNING" })
			if out, err := exec.Command("scontrol", "requeue", id).CombinedOutput(); err != nil {
				t.Fatalf("scontrol requeue %s: %v\n%s", id, err, out)
			}
			j := waitFor(t, b.c, id, time.Minute, "pending again", func(j JobInfo) bool { return j.State == "PENDING" && j.Restarts == 1 })
			if o := outcome(t, j, spec.JobDir); o.Status != StatusQueued || o.Cause != (Cause{CauseRequeuedAttempt, "2"}) {
				t.Fatalf("outcome %+v of %+v; want queued, requeued for attempt 2", o, j)
			}
		})
	}
}
