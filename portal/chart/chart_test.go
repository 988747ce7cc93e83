package chart

import (
	"encoding/xml"
	"regexp"
	"strings"
	"testing"
)

func TestSVG(t *testing.T) {
	many := make([][2]float64, 5000)
	for i := range many {
		many[i] = [2]float64{float64(i), float64(i % 7)}
	}
	for _, tc := range []struct {
		name   string
		lines  []Line
		drawn  []string // data-points of each line
		points int      // coordinates in the first polyline, 0 for none
	}{
		{"no points", nil, nil, 0},
		{"one point", []Line{{Label: "loss", Points: [][2]float64{{3, 0.5}}}}, []string{"1"}, 0},
		{"a flat line", []Line{{Label: "acc", Points: [][2]float64{{1, 2}, {2, 2}, {3, 2}}}}, []string{"3"}, 3},
		{"two lines, one thinned", []Line{{Label: "#1 loss", Points: many}, {Label: `<b>"x"</b>`, Points: [][2]float64{{0, -1}, {10, 1}}}}, []string{"5000", "2"}, maxDrawn},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := string(SVG("title & more", tc.lines))
			if err := xml.Unmarshal([]byte(s), new(struct{})); err != nil {
				t.Fatalf("not well-formed XML: %v\n%s", err, s)
			}
			if strings.Contains(s, "NaN") || strings.Contains(s, "Inf") {
				t.Fatalf("bad coordinates in %s", s)
			}
			got := regexp.MustCompile(`data-points="(\d+)"`).FindAllStringSubmatch(s, -1)
			if len(got) != len(tc.drawn) {
				t.Fatalf("%d lines, want %d", len(got), len(tc.drawn))
			}
			for i, g := range got {
				if g[1] != tc.drawn[i] {
					t.Errorf("line %d has data-points %s, want %s", i, g[1], tc.drawn[i])
				}
			}
			if m := regexp.MustCompile(` points="([^"]*)"`).FindStringSubmatch(s); tc.points > 0 {
				if m == nil || len(strings.Fields(m[1])) != tc.points {
					t.Errorf("first polyline: %v, want %d coordinates", m, tc.points)
				}
			} else if m != nil {
				t.Errorf("a polyline %q where none belongs", m[1])
			}
			if strings.Contains(s, "<b>") {
				t.Error("a label reached the SVG unescaped")
			}
		})
	}
}
