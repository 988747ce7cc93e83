package lineage

import (
	"sort"

	"kqi/storage"
)

// Layout is where each node goes: its layer (column, sources left) and its
// row within the layer.
type Layout struct {
	Layers [][]storage.LineageKey
	Pos    map[storage.LineageKey][2]int // layer, row
}

// Arrange places the nodes in layers by their longest path from a source
// (the relations are acyclic: a thing is made only from older things) and
// orders each layer by the mean row of its neighbours, sweeping forth and
// back a few times, which keeps most edges short and uncrossed.
func Arrange(g *Graph) Layout {
	preds := map[storage.LineageKey][]storage.LineageKey{}
	succs := map[storage.LineageKey][]storage.LineageKey{}
	indeg := map[storage.LineageKey]int{}
	for k := range g.Nodes {
		indeg[k] = 0
	}
	for _, e := range g.Edges {
		preds[e.To] = append(preds[e.To], e.From)
		succs[e.From] = append(succs[e.From], e.To)
		indeg[e.To]++
	}
	// Kahn's order; layer = 1 + the deepest predecessor's.
	var queue []storage.LineageKey
	for k, d := range indeg {
		if d == 0 {
			queue = append(queue, k)
		}
	}
	sort.Slice(queue, func(i, j int) bool { return less(queue[i], queue[j]) })
	layer := map[storage.LineageKey]int{}
	for len(queue) > 0 {
		k := queue[0]
		queue = queue[1:]
		for _, s := range succs[k] {
			layer[s] = max(layer[s], layer[k]+1)
			if indeg[s]--; indeg[s] == 0 {
				queue = append(queue, s)
			}
		}
	}
	depth := 0
	for k := range g.Nodes {
		depth = max(depth, layer[k]+1)
	}
	l := Layout{Layers: make([][]storage.LineageKey, depth), Pos: map[storage.LineageKey][2]int{}}
	for k := range g.Nodes {
		l.Layers[layer[k]] = append(l.Layers[layer[k]], k)
	}
	for _, ks := range l.Layers {
		sort.Slice(ks, func(i, j int) bool { return less(ks[i], ks[j]) })
	}
	place := func() {
		for li, ks := range l.Layers {
			for r, k := range ks {
				l.Pos[k] = [2]int{li, r}
			}
		}
	}
	place()
	order := func(li int, nbrs map[storage.LineageKey][]storage.LineageKey) {
		ks := l.Layers[li]
		center := map[storage.LineageKey]float64{}
		for _, k := range ks {
			ns := nbrs[k]
			if len(ns) == 0 {
				center[k] = float64(l.Pos[k][1])
				continue
			}
			sum := 0.0
			for _, n := range ns {
				sum += float64(l.Pos[n][1])
			}
			center[k] = sum / float64(len(ns))
		}
		sort.SliceStable(ks, func(i, j int) bool { return center[ks[i]] < center[ks[j]] })
		for r, k := range ks {
			l.Pos[k] = [2]int{li, r}
		}
	}
	for range 4 {
		for li := 1; li < len(l.Layers); li++ {
			order(li, preds)
		}
		for li := len(l.Layers) - 2; li >= 0; li-- {
			order(li, succs)
		}
	}
	place()
	return l
}
