package lineage

import (
	"fmt"
	"html/template"
	"strings"
	"unicode/utf8"

	"kqi/storage"
)

// Box sizes of the picture, in SVG user units (CSS pixels at 100 %).
const (
	nodeW, nodeH = 200, 46
	gapX, gapY   = 70, 14
	gapDown      = 34 // between layers drawn top to bottom
	pad          = 10
	pageWidth    = 1040 // what the page's main column holds
)

// Label is what a node shows: a first line (the name), a second (what it
// is, its status) and its page.
type Label struct {
	Name, Sub, Href string
}

// SVG renders the laid-out graph. Every node is a link; the focus is
// marked; long names are cut with the full one in the node's tooltip.
func SVG(g *Graph, l Layout, label func(storage.LineageNode) Label) template.HTML {
	rows := 0
	for _, ks := range l.Layers {
		rows = max(rows, len(ks))
	}
	// Left to right, unless that is wider than a page and top to bottom
	// is not (a long chain reads better downwards).
	across, down := len(l.Layers), rows
	vertical := across*(nodeW+gapX) > pageWidth && down*(nodeW+gapY) <= pageWidth
	var width, height int
	var xy func(k storage.LineageKey) (int, int)
	if vertical {
		width = pad*2 + down*nodeW + max(0, down-1)*gapY
		height = pad*2 + across*nodeH + max(0, across-1)*gapDown
		xy = func(k storage.LineageKey) (int, int) {
			p := l.Pos[k]
			offset := (rows - len(l.Layers[p[0]])) * (nodeW + gapY) / 2
			return pad + offset + p[1]*(nodeW+gapY), pad + p[0]*(nodeH+gapDown)
		}
	} else {
		width = pad*2 + across*nodeW + max(0, across-1)*gapX
		height = pad*2 + down*nodeH + max(0, down-1)*gapY
		xy = func(k storage.LineageKey) (int, int) {
			p := l.Pos[k]
			offset := (rows - len(l.Layers[p[0]])) * (nodeH + gapY) / 2
			return pad + p[0]*(nodeW+gapX), pad + offset + p[1]*(nodeH+gapY)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="lineage" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-labelledby="lineage-title">`, width, height, width, height)
	b.WriteString(`<defs><marker id="lineage-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" class="lineage-arrowhead"/></marker></defs>`)
	b.WriteString(`<g class="lineage-edges">`)
	for _, e := range g.Edges {
		x1, y1 := xy(e.From)
		x2, y2 := xy(e.To)
		if vertical {
			x1, y1, x2 = x1+nodeW/2, y1+nodeH, x2+nodeW/2
			mid := (y1 + y2) / 2
			fmt.Fprintf(&b, `<path d="M%d %d C%d %d %d %d %d %d" marker-end="url(#lineage-arrow)"/>`, x1, y1, x1, mid, x2, mid, x2, y2)
			continue
		}
		x1, y1, y2 = x1+nodeW, y1+nodeH/2, y2+nodeH/2
		mid := (x1 + x2) / 2
		fmt.Fprintf(&b, `<path d="M%d %d C%d %d %d %d %d %d" marker-end="url(#lineage-arrow)"/>`, x1, y1, mid, y1, mid, y2, x2, y2)
	}
	b.WriteString(`</g>`)
	for _, ks := range l.Layers {
		for _, k := range ks {
			n := g.Nodes[k]
			lb := label(n)
			x, y := xy(k)
			class := "lineage-node lineage-" + n.Type
			if n.Kind != "" {
				class += " lineage-" + n.Kind
			}
			if k == g.Focus {
				class += " lineage-focus"
			}
			fmt.Fprintf(&b, `<a href="%s" class="%s" data-node="%s-%d">`, esc(lb.Href), class, n.Type, n.ID)
			fmt.Fprintf(&b, `<title>%s</title>`, esc(lb.Name+" — "+lb.Sub))
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" rx="6"/>`, x, y, nodeW, nodeH)
			fmt.Fprintf(&b, `<text x="%d" y="%d" class="lineage-name">%s</text>`, x+10, y+19, esc(cut(lb.Name, 26)))
			fmt.Fprintf(&b, `<text x="%d" y="%d" class="lineage-sub">%s</text>`, x+10, y+36, esc(cut(lb.Sub, 32)))
			b.WriteString(`</a>`)
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func esc(s string) string { return template.HTMLEscapeString(s) }

// cut shortens s to n characters with an ellipsis.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
