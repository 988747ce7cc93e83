package slurm

import (
	"bytes"
	"errors"
	"fmt"
	"io"
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
	// v0.0.38, which report a flag such as "COMPLETING" in place of the
	// base state; Decide also takes a base state and its flags, such as
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
	// Restarts is how often Slurm requeued the job; a job waiting or
	// running again says which attempt it is on.
	Restarts int
	// MemoryGiB is the memory the job asked for, named when it ran out.
	MemoryGiB int
	// StopRequested is set when a user asked KQI to stop the job: only
	// then is a cancelled job "killed"; anyone else cancelling it (an
	// administrator, Slurm itself) makes it an error.
	StopRequested bool
}

// Record is what the batch script leaves in the job directory. A nil field
// means the file does not exist, which is different from an empty file.
type Record struct {
	ExitCode []byte // content of ExitCodeFile
	Error    []byte // content of ErrorFile
	// LogTail is the end of the log, read only when there is no exit code
	// file: it tells why the script could not write one (a full disk).
	LogTail []byte
}

// recordLimit bounds what is read of each record file; logTailSize is how
// much of the log's end is read.
const (
	recordLimit = 4096
	logTailSize = 16 << 10
)

// ReadRecord reads the record of the job directory dir on a filesystem the
// caller mounts; a missing file leaves its field nil.
func ReadRecord(dir string) (Record, error) {
	return ReadRecordFrom(func(name string) (io.ReadSeekCloser, error) {
		return os.Open(filepath.Join(dir, name))
	})
}

// ReadRecordFrom reads a job directory's record through open, which opens
// one file of the directory by name and answers a missing file with an
// error matching fs.ErrNotExist. Directories that are not mounted (SFTP)
// are read this way.
func ReadRecordFrom(open func(name string) (io.ReadSeekCloser, error)) (Record, error) {
	var r Record
	read := func(name string, tail bool) ([]byte, error) {
		f, err := open(name)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read job record: %w", err)
		}
		defer f.Close()
		limit := int64(recordLimit)
		if tail {
			limit = logTailSize
			if _, err := f.Seek(-limit, io.SeekEnd); err != nil {
				// Shorter than the tail: read it from the start.
				if _, err := f.Seek(0, io.SeekStart); err != nil {
					return nil, fmt.Errorf("read job record: %w", err)
				}
			}
		}
		b, err := io.ReadAll(io.LimitReader(f, limit))
		if err != nil {
			return nil, fmt.Errorf("read job record: %w", err)
		}
		if b == nil {
			b = []byte{}
		}
		return b, nil
	}
	var err error
	if r.ExitCode, err = read(ExitCodeFile, false); err != nil {
		return Record{}, err
	}
	if r.Error, err = read(ErrorFile, false); err != nil {
		return Record{}, err
	}
	if r.ExitCode == nil {
		if r.LogTail, err = read(LogFile, true); err != nil {
			return Record{}, err
		}
	}
	return r, nil
}

// noSpace reports whether a log's end shows that a write failed for want
// of space (strerror(ENOSPC)): the script then cannot record the exit code.
func noSpace(logTail []byte) bool {
	return bytes.Contains(logTail, []byte("No space left on device"))
}

// Outcome is the KQI status for an observation.
type Outcome struct {
	Status Status
	// Cause is Slurm's reason while queued, why the job ended for error
	// and killed, and empty otherwise.
	Cause Cause
	// ExitCode is the command's exit code, for completed and failed.
	ExitCode int
}

// Cause says why a job waits or why it ended in error or killed: a code
// that pages translate (catalog key "cause."+Code) and an argument shown
// as it is (Slurm's own reason, a detail of the script's).
type Cause struct {
	Code string
	Arg  string
}

