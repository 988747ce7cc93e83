package web

import (
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strconv"

	"kqi/portal/input"
	"kqi/storage"
)

// PerPageChoices are the page sizes lists offer.
var PerPageChoices = []int{10, 30, 50, 100}

// listQuery is the paging and sorting part of a list URL. A page is
// either a cursor's (after= or before=, the links the pages make) or an
// OFFSET page (page=N, kept for old links and bookmarks).
type listQuery struct {
	Page          int
	PerPage       int
	Sort          string
	Desc          bool
	After, Before string
	Values        url.Values // every filter as given, to keep them across links
}

func parseListQuery(q url.Values, defaultSort string) listQuery {
	lq := listQuery{Page: 1, PerPage: 30, Sort: defaultSort, Desc: true, Values: q, After: q.Get("after"), Before: q.Get("before")}
	if p, ok := input.Int(q.Get("page"), 1, input.MaxPage); ok {
		lq.Page = int(p)
	}
	if n, err := strconv.Atoi(q.Get("per_page")); err == nil {
		for _, c := range PerPageChoices {
			if n == c {
				lq.PerPage = n
			}
		}
	}
	if s := q.Get("sort"); s != "" {
		lq.Sort = s
	}
	if d := q.Get("desc"); d != "" {
		lq.Desc = d == "1"
	}
	return lq
}

// pager is what the pagination partial shows. Page and Pages are known on
// an OFFSET page of a list whose total is exact; a cursor's page shows
// the links only.
type pager struct {
	Page, PerPage, Total, Pages int
	More                        bool // Total is CountCap+1: more than CountCap
	Cap                         int
	First, Prev, Next           string
	PastEnd                     bool // a cursor or page beyond the last row
	PerPageLinks                []perPageLink
}

type perPageLink struct {
	N       int
	URL     string
	Current bool
}

// with returns the list URL with some query values replaced; an empty
// value removes the key.
func (lq listQuery) with(base string, kv ...string) string {
	v := url.Values{}
	for k, vals := range lq.Values {
		v[k] = vals
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			v.Del(kv[i])
		} else {
			v.Set(kv[i], kv[i+1])
		}
	}
	if len(v) == 0 {
		return base
	}
	return base + "?" + v.Encode()
}

// first is the list's first page, filters and order kept.
func (lq listQuery) first(base string, kv ...string) string {
	return lq.with(base, append([]string{"page", "", "after", "", "before", ""}, kv...)...)
}

// SortURL is the link of a column header: sorting by it, flipping the
// direction when it already sorts, from the first page.
func (lq listQuery) SortURL(base, key string) string {
	desc := "0"
	if lq.Sort != key || !lq.Desc {
		desc = "1"
	}
	return lq.first(base, "sort", key, "desc", desc)
}

// SortMark is the arrow after the header of the column the list is sorted
// by: ▼ descending, ▲ ascending; nothing for the other columns.
func (lq listQuery) SortMark(key string) template.HTML {
	if lq.Sort != key {
		return ""
	}
	if lq.Desc {
		return `<span class="sort-mark" aria-hidden="true">▼</span>`
	}
	return `<span class="sort-mark" aria-hidden="true">▲</span>`
}

// cursored reports whether the page was asked by cursor.
func (lq listQuery) cursored() bool { return lq.After != "" || lq.Before != "" }

// pager makes the pagination of a page of n items with the cursors
// either side.
func (lq listQuery) pager(base string, total, n int, next, prev string) pager {
	p := pager{Page: lq.Page, PerPage: lq.PerPage, Total: total, More: total > storage.CountCap, Cap: storage.CountCap}
	if !lq.cursored() && !p.More {
		p.Pages = (total + lq.PerPage - 1) / lq.PerPage
	}
	if next != "" {
		p.Next = lq.with(base, "page", "", "before", "", "after", next)
	}
	if prev != "" {
		p.Prev = lq.with(base, "page", "", "after", "", "before", prev)
	}
	if lq.cursored() || lq.Page > 1 {
		p.First = lq.first(base)
		p.PastEnd = n == 0
	}
	for _, c := range PerPageChoices {
		p.PerPageLinks = append(p.PerPageLinks, perPageLink{N: c, URL: lq.first(base, "per_page", strconv.Itoa(c)), Current: c == lq.PerPage})
	}
	return p
}

// badCursor answers a list asked with a cursor it did not give (400, the
// way back to its first page said); false for any other error.
func (h *Handler) badCursor(w http.ResponseWriter, r *http.Request, err error) bool {
	if !errors.Is(err, storage.ErrBadCursor) {
		return false
	}
	h.renderError(w, r, http.StatusBadRequest, "list.bad_cursor")
	return true
}
