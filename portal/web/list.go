package web

import (
	"html/template"
	"net/url"
	"strconv"

	"kqi/portal/input"
)

// PerPageChoices are the page sizes lists offer.
var PerPageChoices = []int{10, 30, 50, 100}

// listQuery is the paging and sorting part of a list URL.
type listQuery struct {
	Page    int
	PerPage int
	Sort    string
	Desc    bool
	Values  url.Values // every filter as given, to keep them across links
}

func parseListQuery(q url.Values, defaultSort string) listQuery {
	lq := listQuery{Page: 1, PerPage: 30, Sort: defaultSort, Desc: true, Values: q}
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

// pager is what the pagination partial shows.
type pager struct {
	Page, PerPage, Total, Pages int
	Prev, Next                  string
	PerPageLinks                []perPageLink
}

type perPageLink struct {
	N       int
	URL     string
	Current bool
}

// with returns the list URL with some query values replaced.
func (lq listQuery) with(base string, kv ...string) string {
	v := url.Values{}
	for k, vals := range lq.Values {
		v[k] = vals
	}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return base + "?" + v.Encode()
}

// SortURL is the link of a column header: sorting by it, flipping the
// direction when it already sorts.
func (lq listQuery) SortURL(base, key string) string {
	desc := "0"
	if lq.Sort != key || !lq.Desc {
		desc = "1"
	}
	return lq.with(base, "sort", key, "desc", desc, "page", "1")
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

func (lq listQuery) pager(base string, total int) pager {
	p := pager{Page: lq.Page, PerPage: lq.PerPage, Total: total}
	p.Pages = (total + lq.PerPage - 1) / lq.PerPage
	if p.Page > 1 {
		p.Prev = lq.with(base, "page", strconv.Itoa(p.Page-1))
	}
	if p.Page < p.Pages {
		p.Next = lq.with(base, "page", strconv.Itoa(p.Page+1))
	}
	for _, n := range PerPageChoices {
		p.PerPageLinks = append(p.PerPageLinks, perPageLink{N: n, URL: lq.with(base, "per_page", strconv.Itoa(n), "page", "1"), Current: n == lq.PerPage})
	}
	return p
}
