package jobs

import (
	"context"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"

	"kqi/portal/data"
	"kqi/portal/refusal"
	"kqi/slurm"
	"kqi/storage"
	"kqi/storage/files"
)

// Preprocess runs a preprocess on one datum (SPEC §3): the datum's files
// at /kqi/input/{dataId}/{file}, PREPROCESSING_ID, DATA_ID and DATA_NAME
// read-only. When it exits 0, every directory directly under /kqi/output
// becomes a new datum. A run on N data is one job array of N such jobs
// (SubmitArray); each row is one task and one history entry.
var Preprocess Kind = preprocess{}

type preprocess struct{}

func (preprocess) Name() string { return "preprocess" }

// IDVariable names the run's own id; PREPROCESSING_ID is the preprocess's,
// as the KAMONOHASHI contract has it.
func (preprocess) IDVariable() string { return "PREPROCESSING_HISTORY_ID" }
func (preprocess) KeepsParents() bool { return false }

// Check has nothing to add: the preprocess and data are checked when the
// run's rows are recorded (storage.CreatePreprocessRun).
func (preprocess) Check(context.Context, *Service, int64, *Request, *refusal.Fields) error {
	return nil
}

func (preprocess) Stage(ctx context.Context, s *Service, j *storage.Job) (Staged, error) {
	h, err := s.Store.HistoryOfJob(ctx, j.ID)
	if err != nil {
		return Staged{}, err
	}
	stats, err := s.Data.StageData(ctx, j.TenantID, h.DataID, j.JobDir+"/"+slurm.InputDir)
	if err != nil {
		return Staged{}, err
	}
	s.Log.Info("datum staged", "job", j.ID, "data", h.DataID, "links", stats.Links, "duration", stats.Duration)
	return Staged{Env: []slurm.EnvVar{
		{Name: "PREPROCESSING_ID", Value: strconv.FormatInt(h.PreprocessID, 10)},
		{Name: "DATA_ID", Value: strconv.FormatInt(h.DataID, 10)},
		{Name: "DATA_NAME", Value: h.DataName},
	}}, nil
}

// CausePreprocessOutputs is why a run that exited 0 is an error: its
// outputs cannot become data (Arg: what is wrong).
const CausePreprocessOutputs = "preprocess_outputs"

// Ended registers the outputs of a run that exited 0. Outputs that cannot
// become data make the run an error with the reason, and none is
// registered. A run whose entry is gone (its source datum was deleted
// while it ran) is removed with its directory: nothing could show it.
func (preprocess) Ended(ctx context.Context, s *Service, j *storage.Job, out *slurm.Outcome) error {
	h, err := s.Store.HistoryOfJob(ctx, j.ID)
	if errors.Is(err, storage.ErrNotFound) {
		if err := s.Store.DeleteRunWithoutEntry(ctx, j.ID); err != nil {
			return err
		}
		if j.JobDir != "" {
			if err := s.Files.RemoveAll(ctx, j.JobDir); err != nil {
				s.Log.Warn("removing the directory of a run without entry", "job", j.ID, "error", err)
			}
		}
		return nil
	}
	if err != nil {
		return err
	}
	if out.Status != slurm.StatusCompleted || j.JobDir == "" {
		return nil
	}
	err = s.RegisterOutputs(ctx, h, j.JobDir+"/"+slurm.OutputDir, j.CreatedByID)
	var bad *OutputError
	if errors.As(err, &bad) {
		s.Log.Warn("a preprocess run's outputs are refused", "job", j.ID, "error", err)
		out.Status, out.Cause = slurm.StatusError, slurm.Cause{Code: CausePreprocessOutputs, Arg: bad.Error()}
		return nil
	}
	return err
}

// OutputError says why a run's outputs cannot become data.
type OutputError struct{ Reason string }

func (e *OutputError) Error() string { return e.Reason }

// OutputName is the seed's rule for a name under /kqi/output, and so for
// the name of a datum a run produces.
var OutputName = regexp.MustCompile(`^[-_0-9a-zA-Z]{1,200}$`)

// Limits of what one entry registers.
const (
	maxOutputData      = 1000
	maxRegisteredFiles = 100000
	maxOutputDepth     = 32
)

// output is one datum to register: its name and its files' paths.
type output struct {
	name  string
	files []files.FileInfo // Name is the path below the datum's directory
}

