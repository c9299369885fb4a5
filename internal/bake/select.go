package bake

import (
	"github.com/amibake/amibake/internal/graph"
	"github.com/amibake/amibake/internal/plan"
)

// Select narrows a plan of every layer (plan.New without targets) to what
// baking targets needs: the targets, with their descendants when
// withDescendants is set, plus every ancestor that has work to do first —
// a build, a channel to move (Publish), or an adopted AMI still pending —
// since a child's template starts from its parent's latest channel. No
// targets means every layer. Unknown names are an *graph.UnknownLayerError.
func Select(full *plan.Plan, g *graph.Graph, targets []string, withDescendants bool) (*plan.Plan, error) {
	if len(targets) == 0 {
		return full, nil
	}
	nodes, err := g.Select(targets, withDescendants, false)
	if err != nil {
		return nil, err
	}
	keep := map[string]bool{}
	for _, n := range nodes {
		keep[n.Name()] = true
		for _, a := range g.Ancestors(n.Name()) {
			if l := full.Layer(a.Name()); l != nil && needsWork(l) {
				keep[a.Name()] = true
			}
		}
	}
	out := &plan.Plan{Project: full.Project}
	for _, l := range full.Layers {
		if keep[l.Layer] {
			out.Layers = append(out.Layers, l)
		}
	}
	return out, nil
}

func needsWork(l *plan.Layer) bool {
	return l.Action == plan.ActionBuild || l.Publish || (l.State != "" && l.State != plan.StateAvailable)
}
