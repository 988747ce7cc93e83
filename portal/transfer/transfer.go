// Package transfer moves file bytes over HTTP for the pages and the API:
// streamed multipart uploads, downloads with Range support, and lifting the
// server's timeouts for transfers that take long.
package transfer

import (
	"bufio"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"path"
	"time"
)

// MultipartReader streams a multipart/form-data body through a 1 MiB
// buffer. The standard reader pulls the socket 4 KiB at a time; big reads
// cut the system calls of a large upload by two orders of magnitude.
func MultipartReader(r *http.Request) (*multipart.Reader, error) {
	mediaType, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mediaType != "multipart/form-data" || params["boundary"] == "" {
		return nil, http.ErrNotMultipart
	}
	return multipart.NewReader(bufio.NewReaderSize(r.Body, 1<<20), params["boundary"]), nil
}

// ServeFile sends a stored file with Range support under the user's file
// name, as an attachment unless inline.
func ServeFile(w http.ResponseWriter, r *http.Request, name string, f io.ReadSeeker, inline bool) {
	NoDeadline(w)
	disp := "attachment"
	if inline {
		disp = "inline"
	}
	w.Header().Set("Content-Disposition", mime.FormatMediaType(disp, map[string]string{"filename": name}))
	ct := "application/octet-stream"
	if t := mime.TypeByExtension(path.Ext(name)); t != "" && inline {
		ct = t
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", "private, no-store")
	http.ServeContent(w, r, "", time.Time{}, f)
}

// NoDeadline lifts the server's read/write timeouts for a request
// that streams a large upload or download.
func NoDeadline(w http.ResponseWriter) {
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Time{})
	rc.SetWriteDeadline(time.Time{})
}

// PartFileName is a file part's name exactly as sent. Part.FileName strips
// directories silently; a name like "../x" must be refused, not renamed.
func PartFileName(p *multipart.Part) string {
	_, params, err := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
	if err != nil {
		return p.FileName()
	}
	return params["filename"]
}
