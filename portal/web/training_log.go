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

// trainingLog sends the log: whole as a download, or from ?offset= on for
// the live view (which follows while the job runs).
func (h *Handler) trainingLog(w http.ResponseWriter, r *http.Request) {
	t, ok := h.trainingFromRoute(w, r)
	if !ok {
		return
	}
	live := r.URL.Query().Has("offset")
	if live {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Training-Status", t.Status)
	}
	f, err := h.jobs.OpenJobFile(r.Context(), t, slurm.LogFile)
	if errors.Is(err, files.ErrNotExist) && live {
		return // no log yet: nothing new
	}
	if err != nil {
		h.renderError(w, r, http.StatusNotFound, "error.not_found")
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
	transfer.ServeFile(w, r, "training-"+strconv.FormatInt(t.ID, 10)+".log", f, false)
}
