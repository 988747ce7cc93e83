package jobs_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"kqi/portal/jobs"
	"kqi/slurm"
	"kqi/slurm/slurmtest"
)

// pinned sends every job to one node: the tests' way to say where a job
// runs (KQI itself leaves that to Slurm). Both backends honour it: sbatch
// reads the #SBATCH line, slurmrestd the option.
type pinned struct {
	slurm.Cluster
	node string
}

func (p pinned) Submit(ctx context.Context, script string, spec slurm.JobSpec) (string, error) {
	spec.Extra = append(spec.Extra, "--nodelist="+p.node)
	script = strings.Replace(script, "#!/bin/bash\n", "#!/bin/bash\n#SBATCH --nodelist="+p.node+"\n", 1)
	return p.Cluster.Submit(ctx, script, spec)
}

// A training runs on the dev cluster's second node, which is not the
// portal host (its own host name and address): it reads its dataset and
// writes its outputs and log on the shared filesystem, and the portal
// reads them from there and records the node.
func TestTrainingOnTheSecondNode(t *testing.T) {
	dev := slurmtest.Integration(t, "KQI_DEV_NODE", "KQI_DEV_NODE2")
	node2 := dev["KQI_DEV_NODE2"]
	if node2 == dev["KQI_DEV_NODE"] {
		t.Fatalf("the second node %q is the first", node2)
	}
	for name, cluster := range clusters(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, pinned{cluster, node2})
			tr := e.submit(t, "node2-"+name, `hostname > /kqi/output/host.txt; cat /kqi/input/training/*/a.txt >> /kqi/output/host.txt; echo "ran as $TRAINING_ID"`)
			tr = e.waitFor(t, tr.ID, 2*time.Minute, final)
			if tr.Status != string(slurm.StatusCompleted) {
				t.Fatalf("training on %s: %s (%s %s)\nlog:\n%s", node2, tr.Status, tr.Reason, tr.ReasonArg, e.file(t, tr, "log"))
			}
			if tr.Node != node2 {
				t.Errorf("the job's node is %q, want %q", tr.Node, node2)
			}
			if got := e.file(t, tr, "output/host.txt"); got != node2+"\nalpha" {
				t.Errorf("output %q, want the node's host name and the dataset's file", got)
			}
			log := e.file(t, tr, "log")
			for _, want := range []string{"starting on " + node2, "ran as " + strconv.FormatInt(tr.ID, 10)} {
				if !strings.Contains(log, want) {
					t.Errorf("log lacks %q:\n%s", want, log)
				}
			}
		})
	}
}

// The dev cluster holds jobs to their memory: a training using 2 GiB under
// a 1 GiB limit ends in error, out of memory with the limit named; one
// past its time limit still says so.
func TestOutOfMemoryAndTimeLimit(t *testing.T) {
	for name, cluster := range clusters(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, cluster)
			oom := e.submit(t, "oom-"+name, `python3 -c 'import time; x = b"x" * (2 << 30); time.sleep(30)'; echo "survived: $?"`,
				func(r *jobs.Request) { r.MemoryGB = 1 })
			late := e.submit(t, "late-"+name, "sleep 600", func(r *jobs.Request) { r.TimeLimitMin = 1 })

			tr := e.waitFor(t, oom.ID, 2*time.Minute, final)
			if tr.Status != string(slurm.StatusError) || tr.Reason != slurm.CauseOutOfMemoryLimit || tr.ReasonArg != "1" {
				t.Errorf("2 GiB under a 1 GiB limit: %s (%s %q)\nlog:\n%s", tr.Status, tr.Reason, tr.ReasonArg, e.file(t, tr, "log"))
			}
			tr = e.waitFor(t, late.ID, 3*time.Minute, final)
			if tr.Status != string(slurm.StatusError) || tr.Reason != slurm.CauseTimeLimit {
				t.Errorf("past its time limit: %s (%s %q)", tr.Status, tr.Reason, tr.ReasonArg)
			}
		})
	}
}
