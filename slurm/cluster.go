package slurm

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Cluster is how the portal talks to Slurm. Two implementations exist:
// REST (slurmrestd) and SSH (the Slurm commands on a login node). Both
// report the same job in the same JobInfo, so the poller and the pages do
// not know which one a site uses.
type Cluster interface {
	// Submit submits the batch script Render made from spec and returns
	// Slurm's job id. The spec is passed too because slurmrestd ignores
	// the script's #SBATCH lines and needs the same options as fields.
	Submit(ctx context.Context, script string, spec JobSpec) (string, error)

	// Jobs returns what the controller knows of the given jobs, in one
	// request whatever their number. A job Slurm no longer knows (it left
	// the controller after MinJobAge and no accounting has it) is absent
	// from the map: that is "not found", never "finished".
	Jobs(ctx context.Context, ids []string) (map[string]JobInfo, error)

	// FindJobs is Jobs for ids and, in the same request (REST: one GET
	// /jobs), the jobs of the cluster user the controller knows whose
	// --comment is exactly one of comments, by comment. The portal uses
	// comments to find jobs whose submission succeeded but whose id was
	// never recorded: one poll is one query however many there are.
	FindJobs(ctx context.Context, ids, comments []string) (byID map[string]JobInfo, byComment map[string][]JobInfo, err error)

	// Cancel stops a job. Cancelling a job that has already ended is not an
	// error; cancelling one Slurm does not know returns ErrJobNotFound.
	Cancel(ctx context.Context, id string) error

	// Partitions lists the cluster's partitions with what one node offers.
	Partitions(ctx context.Context) ([]Partition, error)

	// Check reports what of a valid spec this backend cannot send (an
	// #SBATCH option slurmrestd refuses), before anything is submitted.
	Check(spec JobSpec) error
}

// wanted is the set of comments a FindJobs looks for; "" is never
// one (a job without a comment is no one's).
func wanted(comments []string) map[string]bool {
	want := make(map[string]bool, len(comments))
	for _, c := range comments {
		if c != "" {
			want[c] = true
		}
	}
	return want
}

// ErrJobNotFound is returned when Slurm does not know a job id.
var ErrJobNotFound = errors.New("slurm: job not found")

// ErrUnreachable wraps a call that never reached the cluster (slurmrestd
// or the login node refused the connection): unlike a call that broke on
// the way, it certainly had no effect, so a submit can be withdrawn.
var ErrUnreachable = errors.New("slurm: the cluster could not be reached")

// unreachable marks err as ErrUnreachable when it is a failure to connect.
func unreachable(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	return err
}

// JobInfo is one job as the controller (or accounting) reports it, in
// Slurm's own terms; Observe and Decide turn it into a KQI status.
type JobInfo struct {
	ID      string
	Name    string
	Comment string
	// State is the job state as squeue and slurmrestd v0.0.38 show it: the
	// base state (PENDING, RUNNING, COMPLETED, …) or, while one is set, the
	// flag that matters most (COMPLETING, CONFIGURING, …).
	State string
	// Reason is why the job waits or ended, such as "Resources"; "" for none.
	Reason string
	// Node is the node list of the allocation; "" before there is one.
	Node string
	// SubmitTime is when Slurm accepted the job. StartTime is zero while
	// the job is pending (Slurm's expected start is not a start), and
	// EndTime is zero until the job has ended (not its expected end).
	SubmitTime, StartTime, EndTime time.Time
	// ExitCode and Signal are the batch script's exit status and the
	// signal that killed it, if any.
	ExitCode, Signal int
	// Restarts is how often Slurm requeued the job (after a node failure,
	// or an administrator's requeue); 0 for its first run.
	Restarts int
	// FromAccounting is set when the job had left the controller and was
	// found in Slurm's accounting (sacct) instead.
	FromAccounting bool
}

// Partition is one Slurm partition as the portal offers it. Per-node values
// are those of its largest node: a job of KQI runs on one node.
type Partition struct {
	Name     string
	Default  bool
	Nodes    int
	CPUs     int           // CPUs per node
	MemoryMB int           // real memory per node, in MB
	GPUs     []GPU         // GPUs per node, by type
	MaxTime  time.Duration // 0 = no limit
	// FreeGPUs is how many GPUs of all the partition's nodes no job holds
	// at the moment of asking.
	FreeGPUs int
	// FreeCPUs and FreeMemoryMB are the most CPUs and the most memory
	// that no job holds on any one node at the moment of asking (the two
	// may be of different nodes). A node that is down, drained or not
	// responding has nothing free.
	FreeCPUs     int
	FreeMemoryMB int
}

