package web

import "net/http"

// section is one area of tenant work in the navigation whose pages arrive
// with later features (preprocessing); until then
// each says plainly that nothing is there yet.
type section struct {
	route string // route name and nav key
	path  string
	title string // catalog key
}

var sections = []section{
	{"preprocessing", "/preprocessing", "nav.preprocessing"},
}

func (h *Handler) showSection(s section) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h.renderPage(w, r, http.StatusOK, page{Name: "section", Nav: s.route, Title: s.title})
	}
}
