package jobs

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"strconv"
	"strings"

	"kqi/portal/refusal"
	"kqi/slurm"
	"kqi/storage"
	"kqi/storage/files"
)

// Inference runs a user's command on a dataset with the outputs of one or
// more trainings or earlier inferences (SPEC §6): one parent at
// /kqi/parent, several at /kqi/parent/{id}. The number it writes as the
// first line of /kqi/output/value.txt becomes its output value.
var Inference Kind = inference{}

type inference struct{}

// maxParents bounds the parents of one inference (each is a bind mount).
const maxParents = 32

// ValueFile is where an inference leaves its output value, below its
// output directory.
const ValueFile = "value.txt"

func (inference) Name() string       { return "inference" }
func (inference) IDVariable() string { return "INFERENCE_ID" }
func (inference) KeepsParents() bool { return true }

func (inference) Check(ctx context.Context, s *Service, tenantID int64, req *Request, bad *refusal.Fields) error {
	checkDataset(req, bad)
	switch {
	case len(req.ParentIDs) == 0:
		bad.Add("parent_id", "inference.parent_required")
		return nil
	case len(req.ParentIDs) > maxParents:
		bad.Add("parent_id", "inference.too_many_parents", strconv.Itoa(maxParents))
		return nil
	}
	return checkParents(ctx, s, Inference, tenantID, req.ParentIDs, bad, Training, Inference)
}

// Stage has nothing to add: the Service stages the dataset and binds
// the parents.
func (inference) Stage(context.Context, *Service, *storage.Job) (Staged, error) { return Staged{}, nil }

// Ended records the output value, whatever the outcome. The file is the
// job's own: a missing, malformed or unreadable one (a link, a FIFO) is
// no value, never a failed job or a poller waiting on it.
func (inference) Ended(ctx context.Context, s *Service, j *storage.Job, _ *slurm.Outcome) error {
	var value *float64
	if j.JobDir != "" {
		f, err := s.Files.OpenNoFollow(ctx, j.JobDir+"/"+slurm.OutputDir+"/"+ValueFile)
		if err == nil {
			value, err = parseValue(f)
			f.Close()
		}
		if err != nil && ctx.Err() != nil {
			return err
		}
		if err != nil && !errors.Is(err, files.ErrNotExist) && !errors.Is(err, files.ErrInvalidPath) {
			s.Log.Warn("reading an inference's value", "job", j.ID, "error", err)
		}
	}
	return s.Store.SetJobOutputValue(ctx, j.ID, value)
}

// maxValueLine bounds the first line of value.txt.
const maxValueLine = 256

// parseValue reads the first line as a finite number (JSON has no NaN or
// infinity); nil for anything else, a line too long included.
func parseValue(r io.Reader) (*float64, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxValueLine+1))
	if err != nil {
		return nil, err
	}
	line, _, found := bytes.Cut(b, []byte("\n"))
	if !found && len(b) > maxValueLine {
		return nil, nil
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(string(line)), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return nil, nil
	}
	return &v, nil
}
