// Package transfer moves file bytes over HTTP for the pages and the API:
// streamed multipart uploads (Form), downloads with Range support, and
// lifting the server's timeouts for transfers that take long.
package transfer

import (
	"io"
	"mime"
	"net/http"
	"path"
	"time"
)

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
