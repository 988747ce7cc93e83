package web

import (
	"net/http"
	"strings"

	"kqi/storage"
)

type datasetListData struct {
	Items []storage.Dataset
	Query listQuery
	Pager pager
	Name  string
	Memo  string
	Base  string
}

func (h *Handler) showDatasetList(w http.ResponseWriter, r *http.Request) {
	v := visitorOf(r)
	q := r.URL.Query()
	lq := parseListQuery(q, "id")
	f := storage.DatasetFilter{Name: strings.TrimSpace(q.Get("name")), Memo: strings.TrimSpace(q.Get("memo")),
		Sort: lq.Sort, Desc: lq.Desc, Page: lq.Page, PerPage: lq.PerPage, After: lq.After, Before: lq.Before}
	pg, err := h.data.DatasetPage(r.Context(), v.Tenant.ID, f)
	if h.badCursor(w, r, err) {
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	base := h.path("datasets")
	h.render(w, r, http.StatusOK, "dataset_list", "nav.datasets", datasetListData{
		Items: pg.Items, Query: lq, Pager: lq.pager(base, pg.Total, len(pg.Items), pg.Next, pg.Prev), Name: q.Get("name"), Memo: q.Get("memo"), Base: base,
	})
}
