package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"kqi/portal/transfer"
	"kqi/storage/files"
)

func (p *jobPages) script(w http.ResponseWriter, r *http.Request) {
	t, ok := p.fromRoute(w, r)
	if !ok {
		return
	}
	script, err := p.jobs.Script(r.Context(), t)
	if errors.Is(err, files.ErrNotExist) {
		p.renderError(w, r, http.StatusNotFound, "error.not_found")
		return
	}
	if err != nil {
		p.serverError(w, r, err)
		return
	}
	transfer.ServeFile(w, r, p.kind.Name()+"-"+strconv.FormatInt(t.ID, 10)+".sh", strings.NewReader(script), false)
}
