package web

import (
	"context"
	"io"
	"net/http"
	"strings"
	"time"

	"kqi/portal/jobs"
	"kqi/slurm"
	"kqi/storage"
	"kqi/storage/files"
)

// trainingFromRoute loads the training the route's {id} names, answering
// 404 for another tenant's, another kind's or none.
func (h *Handler) trainingFromRoute(w http.ResponseWriter, r *http.Request) (*storage.Job, bool) {
	return fromRoute(h, w, r, func(ctx context.Context, tenantID, id int64) (*storage.Job, error) {
		return h.jobs.Job(ctx, tenantID, jobs.Training, id)
	})
}

type trainingDetailData struct {
	T       *storage.Job
	Outputs []jobs.OutputFile
	Attach  []files.FileInfo
	Log     string
	LogSize int64
	Script  string
	Waited  string
	Ran     string
	Error   string
}

// logTail is how much of the log the page shows at first; the rest is one
// click (or the live view) away.
const logTail = 64 << 10

func (h *Handler) showTraining(w http.ResponseWriter, r *http.Request) {
	t, ok := h.trainingFromRoute(w, r)
	if !ok {
		return
	}
	h.renderTraining(w, r, http.StatusOK, t, "")
}

func (h *Handler) renderTraining(w http.ResponseWriter, r *http.Request, status int, t *storage.Job, errKey string) {
	ctx := r.Context()
	d := trainingDetailData{T: t, Error: errKey}
	var err error
	if d.Outputs, err = h.jobs.Outputs(ctx, t); err != nil {
		h.log.Warn("listing outputs", "job", t.ID, "error", err)
	}
	if d.Attach, err = h.jobs.Attachments(ctx, t); err != nil {
		h.log.Warn("listing attachments", "job", t.ID, "error", err)
	}
	if f, err := h.jobs.OpenJobFile(ctx, t, slurm.LogFile); err == nil {
		if fi, err := f.Stat(); err == nil {
			d.LogSize = fi.Size
			if fi.Size > logTail {
				f.Seek(fi.Size-logTail, io.SeekStart)
			}
		}
		b, _ := io.ReadAll(io.LimitReader(f, logTail))
		f.Close()
		d.Log = strings.ToValidUTF8(string(b), "?")
	}
	if f, err := h.jobs.OpenJobFile(ctx, t, slurm.ScriptFile); err == nil {
		b, _ := io.ReadAll(io.LimitReader(f, 256<<10))
		f.Close()
		d.Script = string(b)
	}
	d.Waited, d.Ran = jobTimes(t, h.now())
	h.renderPage(w, r, status, page{Name: "training_detail", Nav: "trainings", Title: "training.detail_title", Data: d})
}

// jobTimes is how long a job waited in the queue and how long it ran (so
// far, while it does), "" for a phase it has not reached.
func jobTimes(t *storage.Job, now time.Time) (waited, ran string) {
	if t.QueuedAt != nil {
		end := now
		if t.StartedAt != nil {
			end = *t.StartedAt
		} else if t.EndedAt != nil {
			end = *t.EndedAt
		}
		waited = end.Sub(*t.QueuedAt).Round(time.Second).String()
	}
	if t.StartedAt != nil {
		end := now
		if t.EndedAt != nil {
			end = *t.EndedAt
		}
		ran = end.Sub(*t.StartedAt).Round(time.Second).String()
	}
	return waited, ran
}
