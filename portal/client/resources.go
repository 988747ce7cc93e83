package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"kqi/portal/api/apitypes"
)

func jsonDecode(r io.Reader, out any) error {
	if err := json.NewDecoder(r).Decode(out); err != nil {
		return fmt.Errorf("reading the answer: %v", err)
	}
	return nil
}

func get[T any](ctx context.Context, c *Client, path string) (*T, error) {
	var out T
	return &out, c.call(ctx, http.MethodGet, path, nil, &out)
}

func id(n int64) string { return strconv.FormatInt(n, 10) }

// Login asks for a token for username in tenant (name or id; "" for the
// user's default).
func (c *Client) Login(ctx context.Context, username, password, tenant string) (*apitypes.Token, error) {
	var out apitypes.Token
	err := c.call(ctx, http.MethodPost, "/auth/token", apitypes.TokenRequest{Username: username, Password: password, Tenant: tenant}, &out)
	return &out, err
}

// Logout revokes the client's token.
func (c *Client) Logout(ctx context.Context) error {
	return c.call(ctx, http.MethodDelete, "/auth/token", nil, nil)
}

// Me is who the token belongs to and in which tenant.
func (c *Client) Me(ctx context.Context) (*apitypes.Me, error) {
	return get[apitypes.Me](ctx, c, "/me")
}

// ListData lists data; query from Query.
func (c *Client) ListData(ctx context.Context, query string) (*apitypes.List[apitypes.Data], error) {
	return get[apitypes.List[apitypes.Data]](ctx, c, "/data"+query)
}

// Data is one datum with its files.
func (c *Client) Data(ctx context.Context, dataID int64) (*apitypes.Data, error) {
	return get[apitypes.Data](ctx, c, "/data/"+id(dataID))
}

// CreateData registers a datum from files; it exists only if every byte
// arrived.
func (c *Client) CreateData(ctx context.Context, name, memo string, tags []string, u Upload) (*apitypes.Data, error) {
	u.Fields = append([][2]string{{"name", name}, {"memo", memo}}, u.Fields...)
	for _, t := range tags {
		u.Fields = append(u.Fields, [2]string{"tags", t})
	}
	var out apitypes.Data
	return &out, c.send(ctx, http.MethodPost, "/data", u, &out)
}

// AddDataFiles adds files to a datum.
func (c *Client) AddDataFiles(ctx context.Context, dataID int64, u Upload) (*apitypes.Data, error) {
	var out apitypes.Data
	return &out, c.send(ctx, http.MethodPost, "/data/"+id(dataID)+"/files", u, &out)
}

// RemoveDataFile removes one file of a datum.
func (c *Client) RemoveDataFile(ctx context.Context, dataID int64, name string) error {
	return c.call(ctx, http.MethodDelete, "/data/"+id(dataID)+"/files/"+PathEscape(name), nil, nil)
}

// EditData changes the members p carries.
func (c *Client) EditData(ctx context.Context, dataID int64, p apitypes.DataPatch) (*apitypes.Data, error) {
	var out apitypes.Data
	return &out, c.call(ctx, http.MethodPatch, "/data/"+id(dataID), p, &out)
}

// DeleteData deletes a datum and its files.
func (c *Client) DeleteData(ctx context.Context, dataID int64) error {
	return c.call(ctx, http.MethodDelete, "/data/"+id(dataID), nil, nil)
}

// DataFilePath is the API path of one file of a datum, for Open.
func DataFilePath(dataID int64, name string) string {
	return "/data/" + id(dataID) + "/files/" + PathEscape(name)
}

// CreateDataset makes a dataset.
func (c *Client) CreateDataset(ctx context.Context, req apitypes.DatasetRequest) (*apitypes.Dataset, error) {
	var out apitypes.Dataset
	return &out, c.call(ctx, http.MethodPost, "/datasets", req, &out)
}

// ListDatasets lists datasets.
func (c *Client) ListDatasets(ctx context.Context, query string) (*apitypes.List[apitypes.Dataset], error) {
	return get[apitypes.List[apitypes.Dataset]](ctx, c, "/datasets"+query)
}

// Dataset is one dataset with its entries.
func (c *Client) Dataset(ctx context.Context, datasetID int64) (*apitypes.Dataset, error) {
	return get[apitypes.Dataset](ctx, c, "/datasets/"+id(datasetID))
}

// CopyDataset copies a dataset under name ("" for the default).
func (c *Client) CopyDataset(ctx context.Context, datasetID int64, name string) (*apitypes.Dataset, error) {
	var out apitypes.Dataset
	return &out, c.call(ctx, http.MethodPost, "/datasets/"+id(datasetID)+"/copy", apitypes.CopyRequest{Name: name}, &out)
}

// EditDataset changes the members p carries.
func (c *Client) EditDataset(ctx context.Context, datasetID int64, p apitypes.DatasetPatch) (*apitypes.Dataset, error) {
	var out apitypes.Dataset
	return &out, c.call(ctx, http.MethodPatch, "/datasets/"+id(datasetID), p, &out)
}

// DeleteDataset deletes a dataset.
func (c *Client) DeleteDataset(ctx context.Context, datasetID int64) error {
	return c.call(ctx, http.MethodDelete, "/datasets/"+id(datasetID), nil, nil)
}

// AddSSHKey registers a public key for shells.
func (c *Client) AddSSHKey(ctx context.Context, name, publicKey string) (*apitypes.SSHKey, error) {
	var out apitypes.SSHKey
	return &out, c.call(ctx, http.MethodPost, "/me/ssh-keys", apitypes.SSHKeyRequest{Name: name, PublicKey: publicKey}, &out)
}

// DeleteSSHKey removes a public key.
func (c *Client) DeleteSSHKey(ctx context.Context, keyID int64) error {
	return c.call(ctx, http.MethodDelete, "/me/ssh-keys/"+id(keyID), nil, nil)
}
