package slurm

import (
	"context"
	"testing"
	"time"
)

// Both backends read what running jobs hold of the nodes: while a job of
// 10 CPUs and 8 GiB runs on each node of the default partition, no node
// has more than the rest free, and once they are cancelled more is free
// again. The cluster is shared, so other jobs may hold more; the bounds
// hold whatever they do.
func TestFreeCPUsAndMemory(t *testing.T) {
	d := newDevCluster(t)
	const cpus, memGiB = 10, 8
	partition := func(c Cluster) Partition {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		parts, err := c.Partitions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range parts {
			if p.Default {
				return p
			}
		}
		t.Fatalf("no default partition in %+v", parts)
		return Partition{}
	}
	def := partition(d.backends[0].c)
	if def.CPUs < cpus || def.MemoryMB < memGiB*1024 {
		t.Fatalf("default partition %+v: too small for the test", def)
	}
	submitter := d.backends[0].c
	var ids []string
	for i := range def.Nodes {
		spec := d.spec(t, "hold-"+string(rune('a'+i)), "sleep 300")
		spec.CPUs, spec.MemoryGiB = cpus, memGiB
		ids = append(ids, submit(t, submitter, spec))
	}
	for _, id := range ids {
		waitFor(t, submitter, id, 3*time.Minute, "running", func(j JobInfo) bool { return j.State == "RUNNING" })
	}
	for _, b := range d.backends {
		p := partition(b.c)
		t.Logf("%s, jobs running: %d CPUs and %d MB free on one node", b.name, p.FreeCPUs, p.FreeMemoryMB)
		if p.FreeCPUs > def.CPUs-cpus || p.FreeMemoryMB > def.MemoryMB-memGiB*1024 {
			t.Errorf("%s: %d CPUs and %d MB free on one node while each holds %d CPUs and %d GiB of %d and %d MB",
				b.name, p.FreeCPUs, p.FreeMemoryMB, cpus, memGiB, def.CPUs, def.MemoryMB)
		}
	}
	for _, id := range ids {
		cancelJob(submitter, id)
	}
	for _, b := range d.backends {
		deadline := time.Now().Add(90 * time.Second)
		for {
			p := partition(b.c)
			if p.FreeCPUs > def.CPUs-cpus && p.FreeMemoryMB > def.MemoryMB-memGiB*1024 {
				t.Logf("%s, jobs cancelled: %d CPUs and %d MB free on one node", b.name, p.FreeCPUs, p.FreeMemoryMB)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: still %d CPUs and %d MB free on one node after the jobs were cancelled", b.name, p.FreeCPUs, p.FreeMemoryMB)
			}
			time.Sleep(2 * time.Second)
		}
	}
}
