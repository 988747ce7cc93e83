package slurm

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Status is a KQI job status (DESIGN: "Status values").
type Status string

const (
	StatusSubmitting Status = "submitting" // the portal's own, before Slurm has the job
	StatusQueued     Status = "queued"     // waiting; Outcome.Reason carries Slurm's reason
	StatusRunning    Status = "running"
	StatusCompleted  Status = "completed" // the command exited 0
	StatusFailed     Status = "failed"    // the command exited non-zero
	StatusKilled     Status = "killed"    // cancelled
	StatusError      Status = "error"     // anything the user's code did not cause; Reason says what
)

// Final reports whether the status can no longer change.
func (s Status) Final() bool {
	switch s {
	case StatusCompleted, StatusFailed, StatusKilled, StatusError:
		return true
	}
	return false
}

// Observation is what a cluster backend learned about one job, plus what
// the job's script left in its directory.
type Observation struct {
	// States is Slurm's job_state: one string from squeue or slurmrestd
	// v0.0.38 (which reports a flag such as "COMPLETING" in place of the
	// base state), or the base state and its flags from v0.0.40 on, such as
	// ["PENDING", "REQUEUED"].
	States []string
	// Reason is Slurm's state_reason, such as "Resources"; "None" is ignored.
	Reason string
	// ExitCode is the batch script's exit status as Slurm reports it.
	ExitCode int
	// Gone means Slurm no longer knows the job: it left the controller
	// after MinJobAge and accounting (if any) had nothing either.
	Gone bool
	// Record is what the script wrote; read it once the job has ended.
	Record Record
}

// Record is what the batch script leaves in the job directory. A nil field
// means the file does not exist, which is different from an empty file.
type Record struct {
	ExitCode []byte // content of ExitCodeFile
	Error    []byte // content of ErrorFile
}

// ReadRecord reads the record of the job directory dir on a filesystem the
// caller mounts; a missing file leaves its field nil.
func ReadRecord(dir string) (Record, error) {
	var r Record
	for name, dst := range map[string]*[]byte{ExitCodeFile: &r.ExitCode, ErrorFile: &r.Error} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return Record{}, fmt.Errorf("read job record: %w", err)
		default:
			if b == nil {
				b = []byte{}
			}
			*dst = b
		}
	}
	return r, nil
}

// Outcome is the KQI status for an observation.
type Outcome struct {
	Status Status
	// Reason is Slurm's reason while queued, the cause for error and
	// killed, and empty otherwise.
	Reason string
	// ExitCode is the command's exit code, for completed and failed.
	ExitCode int
}

// ErrUnknownState is returned for a Slurm state this package does not
// know, so the poller keeps the job's status and logs it rather than
// guessing.
var ErrUnknownState = errors.New("unknown Slurm job state")

// baseStates are Slurm's base job states; everything else in a job_state
// list is a flag.
var baseStates = map[string]bool{
	"PENDING": true, "RUNNING": true, "SUSPENDED": true, "COMPLETED": true,
	"CANCELLED": true, "FAILED": true, "TIMEOUT": true, "NODE_FAIL": true,
	"PREEMPTED": true, "BOOT_FAIL": true, "DEADLINE": true, "OUT_OF_MEMORY": true,
}

// knownFlags are the state flags Decide understands when no base state is
// given (squeue and v0.0.38 show the most important flag instead of the
// base state).
var knownFlags = map[string]bool{
	"COMPLETING": true, "CONFIGURING": true, "REQUEUED": true, "REQUEUE_HOLD": true,
	"REQUEUE_FED": true, "RESIZING": true, "SIGNALING": true, "STAGE_OUT": true,
	"STOPPED": true, "RESV_DEL_HOLD": true, "POWER_UP_NODE": true, "UPDATE_DB": true,
	"LAUNCH_FAILED": true, "REVOKED": true, "SPECIAL_EXIT": true, "RECONFIG_FAIL": true,
}