// RegisterOutputs makes every directory directly under dir a new datum of
// h's tenant with all the files below it (relative paths kept), tagged
// with the preprocess's name and linked to h; files directly under dir are
// ignored, and so are links. The files are hard-linked, not copied. It is
// all or nothing: an *OutputError (a bad name, too many files) registers
// none, and so does any other failure, which may be tried again.
func (s *Service) RegisterOutputs(ctx context.Context, h *storage.History, dir string, userID int64) error {
	outs, err := s.scanOutputs(ctx, dir)
	if err != nil {
		return err
	}
	p, err := s.Store.PreprocessByID(ctx, h.TenantID, h.PreprocessID)
	if err != nil {
		return err
	}
	tag := []rune(strings.TrimSpace(p.Fields.Name))
	if len(tag) > data.MaxTagLen {
		tag = tag[:data.MaxTagLen]
	}
	memo := fmt.Sprintf("preprocess %s (#%d) of %s (#%d)", p.Fields.Name, p.ID, h.DataName, h.DataID)
	var made []storage.NewData
	var dirs []string
	undo := func() {
		for _, d := range dirs {
			if err := s.Files.RemoveAll(context.WithoutCancel(ctx), d); err != nil {
				s.Log.Error("removing an unregistered output", "dir", d, "error", err)
			}
		}
	}
	for _, o := range outs {
		id, err := s.Store.NextDataID(ctx)
		if err != nil {
			undo()
			return err
		}
		to := data.DataDir(h.TenantID, id)
		dirs = append(dirs, to)
		n := storage.NewData{ID: id, TenantID: h.TenantID, Name: o.name, Memo: memo, Tags: []string{string(tag)}, CreatedBy: userID}
		madeDirs := map[string]bool{}
		for _, f := range o.files {
			parent := path.Dir(to + "/" + f.Name)
			if !madeDirs[parent] {
				if err := s.Files.MkdirAll(ctx, parent); err != nil {
					undo()
					return err
				}
				madeDirs[parent] = true
			}
			if err := s.Files.Link(ctx, dir+"/"+o.name+"/"+f.Name, to+"/"+f.Name); err != nil {
				undo()
				return fmt.Errorf("register output %s/%s: %w", o.name, f.Name, err)
			}
			n.Files = append(n.Files, storage.NewFile{Name: f.Name, Size: f.Size})
		}
		made = append(made, n)
	}
	done, err := s.Store.RegisterOutputs(ctx, h.ID, made)
	if err != nil || !done {
		undo()
	}
	return err
}

// scanOutputs lists the directories directly under dir and their files.
func (s *Service) scanOutputs(ctx context.Context, dir string) ([]output, error) {
	entries, err := s.Files.ListNoFollow(ctx, dir)
	if err != nil {
		return nil, err
	}
	var outs []output
	total := 0
	for _, e := range entries {
		if !e.IsDir || e.Symlink || files.IsTemp(e.Name) {
			continue
		}
		if !OutputName.MatchString(e.Name) {
			return nil, &OutputError{fmt.Sprintf("%q: a datum's name may contain only letters, digits, - and _", e.Name)}
		}
		if len(outs) == maxOutputData {
			return nil, &OutputError{fmt.Sprintf("more than %d directories", maxOutputData)}
		}
		o := output{name: e.Name}
		var walk func(rel string, depth int) error
		walk = func(rel string, depth int) error {
			if depth > maxOutputDepth {
				return &OutputError{fmt.Sprintf("%s/%s: more than %d directories deep", e.Name, rel, maxOutputDepth)}
			}
			at := dir + "/" + e.Name
			if rel != "" {
				at += "/" + rel
			}
			list, err := s.Files.ListNoFollow(ctx, at)
			if err != nil {
				return err
			}
			for _, f := range list {
				p := path.Join(rel, f.Name)
				switch {
				case f.Symlink || files.IsTemp(f.Name):
					continue
				case f.IsDir:
					if err := walk(p, depth+1); err != nil {
						return err
					}
					continue
				case data.CheckFileName(p) != nil:
					return &OutputError{fmt.Sprintf("%s/%s: not a valid file name", e.Name, p)}
				}
				if total++; total > maxRegisteredFiles {
					return &OutputError{fmt.Sprintf("more than %d files", maxRegisteredFiles)}
				}
				f.Name = p
				o.files = append(o.files, f)
			}
			return nil
		}
		if err := walk("", 0); err != nil {
			return nil, err
		}
		if len(o.files) > 0 {
			outs = append(outs, o)
		}
	}
	return outs, nil
}
