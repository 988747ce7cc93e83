package web

import (
	"net/http"
	"strings"

	"kqi/storage"
)

type preprocessListData struct {
	Items []storage.Preprocess
	Query listQuery
	Pager pager
	Name  string
	Base  string
}

func (h *Handler) showPreprocessList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	lq := parseListQuery(q, "id")
	pg, err := h.pre.Page(r.Context(), visitorOf(r).Tenant.ID, storage.PreprocessFilter{Name: strings.TrimSpace(q.Get("name")),
		Sort: lq.Sort, Desc: lq.Desc, Page: lq.Page, PerPage: lq.PerPage, After: lq.After, Before: lq.Before})
	if h.badCursor(w, r, err) {
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	base := h.path("preprocessing")
	h.renderPage(w, r, http.StatusOK, page{Name: "preprocess_list", Nav: "preprocessing", Title: "nav.preprocessing",
		Data: preprocessListData{Items: pg.Items, Query: lq, Pager: lq.pager(base, pg.Total, len(pg.Items), pg.Next, pg.Prev), Name: q.Get("name"), Base: base}})
}