// Cause codes.
const (
	CauseSlurm              = "slurm"                // Arg: Slurm's reason while pending, such as "Resources"
	CauseNodesStarting      = "nodes_starting"       // the allocation's nodes are booting
	CauseRequeued           = "requeued"             // Arg: Slurm's reason
	CauseRequeuedAttempt    = "requeued_attempt"     // Arg: the attempt it waits for (2 for the first rerun)
	CauseRerunning          = "rerunning"            // Arg: the attempt it is on
	CauseSuspended          = "suspended"            // suspended by Slurm
	CauseRevoked            = "revoked"              // started on another cluster of a federation
	CauseSpecialExit        = "special_exit"         // Arg: Slurm's reason
	CauseLaunchFailed       = "launch_failed"        // Arg: Slurm's reason
	CauseStoppedByUser      = "stopped_by_user"      // the user asked KQI to stop it
	CauseCancelledOutside   = "cancelled_outside"    // Arg: Slurm's reason; an administrator or Slurm cancelled it
	CauseTimeLimit          = "time_limit"           // the job's time limit was reached
	CauseOutOfMemory        = "out_of_memory"        // the job used more memory than it asked for
	CauseOutOfMemoryLimit   = "out_of_memory_limit"  // Arg: the limit in GiB; the job used more
	CauseNodeFail           = "node_fail"            // Arg: Slurm's reason
	CauseBootFail           = "boot_fail"            // Arg: Slurm's reason
	CauseDeadline           = "deadline"             // the deadline passed
	CausePreempted          = "preempted"            // by a higher-priority job
	CausePreemptedRequeued  = "preempted_requeued"   // preempted and waiting again
	CauseScriptFailed       = "script_failed"        // Arg: the script's exit code and Slurm's reason
	CauseNoExitCode         = "no_exit_code"         // the job ended without recording an exit code
	CauseVanished           = "vanished"             // Slurm forgot the job before it recorded an exit code
	CauseUnreadableExitCode = "unreadable_exit_code" // Arg: the file's content
	CauseCloneFailed        = "clone_failed"         // Arg: the script's detail
	CauseImageFailed        = "image_failed"         // Arg: the script's detail
	CauseJobError           = "job_error"            // Arg: the script's message
	CauseSubmitFailed       = "submit_failed"        // Arg: the error Slurm (or the portal) gave
	CauseSubmitInterrupted  = "submit_interrupted"   // the portal stopped before Slurm accepted the job
	CauseNoSpace            = "no_space"             // Arg: Slurm's exit code; the shared filesystem filled up
	CausePullingImage       = "pulling_image"        // running, but still pulling its image
)

// scriptCauses are the prefixes the batch script's kqi_fail writes into
// the error file, with the code each stands for.
var scriptCauses = []struct{ prefix, code string }{
	{"clone failed: ", CauseCloneFailed},
	{"image failed: ", CauseImageFailed},
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
		return fromRecord(o.Record, Cause{Code: CauseVanished})
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
	if reason == "None" || restates(reason, o.States) {
		reason = ""
	}
	requeued := flags["REQUEUED"] || flags["REQUEUE_HOLD"] || flags["REQUEUE_FED"]

	switch base {
	case "":
		switch {
		case len(flags) == 0:
			return Outcome{}, fmt.Errorf("%w: no state in %q", ErrUnknownState, o.States)
		case flags["CONFIGURING"]:
			return Outcome{Status: StatusQueued, Cause: Cause{Code: CauseNodesStarting}}, nil
		case requeued:
			return Outcome{Status: StatusQueued, Cause: Cause{CauseRequeued, reason}}, nil
		case flags["COMPLETING"], flags["STAGE_OUT"], flags["SIGNALING"], flags["RESIZING"], flags["STOPPED"]:
			// Still on its node: the result is not final until the base
			// state says so.
			return Outcome{Status: StatusRunning}, nil
		case flags["REVOKED"]:
			return Outcome{Status: StatusError, Cause: Cause{Code: CauseRevoked}}, nil
		case flags["SPECIAL_EXIT"]:
			return Outcome{Status: StatusError, Cause: Cause{CauseSpecialExit, reason}}, nil
		case flags["LAUNCH_FAILED"]:
			return Outcome{Status: StatusError, Cause: Cause{CauseLaunchFailed, reason}}, nil
		default:
			return Outcome{Status: StatusQueued, Cause: pending(reason)}, nil
		}
	case "PENDING":
		if o.Restarts > 0 && reason != "" && !strings.EqualFold(reason, "BeginTime") {
			// Waiting on something that matters more than the rerun
			// (a hold, resources): Slurm's reason says what.
			return Outcome{Status: StatusQueued, Cause: pending(reason)}, nil
		}
		if o.Restarts > 0 {
			// A requeued job waits out a begin time Slurm set: say why
			// it waits and that it will run again.
			return Outcome{Status: StatusQueued, Cause: Cause{CauseRequeuedAttempt, strconv.Itoa(o.Restarts + 1)}}, nil
		}
		if requeued {
			return Outcome{Status: StatusQueued, Cause: Cause{CauseRequeued, reason}}, nil
		}
		return Outcome{Status: StatusQueued, Cause: pending(reason)}, nil
	case "RUNNING":
		if flags["CONFIGURING"] {
			return Outcome{Status: StatusQueued, Cause: Cause{Code: CauseNodesStarting}}, nil
		}
		if o.Restarts > 0 {
			return Outcome{Status: StatusRunning, Cause: Cause{CauseRerunning, strconv.Itoa(o.Restarts + 1)}}, nil
		}
		return Outcome{Status: StatusRunning}, nil
	case "SUSPENDED":
		return Outcome{Status: StatusRunning, Cause: Cause{Code: CauseSuspended}}, nil
	case "COMPLETED", "FAILED":
		if r := o.Record; r.ExitCode == nil && r.Error == nil && noSpace(r.LogTail) {
			// The script could not write its record; it ended with the
			// command's exit code, which Slurm kept.
			return Outcome{Status: StatusError, Cause: Cause{CauseNoSpace, strconv.Itoa(o.ExitCode)}}, nil
		}
		if base == "COMPLETED" {
			return fromRecord(o.Record, Cause{Code: CauseNoExitCode})
		}
		return fromRecord(o.Record, Cause{CauseScriptFailed, strings.TrimSpace(fmt.Sprintf("%d %s", o.ExitCode, reason))})
	case "CANCELLED":
		if o.StopRequested {
			return Outcome{Status: StatusKilled, Cause: Cause{Code: CauseStoppedByUser}}, nil
		}
		return Outcome{Status: StatusError, Cause: Cause{CauseCancelledOutside, reason}}, nil
	case "TIMEOUT":
		return Outcome{Status: StatusError, Cause: Cause{Code: CauseTimeLimit}}, nil
	case "OUT_OF_MEMORY":
		if o.MemoryGiB > 0 {
			return Outcome{Status: StatusError, Cause: Cause{CauseOutOfMemoryLimit, strconv.Itoa(o.MemoryGiB)}}, nil
		}
		return Outcome{Status: StatusError, Cause: Cause{Code: CauseOutOfMemory}}, nil
	case "NODE_FAIL":
		return Outcome{Status: StatusError, Cause: Cause{CauseNodeFail, reason}}, nil
	case "BOOT_FAIL":
		return Outcome{Status: StatusError, Cause: Cause{CauseBootFail, reason}}, nil
	case "DEADLINE":
		return Outcome{Status: StatusError, Cause: Cause{Code: CauseDeadline}}, nil
	case "PREEMPTED":
		if requeued {
			return Outcome{Status: StatusQueued, Cause: Cause{Code: CausePreemptedRequeued}}, nil
		}
		return Outcome{Status: StatusError, Cause: Cause{Code: CausePreempted}}, nil
	}
	return Outcome{}, fmt.Errorf("%w: %q", ErrUnknownState, base)
}

