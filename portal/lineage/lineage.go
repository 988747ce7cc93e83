// Package lineage draws where a datum, dataset, training or inference came
// from and what was made from it: the graph is gathered from storage
// (ancestors walking back, descendants walking forward, no siblings), laid
// out in layers of its own and rendered on the server as SVG whose nodes
// are links, so the picture needs no JavaScript.
package lineage

import (
	"context"
	"sort"

	"kqi/storage"
)

// MaxNodes bounds a picture; a graph cut there says so.
const MaxNodes = 400

// Graph is the focus, its ancestors and descendants, and the edges among
// them.
type Graph struct {
	Focus storage.LineageKey
	Nodes map[storage.LineageKey]storage.LineageNode
	Edges []storage.LineageEdge
	Cut   bool // MaxNodes was reached
}

// Build walks the tenant's relations from focus both ways.
func Build(ctx context.Context, st *storage.Store, tenantID int64, focus storage.LineageKey) (*Graph, error) {
	g := &Graph{Focus: focus}
	seen := map[storage.LineageKey]bool{focus: true}
	edges := map[storage.LineageEdge]bool{}
	for _, forward := range []bool{false, true} {
		frontier := []storage.LineageKey{focus}
		for len(frontier) > 0 {
			step, err := st.LineageStep(ctx, tenantID, frontier, forward)
			if err != nil {
				return nil, err
			}
			frontier = nil
			for _, e := range step {
				next := e.From
				if forward {
					next = e.To
				}
				if !seen[next] {
					if len(seen) >= MaxNodes {
						g.Cut = true
						continue
					}
					seen[next] = true
					frontier = append(frontier, next)
				}
				edges[e] = true
			}
		}
	}
	keys := make([]storage.LineageKey, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	nodes, err := st.LineageNodes(ctx, tenantID, keys)
	if err != nil {
		return nil, err
	}
	g.Nodes = nodes
	for e := range edges {
		if _, ok := nodes[e.From]; !ok {
			continue
		}
		if _, ok := nodes[e.To]; ok {
			g.Edges = append(g.Edges, e)
		}
	}
	sort.Slice(g.Edges, func(i, j int) bool {
		return less(g.Edges[i].From, g.Edges[j].From) || g.Edges[i].From == g.Edges[j].From && less(g.Edges[i].To, g.Edges[j].To)
	})
	return g, nil
}

// typeOrder keeps a layer's things grouped the same way every time.
var typeOrder = map[string]int{"data": 0, "run": 1, "dataset": 2, "job": 3}

func less(a, b storage.LineageKey) bool {
	if a.Type != b.Type {
		return typeOrder[a.Type] < typeOrder[b.Type]
	}
	return a.ID < b.ID
}
