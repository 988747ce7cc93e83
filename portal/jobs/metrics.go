package jobs

import (
	"context"
	"io"

	"kqi/portal/scalars"
	"kqi/storage"
)

// Metrics reads the scalar metrics job j has written so far (SPEC §5:
// metrics.csv, metrics.jsonl, TensorBoard event files under /kqi/output).
func (s *Service) Metrics(ctx context.Context, j *storage.Job) (scalars.Result, error) {
	return scalars.Read(ctx, outputSource{s: s, j: j})
}

// outputSource is a job's output directory as the metrics reader sees it.
type outputSource struct {
	s *Service
	j *storage.Job
}

func (o outputSource) Files(ctx context.Context) ([]scalars.File, error) {
	list, err := o.s.Outputs(ctx, o.j)
	if err != nil {
		return nil, err
	}
	out := make([]scalars.File, len(list))
	for i, f := range list {
		out[i] = scalars.File{Path: f.Path, Size: f.Size}
	}
	return out, nil
}

func (o outputSource) Open(ctx context.Context, path string) (io.ReadCloser, error) {
	return o.s.OpenOutput(ctx, o.j, path)
}
