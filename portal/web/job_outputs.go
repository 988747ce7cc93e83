package web

import (
	"net/http"
	"strings"

	"github.com/gorilla/mux"

	"kqi/portal/transfer"
)

func (p *jobPages) file(w http.ResponseWriter, r *http.Request) {
	t, ok := p.fromRoute(w, r)
	if !ok {
		return
	}
	rel := mux.Vars(r)["path"]
	f, err := p.jobs.OpenOutput(r.Context(), t, rel)
	if err != nil {
		p.renderError(w, r, http.StatusNotFound, "error.not_found")
		return
	}
	defer f.Close()
	transfer.ServeFile(w, r, rel[strings.LastIndex(rel, "/")+1:], f, false)
}

func (p *jobPages) zip(w http.ResponseWriter, r *http.Request) {
	t, ok := p.fromRoute(w, r)
	if !ok {
		return
	}
	transfer.NoDeadline(w)
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", `attachment; filename="output.zip"`)
	if err := p.jobs.WriteZip(r.Context(), t, w); err != nil {
		p.log.Error("streaming output.zip", "job", t.ID, "error", err)
	}
}