// GPU is a count of GPUs of one GRES type, such as {"a100", 4}; Type is ""
// for GPUs declared without a type.
type GPU struct {
	Type  string
	Count int
}

// Observe builds what Decide needs from the cluster's answer for one job
// and the job directory's record: found is false when the job was absent
// from the answer of Jobs.
func Observe(info JobInfo, found bool, rec Record) Observation {
	if !found {
		return Observation{Gone: true, Record: rec}
	}
	return Observation{States: []string{info.State}, Reason: info.Reason, ExitCode: info.ExitCode, Restarts: info.Restarts, Record: rec}
}

// StatusOf is the KQI status of a job from the answer of Jobs (found is
// false when the job was absent) and, once the job has ended or vanished,
// the record its script left in jobDir. Running jobs cost no file access,
// which matters when the poller walks hundreds of jobs on a shared
// filesystem. A portal that reaches the filesystem over SFTP reads the
// record itself and calls Decide(Observe(…)).
func StatusOf(info JobInfo, found bool, jobDir string) (Outcome, error) {
	var rec Record
	if !found || info.Ended() {
		var err error
		if rec, err = ReadRecord(jobDir); err != nil {
			return Outcome{}, err
		}
	}
	return Decide(Observe(info, found, rec))
}

// finalStates are the base states a job never leaves.
var finalStates = map[string]bool{
	"COMPLETED": true, "CANCELLED": true, "FAILED": true, "TIMEOUT": true,
	"NODE_FAIL": true, "PREEMPTED": true, "BOOT_FAIL": true, "DEADLINE": true,
	"OUT_OF_MEMORY": true, "REVOKED": true, "SPECIAL_EXIT": true,
}

// Ended reports whether Slurm considers the job over. A job that is still
// COMPLETING (shown in place of its base state) has not ended: its
// processes may still write.
func (j JobInfo) Ended() bool {
	return finalStates[j.State]
}

// normalize makes the two backends' views of a job identical: Slurm prints
// "(null)", "n/a" or "None" where slurmrestd gives "", and reports
// expected times that are not facts.
func (j *JobInfo) normalize() {
	clean := func(s string) string {
		switch strings.TrimSpace(s) {
		case "(null)", "n/a", "N/A", "None", "None assigned":
			return ""
		}
		return strings.TrimSpace(s)
	}
	j.Comment = clean(j.Comment)
	j.Reason = clean(j.Reason)
	j.Node = clean(j.Node)
	j.State = strings.ToUpper(strings.TrimSpace(j.State))
	if j.State == "PENDING" {
		j.StartTime = time.Time{}
	}
	if !j.Ended() {
		j.EndTime = time.Time{}
	}
}

// waitStatus splits the raw wait(2) status Slurm stores as a job's exit
// code into the exit code and the terminating signal.
func waitStatus(raw int64) (code, signal int) {
	return int(raw>>8) & 0xff, int(raw & 0x7f)
}

// epoch converts Slurm's seconds since 1970 to a time; 0 and less mean
// "not set".
func epoch(sec int64) time.Time {
	if sec <= 0 {
		return time.Time{}
	}
	return time.Unix(sec, 0).UTC()
}

var (
	jobIDPattern       = regexp.MustCompile(`^[0-9]{1,10}$`)
	jobOrTaskIDPattern = regexp.MustCompile(`^[0-9]{1,10}(_[0-9]{1,10})?$`)
)

// checkJobIDs rejects anything but numeric job ids and array task ids
// ("123_4", Slurm's own notation), so they can be placed on a command line
// or in a URL path as they are.
func checkJobIDs(ids []string) error {
	for _, id := range ids {
		if !jobOrTaskIDPattern.MatchString(id) {
			return fmt.Errorf("slurm: invalid job id %q", id)
		}
	}
	return nil
}

