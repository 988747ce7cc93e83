package web

import (
	"errors"
	"io"
	"net/http"
	"strconv"

	"kqi/portal/transfer"
	"kqi/slurm"
	"kqi/storage/files"
)

// sendLog sends the log: whole as a download, or from ?offset= on for the live
// view (which follows while the job runs, told its status by X-Job-Status).
func (p *jobPages) sendLog(w http.ResponseWriter, r *http.Request) {
	t, ok := p.fromRoute(w, r)
	if !ok {
		return
	}
	live := r.URL.Query().Has("offset")
	if live {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Job-Status", t.Status)
	}
	f, err := p.jobs.OpenJobFile(r.Context(), t, slurm.LogFile)
	if errors.Is(err, files.ErrNotExist) && live {
		return // no log yet: nothing new
	}
	if err != nil {
		p.renderError(w, r, http.StatusNotFound, "error.not_found")
		return
	}
	defer f.Close()
	if live {
		off, _ := strconv.ParseInt(r.URL.Query().Get("offset"), 10, 64)
		if off > 0 {
			f.Seek(off, io.SeekStart)
		}
		io.Copy(w, io.LimitReader(f, 1<<20))
		return
	}
	transfer.ServeFile(w, r, p.kind.Name()+"-"+strconv.FormatInt(t.ID, 10)+".log", f, false)
}
