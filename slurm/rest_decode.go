package slurm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// This file decodes slurmrestd v0.0.38's answers, the one plugin version
// KQI speaks (NewREST and the configuration refuse others). Later versions
// change the shapes (integers become {set, infinite, number} structs in
// v0.0.39, job_state a list and exit_code an object in v0.0.40): a
// version added here needs its own request and answer types and tests
// against answers recorded from that version.

// noVal is an integer slurmrestd sends as a plain number, as null when
// unset, or as Slurm's INFINITE or NO_VAL.
type noVal struct {
	Set      bool
	Infinite bool
	Number   int64
}

// slurmInfinite32 and slurmNoVal32 are Slurm's INFINITE and NO_VAL as
// v0.0.38 prints them in some fields instead of null.
const (
	slurmInfinite32 = math.MaxUint32
	slurmNoVal32    = math.MaxUint32 - 1
)

func (n *noVal) UnmarshalJSON(b []byte) error {
	*n = noVal{}
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		return nil
	case len(b) > 0 && b[0] == '"':
		return fmt.Errorf("no-val number: got a string %s", b)
	default:
		var num json.Number
		if err := json.Unmarshal(b, &num); err != nil {
			return fmt.Errorf("no-val number: %w", err)
		}
		v, err := parseJSONInt(num)
		if err != nil {
			return err
		}
		n.set(v)
		return nil
	}
}

// set makes n the number v as slurmrestd meant it.
func (n *noVal) set(v int64) {
	switch *n = (noVal{}); v {
	case slurmInfinite32:
		n.Infinite = true
	case slurmNoVal32:
	default:
		n.Set, n.Number = true, v
	}
}

// parseJSONInt reads an integer that may be written as a float (1.0).
func parseJSONInt(num json.Number) (int64, error) {
	if v, err := num.Int64(); err == nil {
		return v, nil
	}
	f, err := num.Float64()
	if err != nil {
		return 0, fmt.Errorf("number %q: %w", num, err)
	}
	return int64(f), nil
}

// value is the number, or 0 when it is unset or infinite.
func (n noVal) value() int64 {
	if !n.Set || n.Infinite {
		return 0
	}
	return n.Number
}

// exitStatus is exit_code: the raw wait(2) status as a number (or null).
type exitStatus struct {
	Code, Signal int
}

func (e *exitStatus) UnmarshalJSON(b []byte) error {
	var raw noVal
	if err := raw.UnmarshalJSON(b); err != nil {
		return fmt.Errorf("exit_code: %w", err)
	}
	e.Code, e.Signal = waitStatus(raw.value())
	return nil
}

// restJob is the part of a job record the portal reads.
type restJob struct {
	JobID       noVal      `json:"job_id"`
	Name        string     `json:"name"`
	Comment     string     `json:"comment"`
	UserName    string     `json:"user_name"`
	JobState    string     `json:"job_state"`
	StateReason string     `json:"state_reason"`
	Nodes       string     `json:"nodes"`
	SubmitTime  noVal      `json:"submit_time"`
	StartTime   noVal      `json:"start_time"`
	EndTime     noVal      `json:"end_time"`
	ExitCode    exitStatus `json:"exit_code"`
	RestartCnt  noVal      `json:"restart_cnt"`
	// An array's tasks: array_job_id is 0 for a single job. A task Slurm
	// has started (or split off) is a record of its own with its
	// array_task_id; the tasks still pending together are one record
	// without one, listing them in array_task_string ("1-4%1").
	ArrayJobID      noVal  `json:"array_job_id"`
	ArrayTaskID     noVal  `json:"array_task_id"`
	ArrayTaskString string `json:"array_task_string"`
}

// infos is the record as the jobs it stands for: itself, an array task
// ("123_4"), or each task of an array's pending remainder.
func (j restJob) infos() []JobInfo {
	info := j.info()
	array := j.ArrayJobID.value()
	if array == 0 {
		return []JobInfo{info}
	}
	id := strconv.FormatInt(array, 10)
	if j.ArrayTaskID.Set {
		info.ID = TaskID(id, int(j.ArrayTaskID.Number))
		return []JobInfo{info}
	}
	tasks := parseTaskString(j.ArrayTaskString)
	out := make([]JobInfo, len(tasks))
	for i, t := range tasks {
		out[i] = info
		out[i].ID = TaskID(id, t)
	}
	return out
}

// parseTaskString reads Slurm's list of array task ids, such as "1-4%1",
// "0,3,5-7" or "0-10:2"; what it cannot read it leaves out.
func parseTaskString(s string) []int {
	s, _, _ = strings.Cut(s, "%")
	var out []int
	for _, part := range strings.Split(s, ",") {
		rng, stepText, hasStep := strings.Cut(part, ":")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepText)
			if err != nil || n < 1 {
				continue
			}
			step = n
		}
		lo, hi, isRange := strings.Cut(rng, "-")
		from, err := strconv.Atoi(strings.TrimSpace(lo))
		if err != nil || from < 0 {
			continue
		}
		to := from
		if isRange {
			if to, err = strconv.Atoi(strings.TrimSpace(hi)); err != nil {
				continue
			}
		}
		for t := from; t <= to && len(out) <= 4*MaxArraySize; t += step {
			out = append(out, t)
		}
	}
	return out
}

func (j restJob) info() JobInfo {
	info := JobInfo{
		ID:         fmt.Sprint(j.JobID.value()),
		Name:       j.Name,
		Comment:    j.Comment,
		State:      j.JobState,
		Reason:     j.StateReason,
		Node:       j.Nodes,
		SubmitTime: epoch(j.SubmitTime.value()),
		StartTime:  epoch(j.StartTime.value()),
		EndTime:    epoch(j.EndTime.value()),
		ExitCode:   j.ExitCode.Code,
		Signal:     j.ExitCode.Signal,
		Restarts:   int(j.RestartCnt.value()),
	}
	info.normalize()
	return info
}

// restNode is the part of a node record Partitions reads.
type restNode struct {
	Name       string   `json:"name"`
	CPUs       noVal    `json:"cpus"`
	RealMemory noVal    `json:"real_memory"`
	GRES       string   `json:"gres"`
	GRESUsed   string   `json:"gres_used"`
	Partitions []string `json:"partitions"`
	// What jobs hold now, and whether the node takes jobs: state is the
	// base state (idle, mixed, down…), state_flags DRAIN, NOT_RESPONDING…
	AllocCPUs   noVal    `json:"alloc_cpus"`
	AllocMemory noVal    `json:"alloc_memory"`
	State       string   `json:"state"`
	StateFlags  []string `json:"state_flags"`
}

// restPartition is the part of a partition record Partitions reads.
type restPartition struct {
	Name         string   `json:"name"`
	Flags        []string `json:"flags"`
	MaxTimeLimit noVal    `json:"max_time_limit"`
}
