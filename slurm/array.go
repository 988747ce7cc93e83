package slurm

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// A job array runs one task per item (a preprocess run on N data is one
// array of N tasks, so a user sees one job in squeue). Each task is a job
// of its own in every other respect: its directory JobDir/{task} is laid
// out like a single job's and holds the script Render made for it, which
// the array's script only dispatches to. So a task clones, binds, logs and
// records its exit code exactly as a single job does.

// TaskID is Slurm's id of task index of array job arrayJobID: "123_4",
// the form squeue, scontrol and scancel take and show.
func TaskID(arrayJobID string, index int) string {
	return arrayJobID + "_" + strconv.Itoa(index)
}

// ArrayJobOf is the array job id of a task id ("123" of "123_4"); a plain
// job id is returned as it is.
func ArrayJobOf(id string) string {
	job, _, _ := strings.Cut(id, "_")
	return job
}

// TaskDir is the directory of task index below an array's JobDir.
func TaskDir(arrayDir string, index int) string {
	return arrayDir + "/" + strconv.Itoa(index)
}

// RenderArray returns the batch script of an array spec (ArraySize > 0):
// the #SBATCH lines, then a dispatch to the task's own script,
// JobDir/{SLURM_ARRAY_TASK_ID}/script.sh.
func RenderArray(spec JobSpec) (string, error) {
	if spec.ArraySize <= 0 {
		return "", errors.New("render array script: not an array")
	}
	if err := spec.Validate(); err != nil {
		return "", fmt.Errorf("render array script: %w", err)
	}
	w := &scriptWriter{}
	w.raw("#!/bin/bash\n")
	for _, opt := range spec.SbatchOptions() {
		w.raw("#SBATCH " + opt + "\n")
	}
	w.raw(arrayHeader)
	w.assign("kqi_array", spec.JobDir)
	w.raw(arrayDispatch)
	if w.err != nil {
		return "", fmt.Errorf("render array script: %w", w.err)
	}
	return w.b.String(), nil
}

const arrayHeader = `#
# Written by KQI. A job array: task N runs $kqi_array/N/script.sh, the job
# script of that task (its own clone, inputs, container, log and exit code).
set -Eeuo pipefail

`

const arrayDispatch = `kqi_task=${SLURM_ARRAY_TASK_ID:-}
if [[ ! $kqi_task =~ ^[0-9]+$ || ! -f $kqi_array/$kqi_task/script.sh ]]; then
	echo "[kqi] not a task of this array: '${kqi_task}'" >&2
	exit 1
fi
exec /bin/bash -- "$kqi_array/$kqi_task/script.sh"
`
