package web

import (
	"net/http"
	"strconv"

	"kqi/portal/transfer"
	"kqi/slurm"
)

func (p *jobPages) script(w http.ResponseWriter, r *http.Request) {
	t, ok := p.fromRoute(w, r)
	if !ok {
		return
	}
	f, err := p.jobs.OpenJobFile(r.Context(), t, slurm.ScriptFile)
	if err != nil {
		p.renderError(w, r, http.StatusNotFound, "error.not_found")
		return
	}
	defer f.Close()
	transfer.ServeFile(w, r, p.kind.Name()+"-"+strconv.FormatInt(t.ID, 10)+".sh", f, false)
}
