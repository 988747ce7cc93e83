package lineage

import (
	"fmt"
	"strings"
	"testing"

	"kqi/storage"
)

func key(t string, id int64) storage.LineageKey { return storage.LineageKey{Type: t, ID: id} }

// fan is one datum preprocessed 30 times, each output in one dataset
// trained on: 1 + 30 + 30 + 1 + 1 = 63 nodes.
func fan() *Graph {
	g := &Graph{Focus: key("data", 1), Nodes: map[storage.LineageKey]storage.LineageNode{}}
	add := func(k storage.LineageKey, name string) { g.Nodes[k] = storage.LineageNode{LineageKey: k, Name: name} }
	add(key("data", 1), "raw <img src=x>")
	add(key("dataset", 1), "all")
	add(key("job", 1), "train")
	for i := int64(1); i <= 30; i++ {
		add(key("run", i), fmt.Sprintf("run %d", i))
		add(key("data", 100+i), fmt.Sprintf("out %d", i))
		g.Edges = append(g.Edges, storage.LineageEdge{From: key("data", 1), To: key("run", i)},
			storage.LineageEdge{From: key("run", i), To: key("data", 100+i)}, storage.LineageEdge{From: key("data", 100+i), To: key("dataset", 1)})
	}
	g.Edges = append(g.Edges, storage.LineageEdge{From: key("dataset", 1), To: key("job", 1)})
	return g
}

func TestArrangeLayersAndRows(t *testing.T) {
	g := fan()
	l := Arrange(g)
	want := []int{1, 30, 30, 1, 1}
	if len(l.Layers) != len(want) {
		t.Fatalf("%d layers, want %d", len(l.Layers), len(want))
	}
	for i, n := range want {
		if len(l.Layers[i]) != n {
			t.Errorf("layer %d has %d nodes, want %d", i, len(l.Layers[i]), n)
		}
	}
	// Every edge goes left to right, and no two nodes share a place.
	for _, e := range g.Edges {
		if l.Pos[e.From][0] >= l.Pos[e.To][0] {
			t.Errorf("edge %v → %v goes from layer %d to %d", e.From, e.To, l.Pos[e.From][0], l.Pos[e.To][0])
		}
	}
	seen := map[[2]int]bool{}
	for k := range g.Nodes {
		if seen[l.Pos[k]] {
			t.Fatalf("two nodes at %v", l.Pos[k])
		}
		seen[l.Pos[k]] = true
	}
	// Ordering follows the neighbours: run i and its output share a row.
	for i := int64(1); i <= 30; i++ {
		if l.Pos[key("run", i)][1] != l.Pos[key("data", 100+i)][1] {
			t.Errorf("run %d at row %d, its output at %d", i, l.Pos[key("run", i)][1], l.Pos[key("data", 100+i)][1])
		}
	}
}

func TestSVGLinksEveryNodeAndEscapes(t *testing.T) {
	g := fan()
	svg := string(SVG(g, Arrange(g), func(n storage.LineageNode) Label {
		return Label{Name: n.Name, Sub: n.Type, Href: fmt.Sprintf("/%s/%d?a=1&b=2", n.Type, n.ID)}
	}))
	if n := strings.Count(svg, "<a href="); n != len(g.Nodes) {
		t.Fatalf("%d links for %d nodes", n, len(g.Nodes))
	}
	if n := strings.Count(svg, `marker-end=`); n != len(g.Edges) {
		t.Fatalf("%d edges drawn for %d", n, len(g.Edges))
	}
	for _, want := range []string{`href="/data/1?a=1&amp;b=2"`, "raw &lt;img src=x&gt;", `class="lineage-node lineage-data lineage-focus"`} {
		if !strings.Contains(svg, want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
	if strings.Contains(svg, "<img") {
		t.Fatal("a name reached the SVG unescaped")
	}
}

func TestCut(t *testing.T) {
	if got := cut("short", 26); got != "short" {
		t.Fatal(got)
	}
	if got := cut(strings.Repeat("長", 40), 26); got != strings.Repeat("長", 25)+"…" {
		t.Fatal(got)
	}
}

// A long chain is drawn downwards; a wide graph stays left to right.
func TestSVGOrientation(t *testing.T) {
	chain := &Graph{Nodes: map[storage.LineageKey]storage.LineageNode{}}
	for i := int64(1); i <= 7; i++ {
		chain.Nodes[key("job", i)] = storage.LineageNode{LineageKey: key("job", i), Name: "j"}
		if i > 1 {
			chain.Edges = append(chain.Edges, storage.LineageEdge{From: key("job", i-1), To: key("job", i)})
		}
	}
	label := func(n storage.LineageNode) Label { return Label{Name: n.Name} }
	if svg := string(SVG(chain, Arrange(chain), label)); !strings.Contains(svg, `width="220" height="`) {
		t.Errorf("a chain of 7 is not drawn downwards: %.200s", svg)
	}
	g := fan()
	if svg := string(SVG(g, Arrange(g), label)); !strings.Contains(svg, `width="1300" height="`) {
		t.Errorf("the fan is not drawn left to right: %.200s", svg)
	}
}