// fromRecord decides a job that has ended from what its script wrote;
// missing is the cause when it wrote nothing.
func fromRecord(r Record, missing Cause) (Outcome, error) {
	if r.Error != nil {
		msg, _, _ := strings.Cut(strings.TrimSpace(string(r.Error)), "\n")
		if len(msg) > 500 {
			msg = msg[:500]
		}
		if msg == "" {
			return Outcome{Status: StatusError, Cause: Cause{Code: CauseJobError}}, nil
		}
		for _, c := range scriptCauses {
			if detail, ok := strings.CutPrefix(msg, c.prefix); ok {
				return Outcome{Status: StatusError, Cause: Cause{c.code, detail}}, nil
			}
		}
		return Outcome{Status: StatusError, Cause: Cause{CauseJobError, msg}}, nil
	}
	if r.ExitCode == nil {
		return Outcome{Status: StatusError, Cause: missing}, nil
	}
	code, err := strconv.Atoi(strings.TrimSpace(string(r.ExitCode)))
	if err != nil || code < 0 {
		return Outcome{Status: StatusError, Cause: Cause{CauseUnreadableExitCode, fmt.Sprintf("%q", r.ExitCode)}}, nil
	}
	if code == 0 {
		return Outcome{Status: StatusCompleted}, nil
	}
	return Outcome{Status: StatusFailed, ExitCode: code}, nil
}

// restates reports whether Slurm's reason only repeats the state (a
// cancelled job's reason is often "cancelled"), which would read twice.
func restates(reason string, states []string) bool {
	for _, s := range states {
		if strings.EqualFold(strings.TrimSpace(reason), strings.TrimSpace(s)) {
			return true
		}
	}
	return false
}

// pending is the cause of a job Slurm holds back: Slurm's own reason.
func pending(reason string) Cause {
	if reason == "" {
		return Cause{}
	}
	return Cause{CauseSlurm, reason}
}
