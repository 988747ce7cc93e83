package web

import (
	"bytes"
	"context"
	"html/template"
	"net/http"
	"sort"
	"strconv"

	"kqi/portal/chart"
	"kqi/portal/scalars"
	"kqi/storage"
)

// metricsView is the charts of one training's metrics, or of several
// side by side (Compare): one chart per metric name, one line per
// training.
type metricsView struct {
	Src    string // where the page's script fetches the charts again; "" when they no longer change
	Charts []chartView
	Notes  []metricsNote
	Jobs   []storage.Job // the trainings drawn
}

type chartView struct {
	Name string
	SVG  template.HTML
}

// metricsNote is a scalars.Note of one training.
type metricsNote struct {
	JobID int64
	scalars.Note
}

// metricsOf reads and draws the metrics of the trainings js. A training
// whose outputs cannot be listed is a note, never a failed page.
func (h *Handler) metricsOf(ctx context.Context, js []storage.Job) metricsView {
	var v metricsView
	lines := map[string][]chart.Line{}
	for _, j := range js {
		res, err := h.jobs.Metrics(ctx, &j)
		if err != nil {
			h.log.Warn("reading metrics", "job", j.ID, "error", err)
			v.Notes = append(v.Notes, metricsNote{JobID: j.ID, Note: scalars.Note{Key: "metrics.unlisted"}})
			continue
		}
		for _, n := range res.Notes {
			v.Notes = append(v.Notes, metricsNote{JobID: j.ID, Note: n})
		}
		for _, s := range res.Series {
			label := s.Name
			if len(js) > 1 {
				label = "#" + strconv.FormatInt(j.ID, 10) + " " + j.Name
			}
			pts := make([][2]float64, len(s.Points))
			for i, p := range s.Points {
				pts[i] = p
			}
			lines[s.Name] = append(lines[s.Name], chart.Line{Label: label, Points: pts})
		}
	}
	names := make([]string, 0, len(lines))
	for n := range lines {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		v.Charts = append(v.Charts, chartView{Name: n, SVG: chart.SVG(n, lines[n])})
	}
	v.Jobs = js
	return v
}

// renderPart renders one template of a page (no layout) for a page's
// script to put in place: the same HTML the page itself shows.
func (h *Handler) renderPart(w http.ResponseWriter, r *http.Request, pageName, part string, data any) {
	v := visitorOf(r)
	t := h.views.pages[v.Lang][pageName]
	if t == nil {
		t = h.views.pages["en"][pageName]
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, part, data); err != nil {
		h.serverError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(buf.Bytes())
}
