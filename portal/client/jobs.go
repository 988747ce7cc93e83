package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"kqi/portal/api/apitypes"
)

// Kind is a job collection of the API.
type Kind string

// The job collections.
const (
	Trainings  Kind = "trainings"
	Inferences Kind = "inferences"
)

func (k Kind) path(jobID int64) string { return "/" + string(k) + "/" + id(jobID) }

// CreateJob submits a training (a TrainingRequest) or an inference (an
// InferenceRequest). Trainings answer as an Inference without parents.
func (c *Client) CreateJob(ctx context.Context, k Kind, req any) (*apitypes.Inference, error) {
	var out apitypes.Inference
	return &out, c.call(ctx, http.MethodPost, "/"+string(k), req, &out)
}

// ListJobs lists jobs of the kind.
func (c *Client) ListJobs(ctx context.Context, k Kind, query string) (*apitypes.List[apitypes.Inference], error) {
	return get[apitypes.List[apitypes.Inference]](ctx, c, "/"+string(k)+query)
}

// Job is one job of the kind.
func (c *Client) Job(ctx context.Context, k Kind, jobID int64) (*apitypes.Inference, error) {
	return get[apitypes.Inference](ctx, c, k.path(jobID))
}

// EditJob changes a job's notes.
func (c *Client) EditJob(ctx context.Context, k Kind, jobID int64, p apitypes.JobPatch) (*apitypes.Inference, error) {
	var out apitypes.Inference
	return &out, c.call(ctx, http.MethodPatch, k.path(jobID), p, &out)
}

// StopJob asks for the job to be cancelled.
func (c *Client) StopJob(ctx context.Context, k Kind, jobID int64) error {
	return c.call(ctx, http.MethodPost, k.path(jobID)+"/stop", nil, nil)
}

// DeleteJob deletes an ended job and its files.
func (c *Client) DeleteJob(ctx context.Context, k Kind, jobID int64) error {
	return c.call(ctx, http.MethodDelete, k.path(jobID), nil, nil)
}

// Script is the batch script the job was submitted with.
func (c *Client) Script(ctx context.Context, k Kind, jobID int64) (string, error) {
	return c.Text(ctx, k.path(jobID)+"/script")
}

// LogFrom copies the job's log from byte offset to w and returns the
// offset to read from next.
func (c *Client) LogFrom(ctx context.Context, k Kind, jobID, offset int64, w io.Writer) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	resp, err := c.request(ctx, http.MethodGet, k.path(jobID)+"/log?offset="+strconv.FormatInt(offset, 10), nil, "")
	if err != nil {
		return offset, err
	}
	defer resp.Body.Close()
	next, err := strconv.ParseInt(resp.Header.Get(apitypes.NextOffsetHeader), 10, 64)
	if err != nil {
		return offset, fmt.Errorf("the server did not say where the log goes on (%s)", apitypes.NextOffsetHeader)
	}
	if n, err := io.Copy(w, resp.Body); err != nil {
		return offset + n, err
	}
	return next, nil
}

// Outputs lists the files the job wrote.
func (c *Client) Outputs(ctx context.Context, k Kind, jobID int64) (*apitypes.List[apitypes.Output], error) {
	return get[apitypes.List[apitypes.Output]](ctx, c, k.path(jobID)+"/files")
}

// OutputPath is the API path of one output file, for Open.
func (k Kind) OutputPath(jobID int64, rel string) string {
	return k.path(jobID) + "/files/" + PathEscape(rel)
}

// Attach uploads files into the job's /kqi/attach.
func (c *Client) Attach(ctx context.Context, k Kind, jobID int64, u Upload) (*apitypes.List[apitypes.File], error) {
	var out apitypes.List[apitypes.File]
	return &out, c.send(ctx, http.MethodPost, k.path(jobID)+"/attachments", u, &out)
}
