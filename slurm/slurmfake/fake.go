// Package slurmfake is an in-memory slurm.Cluster for tests that need no
// real cluster.
package slurmfake

import (
	"context"
	"slices"
	"strconv"
	"sync"

	"kqi/slurm"
)

// Fake is an in-memory slurm.Cluster for handler and poller tests that
// need no real cluster: submitted jobs wait PENDING until the test sets
// their state, and the partitions are the dev cluster's shape (cpu, the
// default, and gpu-a100 with 4 GPUs).
type Fake struct {
	mu    sync.Mutex
	next  int
	jobs  map[string]*FakeJob
	parts []slurm.Partition
	// OnSubmit, when set, runs first in every Submit; an error it returns
	// is Submit's (Slurm refusing the job).
	OnSubmit func(script string, spec slurm.JobSpec) error
	// Accepted, when set, runs once Slurm has the job and before Submit
	// returns (an answer on its way back); an error it returns is
	// Submit's, as a reply lost on the way.
	Accepted func(id string) error
	// PartitionsErr, when set, is what Partitions answers (a cluster
	// that does not answer).
	PartitionsErr error
	// CheckErr, when set, is what Check answers (a backend refusing an
	// option).
	CheckErr error
	// FindErr, when set, is what FindJobs answers when asked about
	// comments (a cluster that stopped answering).
	FindErr error
	// Queries counts the calls of Jobs and FindJobs: what a poll asks
	// Slurm.
	Queries int
}

// FakeJob is one job the fake holds: what was submitted and what the
// test says Slurm reports.
type FakeJob struct {
	Script string
	Spec   slurm.JobSpec
	Info   slurm.JobInfo
}

// NewFake returns an empty fake cluster.
func NewFake() *Fake {
	return &Fake{next: 100, jobs: map[string]*FakeJob{}, parts: []slurm.Partition{
		{Name: "cpu", Default: true, Nodes: 1, CPUs: 8, MemoryMB: 16384, FreeCPUs: 8, FreeMemoryMB: 16384},
		{Name: "gpu-a100", Nodes: 1, CPUs: 8, MemoryMB: 16384, GPUs: []slurm.GPU{{Type: "a100", Count: 4}}, FreeGPUs: 4, FreeCPUs: 8, FreeMemoryMB: 16384},
	}}
}

// Submit records the job (or each task of an array) as PENDING and
// returns its id.
func (f *Fake) Submit(ctx context.Context, script string, spec slurm.JobSpec) (string, error) {
	if err := spec.Validate(); err != nil {
		return "", err
	}
	if f.OnSubmit != nil {
		if err := f.OnSubmit(script, spec); err != nil {
			return "", err
		}
	}
	f.mu.Lock()
	f.next++
	id := strconv.Itoa(f.next)
	// An array is its tasks, each known by its task id ("101_0"), as
	// squeue --array and slurmrestd list them.
	tasks := []string{id}
	if spec.ArraySize > 0 {
		tasks = tasks[:0]
		for i := range spec.ArraySize {
			tasks = append(tasks, slurm.TaskID(id, i))
		}
	}
	for _, t := range tasks {
		f.jobs[t] = &FakeJob{Script: script, Spec: spec, Info: slurm.JobInfo{ID: t, Name: spec.Name, Comment: spec.Comment, State: "PENDING"}}
	}
	f.mu.Unlock()
	if f.Accepted != nil {
		if err := f.Accepted(id); err != nil {
			return "", err
		}
	}
	return id, nil
}

// Jobs answers the jobs it holds among ids.
func (f *Fake) Jobs(ctx context.Context, ids []string) (map[string]slurm.JobInfo, error) {
	byID, _, err := f.FindJobs(ctx, ids, nil)
	return byID, err
}

// FindJobs answers the jobs it holds among ids and those carrying one of
// comments; comments fail with FindErr when it is set.
func (f *Fake) FindJobs(ctx context.Context, ids, comments []string) (map[string]slurm.JobInfo, map[string][]slurm.JobInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Queries++
	if f.FindErr != nil && len(comments) > 0 {
		return nil, nil, f.FindErr
	}
	byID, byComment := map[string]slurm.JobInfo{}, map[string][]slurm.JobInfo{}
	for _, id := range ids {
		if j, ok := f.jobs[id]; ok {
			byID[id] = j.Info
		}
	}
	for _, c := range comments {
		for _, j := range f.jobs {
			if c != "" && j.Info.Comment == c {
				byComment[c] = append(byComment[c], j.Info)
			}
		}
	}
	return byID, byComment, nil
}

// Cancel makes the job CANCELLED, as scancel would.
func (f *Fake) Cancel(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	j, ok := f.jobs[id]
	if !ok {
		return slurm.ErrJobNotFound
	}
	if !j.Info.Ended() {
		j.Info.State = "CANCELLED"
	}
	return nil
}

// Partitions lists the fixture's partitions.
func (f *Fake) Partitions(ctx context.Context) ([]slurm.Partition, error) {
	if f.PartitionsErr != nil {
		return nil, f.PartitionsErr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.parts), nil
}

// SetFreeGPUs changes how many GPUs of a partition no job holds now.
func (f *Fake) SetFreeGPUs(partition string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.parts {
		if f.parts[i].Name == partition {
			f.parts[i].FreeGPUs = n
		}
	}
}

// SetFree changes the most CPUs and memory (MB) free on one node of a
// partition now; 0 and 0 is what a partition whose nodes are all down,
// drained or busy reports.
func (f *Fake) SetFree(partition string, cpus, memoryMB int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.parts {
		if f.parts[i].Name == partition {
			f.parts[i].FreeCPUs, f.parts[i].FreeMemoryMB = cpus, memoryMB
		}
	}
}

// Check answers CheckErr.
func (f *Fake) Check(spec slurm.JobSpec) error { return f.CheckErr }

// Set changes what Slurm reports of job id.
func (f *Fake) Set(id string, change func(*slurm.JobInfo)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if j, ok := f.jobs[id]; ok {
		change(&j.Info)
	}
}

// Job returns a copy of what was submitted as id.
func (f *Fake) Job(id string) (FakeJob, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j, ok := f.jobs[id]
	if !ok {
		return FakeJob{}, false
	}
	return *j, true
}