// parseGRES reads the GPUs of a node's GRES string, such as
// "gpu:a100:4(S:0-1),mps:100" or "gpu:2".
func parseGRES(s string) []GPU {
	var gpus []GPU
	depth, start := 0, 0
	var parts []string
	for i, r := range s {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	parts = append(parts, s[start:])
	for _, p := range parts {
		if i := strings.IndexByte(p, '('); i >= 0 {
			p = p[:i]
		}
		f := strings.Split(strings.TrimSpace(p), ":")
		if len(f) < 2 || f[0] != "gpu" {
			continue
		}
		var typ, count string
		if len(f) == 2 {
			count = f[1]
		} else {
			typ, count = f[1], f[2]
		}
		n, err := strconv.Atoi(count)
		if err != nil || n <= 0 {
			continue
		}
		gpus = append(gpus, GPU{Type: typ, Count: n})
	}
	return gpus
}

// parseDuration reads a Slurm time limit as sinfo prints it:
// "[days-]hours:minutes:seconds", "minutes:seconds", "minutes", or
// "infinite"/"UNLIMITED" (returned as 0, no limit).
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "infinite", "unlimited", "n/a", "":
		return 0, nil
	}
	var days int
	if d, rest, ok := strings.Cut(s, "-"); ok {
		n, err := strconv.Atoi(d)
		if err != nil {
			return 0, fmt.Errorf("slurm: time %q: %w", s, err)
		}
		days, s = n, rest
	}
	var nums []int
	for _, f := range strings.Split(s, ":") {
		n, err := strconv.Atoi(f)
		if err != nil {
			return 0, fmt.Errorf("slurm: time %q: %w", s, err)
		}
		nums = append(nums, n)
	}
	var h, m, sec int
	switch {
	case len(nums) == 3:
		h, m, sec = nums[0], nums[1], nums[2]
	case len(nums) == 2 && days > 0:
		h, m = nums[0], nums[1]
	case len(nums) == 2:
		m, sec = nums[0], nums[1]
	case len(nums) == 1 && days > 0:
		h = nums[0]
	case len(nums) == 1:
		m = nums[0]
	default:
		return 0, fmt.Errorf("slurm: time %q: too many fields", s)
	}
	return time.Duration(days)*24*time.Hour + time.Duration(h)*time.Hour +
		time.Duration(m)*time.Minute + time.Duration(sec)*time.Second, nil
}

// partitionBuilder gathers per-node facts into partitions the same way for
// both backends.
type partitionBuilder struct {
	order []string
	parts map[string]*Partition
	seen  map[string]map[string]bool
}

func newPartitionBuilder() *partitionBuilder {
	return &partitionBuilder{parts: map[string]*Partition{}, seen: map[string]map[string]bool{}}
}

func (b *partitionBuilder) partition(name string) *Partition {
	p, ok := b.parts[name]
	if !ok {
		p = &Partition{Name: name}
		b.parts[name] = p
		b.seen[name] = map[string]bool{}
		b.order = append(b.order, name)
	}
	return p
}

// nodeUp tells from a node's base state (idle, mixed, down…) and state
// flags (DRAIN, NOT_RESPONDING…), as Slurm 22.05 names them in either
// case, whether it can start a job now.
func nodeUp(base string, flags []string) bool {
	switch strings.ToLower(base) {
	case "down", "error", "future", "unknown", "invalid":
		return false
	}
	for _, f := range flags {
		switch strings.ToLower(f) {
		case "drain", "fail", "not_responding", "maintenance", "maint",
			"power_down", "powered_down", "powering_down", "powering_up", "reboot_issued", "invalid_reg":
			return false
		}
	}
	return true
}

// nodeNow is what jobs hold of a node now, and whether it can take one.
type nodeNow struct {
	Up                    bool // not down, drained, failed or unresponsive
	AllocCPUs, AllocMemMB int
	GRESUsed              string
}

// node adds one node of a partition: cpus, memMB and gres are what it
// has, now what jobs hold of it now.
func (b *partitionBuilder) node(partition, node string, cpus, memMB int, gres string, now nodeNow) {
	p := b.partition(partition)
	if !b.seen[partition][node] {
		b.seen[partition][node] = true
		p.Nodes++
		if now.Up {
			p.FreeGPUs += max(0, gpuCount(gres)-gpuCount(now.GRESUsed))
			p.FreeCPUs = max(p.FreeCPUs, cpus-now.AllocCPUs)
			p.FreeMemoryMB = max(p.FreeMemoryMB, memMB-now.AllocMemMB)
		}
	}
	p.CPUs = max(p.CPUs, cpus)
	p.MemoryMB = max(p.MemoryMB, memMB)
	for _, g := range parseGRES(gres) {
		found := false
		for i := range p.GPUs {
			if p.GPUs[i].Type == g.Type {
				p.GPUs[i].Count = max(p.GPUs[i].Count, g.Count)
				found = true
			}
		}
		if !found {
			p.GPUs = append(p.GPUs, g)
		}
	}
}

// gpuCount adds up the GPUs of every type in a GRES string.
func gpuCount(gres string) int {
	n := 0
	for _, g := range parseGRES(gres) {
		n += g.Count
	}
	return n
}

func (b *partitionBuilder) list() []Partition {
	sort.Strings(b.order)
	out := make([]Partition, 0, len(b.order))
	for _, name := range b.order {
		out = append(out, *b.parts[name])
	}
	return out
}
