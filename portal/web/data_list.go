package web

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"kqi/storage"
)

type dataListData struct {
	Items  []storage.Data
	Query  listQuery
	Pager  pager
	Filter dataFilterForm
	Tags   []string
	Base   string
}

// dataFilterForm is the filter box as typed.
type dataFilterForm struct {
	Name, Memo, Tag, IDFrom, IDTo, From, To string
}

func (h *Handler) showDataList(w http.ResponseWriter, r *http.Request) {
	v := visitorOf(r)
	q := r.URL.Query()
	lq := parseListQuery(q, "id")
	ff := dataFilterForm{Name: q.Get("name"), Memo: q.Get("memo"), Tag: q.Get("tag"),
		IDFrom: q.Get("id_from"), IDTo: q.Get("id_to"), From: q.Get("from"), To: q.Get("to")}
	f := storage.DataFilter{Name: strings.TrimSpace(ff.Name), Memo: strings.TrimSpace(ff.Memo), Tag: strings.TrimSpace(ff.Tag),
		Sort: lq.Sort, Desc: lq.Desc, Page: lq.Page, PerPage: lq.PerPage, After: lq.After, Before: lq.Before}
	f.IDFrom, _ = strconv.ParseInt(ff.IDFrom, 10, 64)
	f.IDTo, _ = strconv.ParseInt(ff.IDTo, 10, 64)
	if t, err := time.Parse("2006-01-02", ff.From); err == nil {
		f.CreatedFrom = t
	}
	if t, err := time.Parse("2006-01-02", ff.To); err == nil {
		f.CreatedTo = t.AddDate(0, 0, 1) // the "to" day is included
	}
	pg, err := h.data.Page(r.Context(), v.Tenant.ID, f)
	if h.badCursor(w, r, err) {
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	tags, err := h.data.Tags(r.Context(), v.Tenant.ID)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	base := h.path("data")
	h.render(w, r, http.StatusOK, "data_list", "nav.data", dataListData{
		Items: pg.Items, Query: lq, Pager: lq.pager(base, pg.Total, len(pg.Items), pg.Next, pg.Prev), Filter: ff, Tags: tags, Base: base,
	})
}
