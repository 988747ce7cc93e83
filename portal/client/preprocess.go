package client

import (
	"context"
	"net/http"

	"kqi/portal/api/apitypes"
)

func prePath(preID int64) string { return "/preprocesses/" + id(preID) }

func entryPath(preID, dataID int64) string { return prePath(preID) + "/histories/" + id(dataID) }

// CreatePreprocess defines a preprocess.
func (c *Client) CreatePreprocess(ctx context.Context, req apitypes.PreprocessRequest) (*apitypes.Preprocess, error) {
	var out apitypes.Preprocess
	return &out, c.call(ctx, http.MethodPost, "/preprocesses", req, &out)
}

// ListPreprocesses lists preprocesses.
func (c *Client) ListPreprocesses(ctx context.Context, query string) (*apitypes.List[apitypes.Preprocess], error) {
	return get[apitypes.List[apitypes.Preprocess]](ctx, c, "/preprocesses"+query)
}

// Preprocess is one preprocess.
func (c *Client) Preprocess(ctx context.Context, preID int64) (*apitypes.Preprocess, error) {
	return get[apitypes.Preprocess](ctx, c, prePath(preID))
}

// DeletePreprocess deletes a preprocess.
func (c *Client) DeletePreprocess(ctx context.Context, preID int64) error {
	return c.call(ctx, http.MethodDelete, prePath(preID), nil, nil)
}

// RunPreprocess runs it over data in the cluster: one history entry each.
func (c *Client) RunPreprocess(ctx context.Context, preID int64, req apitypes.RunRequest) (*apitypes.List[apitypes.History], error) {
	var out apitypes.List[apitypes.History]
	return &out, c.call(ctx, http.MethodPost, prePath(preID)+"/runs", req, &out)
}

// Histories lists the preprocess's history.
func (c *Client) Histories(ctx context.Context, preID int64, query string) (*apitypes.List[apitypes.History], error) {
	return get[apitypes.List[apitypes.History]](ctx, c, prePath(preID)+"/histories"+query)
}

// History is one entry.
func (c *Client) History(ctx context.Context, preID, dataID int64) (*apitypes.History, error) {
	return get[apitypes.History](ctx, c, entryPath(preID, dataID))
}

// DeleteHistory deletes an entry (and the data it made).
func (c *Client) DeleteHistory(ctx context.Context, preID, dataID int64) error {
	return c.call(ctx, http.MethodDelete, entryPath(preID, dataID), nil, nil)
}

// OpenHistory opens an external entry for dataID.
func (c *Client) OpenHistory(ctx context.Context, preID, dataID int64) (*apitypes.History, error) {
	var out apitypes.History
	return &out, c.call(ctx, http.MethodPost, prePath(preID)+"/histories", apitypes.OpenRequest{DataID: dataID}, &out)
}

// UploadOutput uploads one result datum named name into an open entry.
func (c *Client) UploadOutput(ctx context.Context, preID, dataID int64, name string, u Upload) (*apitypes.Upload, error) {
	u.Fields = append([][2]string{{"name", name}}, u.Fields...)
	var out apitypes.Upload
	return &out, c.send(ctx, http.MethodPost, entryPath(preID, dataID)+"/outputs", u, &out)
}

// CompleteHistory completes an external entry: its results become data.
func (c *Client) CompleteHistory(ctx context.Context, preID, dataID int64) (*apitypes.History, error) {
	var out apitypes.History
	return &out, c.call(ctx, http.MethodPost, entryPath(preID, dataID)+"/complete", nil, &out)
}
