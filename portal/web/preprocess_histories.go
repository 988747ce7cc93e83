package web

import (
	"errors"
	"net/http"
	"strconv"

	"kqi/portal/jobs"
	"kqi/portal/preprocess"
	"kqi/portal/shell"
	"kqi/portal/transfer"
	"kqi/slurm"
	"kqi/storage"
	"kqi/storage/files"
)

type historiesData struct {
	Preprocess *storage.Preprocess
	Items      []storage.History
	Query      listQuery
	Pager      pager
	// SSH is the shell command line of each running entry, by entry id,
	// when the site offers shells.
	SSH map[int64]string
}

// showHistories is a preprocess's history: each entry's source datum,
// status, times, produced data, log, node and Slurm task.
func (h *Handler) showHistories(w http.ResponseWriter, r *http.Request) {
	p, ok := h.preprocessFromRoute(w, r)
	if !ok {
		return
	}
	lq := parseListQuery(r.URL.Query(), "id")
	pg, err := h.pre.HistoryPage(r.Context(), p.TenantID, p.ID, storage.HistoryFilter{Page: lq.Page, PerPage: lq.PerPage, After: lq.After, Before: lq.Before})
	if h.badCursor(w, r, err) || h.failed(w, r, err, nil) {
		return
	}
	items := pg.Items
	base := h.path("preprocessHistories", "id", strconv.FormatInt(p.ID, 10))
	d := historiesData{Preprocess: p, Items: items, Query: lq, Pager: lq.pager(base, pg.Total, len(items), pg.Next, pg.Prev), SSH: map[int64]string{}}
	if h.shell != nil {
		for _, e := range items {
			if e.Job != nil && e.Job.Status == string(slurm.StatusRunning) {
				d.SSH[e.ID] = sshCommand(h.cfg.Shell.Port(), shell.Login(jobs.Preprocess.Name(), e.ID), h.cfg.Shell.Host)
			}
		}
	}
	h.renderPage(w, r, http.StatusOK, page{Name: "preprocess_histories", Nav: "preprocessing", Title: "preprocess.history_title", Data: d})
}

// downloadHistoryLog sends an in-cluster entry's log as stdout_stderr.log.
func (h *Handler) downloadHistoryLog(w http.ResponseWriter, r *http.Request) {
	e, ok := h.entryFromRoute(w, r)
	if !ok {
		return
	}
	if e.Job == nil {
		h.renderError(w, r, http.StatusNotFound, "error.not_found")
		return
	}
	f, err := h.jobs.OpenJobFile(r.Context(), e.Job, slurm.LogFile)
	if errors.Is(err, files.ErrNotExist) {
		h.renderError(w, r, http.StatusNotFound, "preprocess.no_log")
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	defer f.Close()
	transfer.ServeFile(w, r, preprocess.LogName, f, false)
}

func (h *Handler) stopHistory(w http.ResponseWriter, r *http.Request) {
	e, ok := h.entryFromRoute(w, r)
	if !ok {
		return
	}
	if h.failed(w, r, h.pre.Stop(r.Context(), e.TenantID, e.PreprocessID, e.DataID), nil) {
		return
	}
	h.redirectToEntryList(w, r, e.PreprocessID, flashInfo, "flash.preprocess_stop_requested")
}

func (h *Handler) deleteHistory(w http.ResponseWriter, r *http.Request) {
	e, ok := h.entryFromRoute(w, r)
	if !ok {
		return
	}
	if h.failed(w, r, h.pre.DeleteHistory(r.Context(), e.TenantID, e.PreprocessID, e.DataID), nil) {
		return
	}
	h.redirectToEntryList(w, r, e.PreprocessID, flashInfo, "flash.preprocess_entry_deleted")
}