// Decide maps an observation to a KQI status.
//
// The command's exit code comes from the record the script wrote, not from
// Slurm, and a job that ended without a record is never called completed:
// something other than the user's code stopped it. Time limit, memory,
// node and boot failures are errors whatever the record says, because they
// cut the command short.
func Decide(o Observation) (Outcome, error) {
	if o.Gone {
		return fromRecord(o.Record, "job vanished from Slurm without recording an exit code")
	}
	base, flags, unknown := "", map[string]bool{}, []string(nil)
	for _, s := range o.States {
		s = strings.ToUpper(strings.TrimSpace(s))
		switch {
		case baseStates[s] && base == "":
			base = s
		case knownFlags[s] || baseStates[s]:
			flags[s] = true
		case s != "":
			unknown = append(unknown, s)
		}
	}
	// A flag added by a later Slurm only modifies a base state we know;
	// without a base state it could mean anything.
	if base == "" && len(unknown) > 0 {
		return Outcome{}, fmt.Errorf("%w: %q", ErrUnknownState, unknown)
	}
	reason := o.Reason
	if reason == "None" {
		reason = ""
	}
	requeued := flags["REQUEUED"] || flags["REQUEUE_HOLD"] || flags["REQUEUE_FED"]

	switch base {
	case "":
		switch {
		case len(flags) == 0:
			return Outcome{}, fmt.Errorf("%w: no state in %q", ErrUnknownState, o.States)
		case flags["CONFIGURING"]:
			return Outcome{Status: StatusQueued, Reason: "nodes are starting"}, nil
		case requeued:
			return Outcome{Status: StatusQueued, Reason: join("requeued", reason)}, nil
		case flags["COMPLETING"], flags["STAGE_OUT"], flags["SIGNALING"], flags["RESIZING"], flags["STOPPED"]:
			// Still on its node: the result is not final until the base
			// state says so.
			return Outcome{Status: StatusRunning}, nil
		case flags["REVOKED"]:
			return Outcome{Status: StatusError, Reason: "revoked: the job was started on another cluster of the federation"}, nil
		case flags["SPECIAL_EXIT"]:
			return Outcome{Status: StatusError, Reason: join("held by Slurm after a special exit", reason)}, nil
		case flags["LAUNCH_FAILED"]:
			return Outcome{Status: StatusError, Reason: join("Slurm could not launch the job", reason)}, nil
		default:
			return Outcome{Status: StatusQueued, Reason: reason}, nil
		}
	case "PENDING":
		if requeued {
			reason = join("requeued", reason)
		}
		return Outcome{Status: StatusQueued, Reason: reason}, nil
	case "RUNNING":
		if flags["CONFIGURING"] {
			return Outcome{Status: StatusQueued, Reason: "nodes are starting"}, nil
		}
		return Outcome{Status: StatusRunning}, nil
	case "SUSPENDED":
		return Outcome{Status: StatusRunning, Reason: "suspended by Slurm"}, nil
	case "COMPLETED":
		return fromRecord(o.Record, "job ended without recording an exit code")
	case "FAILED":
		return fromRecord(o.Record, join(fmt.Sprintf("the job script failed before the command ended (exit code %d)", o.ExitCode), reason))
	case "CANCELLED":
		return Outcome{Status: StatusKilled, Reason: join("cancelled", reason)}, nil
	case "TIMEOUT":
		return Outcome{Status: StatusError, Reason: "time limit reached"}, nil
	case "OUT_OF_MEMORY":
		return Outcome{Status: StatusError, Reason: "out of memory"}, nil
	case "NODE_FAIL":
		return Outcome{Status: StatusError, Reason: join("node failure", reason)}, nil
	case "BOOT_FAIL":
		return Outcome{Status: StatusError, Reason: join("the node failed to boot", reason)}, nil
	case "DEADLINE":
		return Outcome{Status: StatusError, Reason: "deadline passed before the job could finish"}, nil
	case "PREEMPTED":
		if requeued {
			return Outcome{Status: StatusQueued, Reason: "preempted, requeued"}, nil
		}
		return Outcome{Status: StatusError, Reason: "preempted by a higher-priority job"}, nil
	}
	return Outcome{}, fmt.Errorf("%w: %q", ErrUnknownState, base)
}

// fromRecord decides a job that has ended from what its script wrote;
// missing is the cause when it wrote nothing.
func fromRecord(r Record, missing string) (Outcome, error) {
	if r.Error != nil {
		cause, _, _ := strings.Cut(strings.TrimSpace(string(r.Error)), "\n")
		if cause == "" {
			cause = "the job script reported an error without a cause"
		}
		if len(cause) > 500 {
			cause = cause[:500]
		}
		return Outcome{Status: StatusError, Reason: cause}, nil
	}
	if r.ExitCode == nil {
		return Outcome{Status: StatusError, Reason: missing}, nil
	}
	code, err := strconv.Atoi(strings.TrimSpace(string(r.ExitCode)))
	if err != nil || code < 0 {
		return Outcome{Status: StatusError, Reason: fmt.Sprintf("unreadable %s file: %q", ExitCodeFile, r.ExitCode)}, nil
	}
	if code == 0 {
		return Outcome{Status: StatusCompleted}, nil
	}
	return Outcome{Status: StatusFailed, ExitCode: code}, nil
}

func join(what, reason string) string {
	if reason == "" {
		return what
	}
	return what + " (" + reason + ")"
}
