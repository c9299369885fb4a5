// Package graph turns a decoded project into the layer DAG: parent edges,
// cycle and reachability checks, ordering, and content fingerprints.
package graph

import (
	"github.com/hashicorp/hcl/v2"

	"github.com/amibake/amibake/internal/config"
)

// Graph is the validated layer DAG of one project.
type Graph struct {
	Config *config.Config
	Nodes  map[string]*Node
}

// Node is one layer in the DAG.
type Node struct {
	Layer    *config.Layer
	Parent   *Node   // nil for a root (source) layer
	Children []*Node // sorted by name
	Depth    int     // 0 for roots
}

// Build links layers to their parents and checks the DAG: cycles (with the
// cycle path), unknown parents, layers unreachable from any source, unused
// recipes (warning). It returns a usable partial graph with errors.
func Build(cfg *config.Config) (*Graph, hcl.Diagnostics) {
	// STUB: replaced by the real implementation.
	g := &Graph{Config: cfg, Nodes: map[string]*Node{}}
	return g, nil
}

// Topo returns every node with parents before children; ties by name, so the
// order is stable.
func (g *Graph) Topo() []*Node { return nil }
