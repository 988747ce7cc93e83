package client

import (
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
)

// Upload is one multipart upload: text fields first (in order), then the
// files, each streamed from disk through Wrap (e.g. a progress bar) if set.
type Upload struct {
	Fields [][2]string
	Files  []string
	Wrap   func(io.Reader) io.Reader
}

// Size is the total bytes of the upload's files.
func (u Upload) Size() (int64, error) {
	var n int64
	for _, p := range u.Files {
		info, err := os.Stat(p)
		if err != nil {
			return 0, err
		}
		if !info.Mode().IsRegular() {
			return 0, fmt.Errorf("%s is not a regular file", p)
		}
		n += info.Size()
	}
	return n, nil
}

// send streams the upload to path with method and decodes the answer into
// out. Nothing is buffered beyond a pipe's worth: memory stays flat for
// any file size. A failure while reading a file aborts the body, so the
// server sees it cut and keeps nothing.
func (c *Client) send(ctx context.Context, method, path string, u Upload, out any) error {
	if _, err := u.Size(); err != nil {
		return err
	}
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() { pw.CloseWithError(u.write(mw)) }()
	resp, err := c.request(ctx, method, path, pr, mw.FormDataContentType())
	pr.CloseWithError(io.ErrClosedPipe) // stops the writer if the server answered early
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return decodeInto(resp, out)
}

func (u Upload) write(mw *multipart.Writer) error {
	for _, f := range u.Fields {
		if err := mw.WriteField(f[0], f[1]); err != nil {
			return err
		}
	}
	for _, p := range u.Files {
		if err := writeFile(mw, p, u.Wrap); err != nil {
			return err
		}
	}
	return mw.Close()
}

var quoter = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\r", "%0D", "\n", "%0A")

func writeFile(mw *multipart.Writer, p string, wrap func(io.Reader) io.Reader) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename="%s"`, quoter.Replace(filepath.Base(p))))
	h.Set("Content-Type", "application/octet-stream")
	w, err := mw.CreatePart(h)
	if err != nil {
		return err
	}
	var r io.Reader = f
	if wrap != nil {
		r = wrap(f)
	}
	if _, err := io.Copy(w, r); err != nil {
		return fmt.Errorf("reading %s: %w", p, err)
	}
	return nil
}

func decodeInto(resp *http.Response, out any) error {
	if out == nil {
		_, err := io.Copy(io.Discard, resp.Body)
		return err
	}
	return jsonDecode(resp.Body, out)
}
