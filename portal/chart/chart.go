// Package chart draws line charts as SVG on the server, so a page shows
// them without JavaScript.
package chart

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
)

// Line is one labelled series of [x, y] points, ordered by x.
type Line struct {
	Label  string
	Points [][2]float64
}

// Size and margins of a chart, in SVG user units (it scales to its box).
const (
	width, height = 480, 240
	left, right   = 60, 12
	top, bottom   = 12, 28
	plotW, plotH  = width - left - right, height - top - bottom
	maxDrawn      = 800 // points drawn per line; more are thinned
	ticks         = 5
	legendRow     = 16
	fontSize      = 11
)

// palette is a colour-blind-safe set (Okabe–Ito), one colour per line in
// turn.
var palette = []string{"#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#000000"}

// Color is the colour of the i-th line, for legends outside the chart.
func Color(i int) string { return palette[i%len(palette)] }

// SVG draws lines on one pair of axes. title is the chart's accessible
// name. Each drawn line carries data-points (how many points it has), so
// pages and tests can tell a growing series.
func SVG(title string, lines []Line) template.HTML {
	minX, maxX, minY, maxY := bounds(lines)
	h := height + legendRow*len(lines)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" role="img" aria-label="%s">`, width, h, esc(title))
	fmt.Fprintf(&b, `<title>%s</title>`, esc(title))
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#999"/>`, left, top, plotW, plotH)
	sx := func(x float64) float64 { return left + (x-minX)/(maxX-minX)*plotW }
	sy := func(y float64) float64 { return top + plotH - (y-minY)/(maxY-minY)*plotH }
	for i := 0; i <= ticks; i++ {
		y := minY + (maxY-minY)*float64(i)/ticks
		py := sy(y)
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>`, left, left+plotW, py, py)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" font-size="%d" text-anchor="end" dominant-baseline="middle">%s</text>`, left-4, py, fontSize, esc(label(y)))
		x := minX + (maxX-minX)*float64(i)/ticks
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="%d" text-anchor="middle">%s</text>`, sx(x), top+plotH+16, fontSize, esc(label(x)))
	}
	for i, l := range lines {
		color := Color(i)
		pts := thin(l.Points)
		fmt.Fprintf(&b, `<g class="chart-line" data-label="%s" data-points="%d">`, esc(l.Label), len(l.Points))
		if len(pts) == 1 {
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`, sx(pts[0][0]), sy(pts[0][1]), color)
		} else if len(pts) > 1 {
			b.WriteString(`<polyline fill="none" stroke-width="1.5" stroke="` + color + `" points="`)
			for j, p := range pts {
				if j > 0 {
					b.WriteByte(' ')
				}
				fmt.Fprintf(&b, "%.1f,%.1f", sx(p[0]), sy(p[1]))
			}
			b.WriteString(`"/>`)
		}
		b.WriteString(`</g>`)
		ly := height + legendRow*i + 4
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/>`, left, ly, color)
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="%d">%s</text>`, left+16, ly+9, fontSize, esc(l.Label))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// bounds is the range of every point, widened where it is a single value
// so that the scale never divides by zero.
func bounds(lines []Line) (minX, maxX, minY, maxY float64) {
	minX, minY = math.Inf(1), math.Inf(1)
	maxX, maxY = math.Inf(-1), math.Inf(-1)
	for _, l := range lines {
		for _, p := range l.Points {
			minX, maxX = math.Min(minX, p[0]), math.Max(maxX, p[0])
			minY, maxY = math.Min(minY, p[1]), math.Max(maxY, p[1])
		}
	}
	if math.IsInf(minX, 1) {
		return 0, 1, 0, 1
	}
	if maxX == minX {
		minX, maxX = minX-1, maxX+1
	}
	if maxY == minY {
		d := math.Max(math.Abs(minY)*0.1, 1e-9)
		minY, maxY = minY-d, maxY+d
	} else {
		pad := (maxY - minY) * 0.05
		minY, maxY = minY-pad, maxY+pad
	}
	return minX, maxX, minY, maxY
}

// thin keeps at most maxDrawn points, evenly spaced, first and last
// included.
func thin(pts [][2]float64) [][2]float64 {
	if len(pts) <= maxDrawn {
		return pts
	}
	out := make([][2]float64, 0, maxDrawn)
	for i := 0; i < maxDrawn; i++ {
		out = append(out, pts[i*(len(pts)-1)/(maxDrawn-1)])
	}
	return out
}

// label writes an axis value in at most three significant digits.
func label(v float64) string {
	if math.Abs(v) < 1e-12 {
		return "0"
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

func esc(s string) string { return template.HTMLEscapeString(s) }
