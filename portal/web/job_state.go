package web

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"kqi/portal/i18n"
)

// jobState is what a job page's script needs to follow the job without
// reloading: everything on the page that changes while it runs, already in
// the visitor's language.
type jobState struct {
	Status     string      `json:"status"`      // the code, for the badge's class
	StatusText string      `json:"status_text"` // translated
	Reason     string      `json:"reason"`      // translated cause, "" for none
	Active     bool        `json:"active"`      // false once final: the page reloads
	ExitCode   *int        `json:"exit_code"`
	SlurmJobID string      `json:"slurm_job_id"`
	Node       string      `json:"node"`
	QueuedAt   *stateTime  `json:"queued_at"`
	StartedAt  *stateTime  `json:"started_at"`
	EndedAt    *stateTime  `json:"ended_at"`
	Waited     string      `json:"waited"`
	Ran        string      `json:"ran"`
	Outputs    []stateFile `json:"outputs"`
}

// stateTime is a time as the page's `datetime` shows it: the machine value
// the script localises and the UTC text shown until it does.
type stateTime struct {
	Datetime string `json:"datetime"`
	Text     string `json:"text"`
}

type stateFile struct {
	Path    string `json:"path"`
	Size    string `json:"size"`
	URL     string `json:"url"`
	Preview string `json:"preview"`
}

func newStateTime(t *time.Time) *stateTime {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &stateTime{Datetime: u.Format(time.RFC3339), Text: u.Format(timeText)}
}

// stateJSON answers a job page's poll for one job of the kind in the
// visitor's tenant.
func (p *jobPages) stateJSON(w http.ResponseWriter, r *http.Request) {
	t, ok := p.fromRoute(w, r)
	if !ok {
		return
	}
	lang := visitorOf(r).Lang
	st := jobState{
		Status: t.Status, StatusText: i18n.T(lang, "status."+t.Status), Reason: i18n.Cause(lang, t.Reason, t.ReasonArg),
		Active: t.Active(), ExitCode: t.ExitCode, SlurmJobID: t.SlurmJobID, Node: t.Node,
		QueuedAt: newStateTime(t.QueuedAt), StartedAt: newStateTime(t.StartedAt), EndedAt: newStateTime(t.EndedAt),
		Outputs: []stateFile{},
	}
	st.Waited, st.Ran = jobTimes(t, p.now())
	outputs, err := p.jobs.Outputs(r.Context(), t)
	if err != nil {
		p.log.Warn("listing outputs", "job", t.ID, "error", err)
	}
	id := strconv.FormatInt(t.ID, 10)
	for _, o := range outputs {
		st.Outputs = append(st.Outputs, stateFile{Path: o.Path, Size: humanBytes(o.Size), URL: p.path(p.view().File, "id", id, "path", o.Path), Preview: p.previewURL(t, o.Path)})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(st)
}
