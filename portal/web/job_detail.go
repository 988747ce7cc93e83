package web

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"kqi/portal/jobs"
	"kqi/slurm"
	"kqi/storage"
	"kqi/storage/files"
)

type jobDetailData struct {
	P        jobView
	T        *storage.Job
	Parents  []parentLink
	Children []storage.Job // the inferences made from it
	Outputs  []jobs.OutputFile
	Attach   []files.FileInfo
	Log      string
	LogSize  int64
	LogQuery string // the log search; "" shows the log's tail
	LogFound int    // lines matching LogQuery
	Script   string
	Waited   string
	Ran      string
	Error    pageMessage // "" Key for none
	Extra    any         // the kind's own part (jobPages.extra)
	Shell    shellPanel
}

// pageMessage is a catalog key and the argument of its %s.
type pageMessage struct {
	Key, Arg string
}

// parentLink is a parent as its child's page links to it.
type parentLink struct {
	ID    int64
	Route string // the parent's detail route
	Name  string
}

// logTail is how much of the log the page shows at first; the rest is one
// click (or the live view) away.
const logTail = 64 << 10

// maxChildren bounds the inferences a job's page lists; the inference
// list, filtered by the parent, has them all.
const maxChildren = 50

func (p *jobPages) show(w http.ResponseWriter, r *http.Request) {
	t, ok := p.fromRoute(w, r)
	if !ok {
		return
	}
	p.renderDetail(w, r, http.StatusOK, t, pageMessage{})
}

func (p *jobPages) renderDetail(w http.ResponseWriter, r *http.Request, status int, t *storage.Job, msg pageMessage) {
	ctx := r.Context()
	d := jobDetailData{P: p.view(), T: t, Error: msg}
	parents, err := p.jobs.Parents(ctx, t)
	if err != nil {
		p.serverError(w, r, err)
		return
	}
	for _, pj := range parents {
		d.Parents = append(d.Parents, parentLink{ID: pj.ID, Route: pj.Kind + "Detail", Name: pj.Name})
	}
	if d.Children, _, err = p.jobs.List(ctx, t.TenantID, jobs.Inference, storage.JobFilter{ParentID: t.ID, Sort: "id", Desc: true, PerPage: maxChildren}); err != nil {
		p.serverError(w, r, err)
		return
	}
	if d.Outputs, err = p.jobs.Outputs(ctx, t); err != nil {
		p.log.Warn("listing outputs", "job", t.ID, "error", err)
	}
	if d.Attach, err = p.jobs.Attachments(ctx, t); err != nil {
		p.log.Warn("listing attachments", "job", t.ID, "error", err)
	}
	if f, err := p.jobs.OpenJobFile(ctx, t, slurm.LogFile); err == nil {
		if fi, err := f.Stat(); err == nil {
			d.LogSize = fi.Size
			if fi.Size > logTail {
				f.Seek(fi.Size-logTail, io.SeekStart)
			}
		}
		if q := strings.TrimSpace(r.URL.Query().Get("log_q")); q != "" {
			f.Seek(0, io.SeekStart)
			d.LogQuery = q
			d.Log, d.LogFound = searchLog(f, q)
		} else {
			b, _ := io.ReadAll(io.LimitReader(f, logTail))
			d.Log = strings.ToValidUTF8(string(b), "?")
		}
		f.Close()
	}
	if script, err := p.jobs.Script(ctx, t); err == nil {
		d.Script = script
	} else if !errors.Is(err, files.ErrNotExist) {
		p.serverError(w, r, err)
		return
	}
	if d.Shell, err = p.shellPanel(ctx, t); err != nil {
		p.serverError(w, r, err)
		return
	}
	d.Waited, d.Ran = jobTimes(t, p.now())
	if p.extra != nil {
		d.Extra = p.extra(r, t)
	}
	p.renderPage(w, r, status, page{Name: p.kind.Name() + "_detail", Nav: d.P.List, Title: p.key("detail_title"), Data: d})
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
