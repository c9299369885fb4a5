// Package graph turns a decoded project into the layer DAG: parent edges,
// cycle and reachability checks, ordering, a parallel walker, and content
// fingerprints (fingerprint.go).
//
// Every layer has at most one parent, so the "DAG" is a forest: each root
// is a layer built from an upstream source AMI, every other layer is built
// from its parent's AMI.
package graph

import (
	"container/heap"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/amibake/amibake/internal/config"
)

// Graph is the validated layer DAG of one project. Only layers reachable
// from a source are in it: a layer in a parent cycle, a layer whose parent
// is not declared, and every descendant of either is left out (and
// reported by Build).
type Graph struct {
	Config *config.Config
	Nodes  map[string]*Node

	topo []*Node // cached Topo order, computed by Build
}

// Node is one layer in the DAG.
type Node struct {
	Layer    *config.Layer
	Parent   *Node   // nil for a root (source) layer
	Children []*Node // sorted by name
	Depth    int     // 0 for roots
}

// Name is the layer's name.
func (n *Node) Name() string { return n.Layer.Name }

// IsRoot reports whether the layer is built from an upstream source.
func (n *Node) IsRoot() bool { return n.Parent == nil }

// Diagnostic summaries of Build, stable so that tests and tools can match them.
const (
	SummaryCycle       = "Layer dependency cycle"
	SummaryUnreachable = "Layer unreachable from any source"
	SummaryUnused      = "Unused recipe"
)

// layer states while Build walks parent chains.
const (
	stateUnvisited = iota
	stateOnPath
	stateOK            // reaches a root
	stateCycle         // part of a cycle
	stateUnknownParent // its own parent is not declared (config.Load reports it)
	stateUnreachable   // descends from a cycle or an unknown parent
)

// Build links layers to their parents and checks the DAG: parent cycles
// (one error per cycle, with the cycle path), layers unreachable from any
// source (error), recipes no layer uses (warning). An undeclared parent is
// reported by config.Load, so Build only drops that edge; the layers below
// it are reported as unreachable. Build never fails outright: it returns
// the graph of every healthy layer along with the diagnostics.
func Build(cfg *config.Config) (*Graph, hcl.Diagnostics) {
	g := &Graph{Config: cfg, Nodes: map[string]*Node{}}
	if cfg == nil {
		return g, nil
	}
	var diags hcl.Diagnostics

	names := sortedLayerNames(cfg)
	state := make(map[string]int, len(names))
	// why[name] explains, for an unreachable layer, the broken ancestor.
	why := map[string]string{}

	for _, start := range names {
		if state[start] != stateUnvisited {
			continue
		}
		var path []string
		cur := start
		for {
			l := cfg.Layers[cur]
			if l == nil {
				break // cur is an undeclared parent; handled below
			}
			if s := state[cur]; s != stateUnvisited {
				break
			}
			state[cur] = stateOnPath
			path = append(path, cur)
			if l.Parent == "" {
				break
			}
			cur = l.Parent
		}

		// What the chain ended on decides the state of everything on it.
		last := path[len(path)-1]
		lastLayer := cfg.Layers[last]
		var tail int // state for the path elements that are not in a cycle
		var reason string
		switch {
		case lastLayer.Parent == "":
			tail = stateOK
		case cfg.Layers[lastLayer.Parent] == nil:
			state[last] = stateUnknownParent
			path = path[:len(path)-1]
			tail, reason = stateUnreachable, fmt.Sprintf("the parent of %q, %q, is not declared", last, lastLayer.Parent)
		case state[lastLayer.Parent] == stateOnPath:
			// A new cycle: from the parent (already on the path) to last.
			at := indexOf(path, lastLayer.Parent)
			cycle := path[at:]
			for _, n := range cycle {
				state[n] = stateCycle
			}
			diags = append(diags, cycleDiag(cfg, cycle))
			path = path[:at]
			// Whatever precedes the cycle on the path descends from it
			// through path[at], the parent of last.
			tail, reason = stateUnreachable, fmt.Sprintf("%q is in a dependency cycle", lastLayer.Parent)
		default:
			// Joined an already-classified chain.
			p := lastLayer.Parent
			switch state[p] {
			case stateOK:
				tail = stateOK
			case stateCycle:
				tail, reason = stateUnreachable, fmt.Sprintf("%q is in a dependency cycle", p)
			case stateUnknownParent:
				tail, reason = stateUnreachable, fmt.Sprintf("the parent of %q, %q, is not declared", p, cfg.Layers[p].Parent)
			default:
				tail, reason = stateUnreachable, why[p]
			}
		}
		for _, n := range path {
			state[n] = tail
			if tail == stateUnreachable {
				why[n] = reason
			}
		}
	}

	// Nodes for the healthy layers, linked to their parents.
	for _, name := range names {
		if state[name] == stateOK {
			g.Nodes[name] = &Node{Layer: cfg.Layers[name]}
		}
	}
	for _, name := range names {
		n := g.Nodes[name]
		if n == nil || n.Layer.Parent == "" {
			continue
		}
		p := g.Nodes[n.Layer.Parent]
		n.Parent = p
		p.Children = append(p.Children, n) // names are sorted, so children are too
	}
	g.topo = g.computeTopo()
	for _, n := range g.topo {
		if n.Parent != nil {
			n.Depth = n.Parent.Depth + 1
		}
	}

	for _, name := range names {
		if state[name] != stateUnreachable {
			continue
		}
		l := cfg.Layers[name]
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  SummaryUnreachable,
			Detail: fmt.Sprintf("Layer %q cannot be built: its ancestry never reaches a layer with a source, because %s.",
				name, why[name]),
			Subject: parentSubject(l),
		})
	}

	diags = append(diags, unusedRecipes(cfg)...)
	return g, diags
}

func sortedLayerNames(cfg *config.Config) []string {
	names := make([]string, 0, len(cfg.Layers))
	for name, l := range cfg.Layers {
		if l != nil {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

// cycleDiag reports one cycle. members is in child→parent order as found;
// the detail prints it parent→child ("a → b" means b's parent is a),
// starting and ending with the first member by name, and the subject is
// that member's parent attribute.
func cycleDiag(cfg *config.Config, members []string) *hcl.Diagnostic {
	// Reverse into parent→child order.
	n := len(members)
	order := make([]string, n)
	for i, m := range members {
		order[n-1-i] = m
	}
	// Rotate so the first name sorts first.
	first := 0
	for i, m := range order {
		if m < order[first] {
			first = i
		}
	}
	rot := append(append([]string{}, order[first:]...), order[:first]...)
	pathStr := strings.Join(append(rot, rot[0]), " → ")

	var where []string
	for _, m := range rot {
		l := cfg.Layers[m]
		where = append(where, fmt.Sprintf("%s (parent = layer.%s at %s)", m, l.Parent, rangeString(parentSubject(l))))
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  SummaryCycle,
		Detail: pathStr + "\n\nA layer is built from its parent's image, so no layer may be its own ancestor. " +
			"The cycle is made by: " + strings.Join(where, ", ") + ".",
		Subject: parentSubject(cfg.Layers[rot[0]]),
	}
}

// parentSubject is the range of a layer's parent attribute, or its block
// when the range is unknown (hand-built configs).
func parentSubject(l *config.Layer) *hcl.Range {
	r := l.ParentRange
	if r.Filename == "" && r.Start.Line == 0 {
		r = l.DeclRange
	}
	return &r
}

func rangeString(r *hcl.Range) string {
	if r == nil || r.Filename == "" {
		return "unknown location"
	}
	return fmt.Sprintf("%s:%d", r.Filename, r.Start.Line)
}

// unusedRecipes warns about recipes that no layer lists (healthy or not:
// a recipe listed by a broken layer is not unused).
func unusedRecipes(cfg *config.Config) hcl.Diagnostics {
	used := map[string]bool{}
	for _, l := range cfg.Layers {
		if l == nil {
			continue
		}
		for _, ref := range l.Recipes {
			if ref != nil {
				used[ref.Name] = true
			}
		}
	}
	names := make([]string, 0, len(cfg.Recipes))
	for name, r := range cfg.Recipes {
		if r != nil && !used[name] {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	var diags hcl.Diagnostics
	for _, name := range names {
		r := cfg.Recipes[name].DeclRange
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagWarning,
			Summary:  SummaryUnused,
			Detail:   fmt.Sprintf("No layer lists recipe %q in its recipes, so it is never built into an image.", name),
			Subject:  &r,
		})
	}
	return diags
}

// nameHeap is a min-heap of nodes by name.
type nameHeap []*Node

func (h nameHeap) Len() int           { return len(h) }
func (h nameHeap) Less(i, j int) bool { return h[i].Name() < h[j].Name() }
func (h nameHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *nameHeap) Push(x any)        { *h = append(*h, x.(*Node)) }
func (h *nameHeap) Pop() any {
	old := *h
	n := old[len(old)-1]
	*h = old[:len(old)-1]
	return n
}

// computeTopo is Kahn's algorithm taking the smallest name among the ready
// nodes each time.
func (g *Graph) computeTopo() []*Node {
	h := &nameHeap{}
	for _, n := range g.Nodes {
		if n.Parent == nil {
			*h = append(*h, n)
		}
	}
	heap.Init(h)
	out := make([]*Node, 0, len(g.Nodes))
	for h.Len() > 0 {
		n := heap.Pop(h).(*Node)
		out = append(out, n)
		for _, c := range n.Children {
			heap.Push(h, c)
		}
	}
	return out
}

// Topo returns every node with parents before children; among the nodes
// whose parent is already listed, the smallest name comes first, so the
// order is stable.
func (g *Graph) Topo() []*Node {
	if g.topo == nil && len(g.Nodes) > 0 {
		g.topo = g.computeTopo()
	}
	return append([]*Node(nil), g.topo...)
}

// Roots returns the layers built from an upstream source, sorted by name.
func (g *Graph) Roots() []*Node {
	var out []*Node
	for _, n := range g.Topo() {
		if n.Parent == nil {
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out
}

// Node returns the named node, or nil.
func (g *Graph) Node(name string) *Node { return g.Nodes[name] }

// Ancestors returns the named layer's ancestors, nearest (its parent)
// first; nil for a root or an unknown name.
func (g *Graph) Ancestors(name string) []*Node {
	n := g.Nodes[name]
	if n == nil {
		return nil
	}
	var out []*Node
	for p := n.Parent; p != nil; p = p.Parent {
		out = append(out, p)
	}
	return out
}

// Descendants returns every layer built (directly or not) on the named
// one, in Topo order; nil for a leaf or an unknown name.
func (g *Graph) Descendants(name string) []*Node {
	n := g.Nodes[name]
	if n == nil {
		return nil
	}
	in := map[*Node]bool{}
	var mark func(*Node)
	mark = func(x *Node) {
		for _, c := range x.Children {
			in[c] = true
			mark(c)
		}
	}
	mark(n)
	return g.filterTopo(in)
}

func (g *Graph) filterTopo(in map[*Node]bool) []*Node {
	if len(in) == 0 {
		return nil
	}
	out := make([]*Node, 0, len(in))
	for _, x := range g.Topo() {
		if in[x] {
			out = append(out, x)
		}
	}
	return out
}

// UnknownLayerError is returned by Select for a name that is not a layer of
// the graph.
type UnknownLayerError struct {
	Name       string
	Suggestion string // closest known name, or ""
}

func (e *UnknownLayerError) Error() string {
	if e.Suggestion != "" {
		return fmt.Sprintf("unknown layer %q; did you mean %q?", e.Name, e.Suggestion)
	}
	return fmt.Sprintf("unknown layer %q", e.Name)
}

// Select resolves LAYER arguments: the named layers, plus their
// descendants and/or ancestors when asked, once each, in Topo order. No
// names selects every layer. An unknown name is an *UnknownLayerError with
// a did-you-mean suggestion.
func (g *Graph) Select(names []string, withDescendants, withAncestors bool) ([]*Node, error) {
	if len(names) == 0 {
		return g.Topo(), nil
	}
	in := map[*Node]bool{}
	for _, name := range names {
		n := g.Nodes[name]
		if n == nil {
			return nil, &UnknownLayerError{Name: name, Suggestion: g.suggest(name)}
		}
		in[n] = true
		if withDescendants {
			for _, d := range g.Descendants(name) {
				in[d] = true
			}
		}
		if withAncestors {
			for _, a := range g.Ancestors(name) {
				in[a] = true
			}
		}
	}
	return g.filterTopo(in), nil
}

// suggest returns the known layer name closest to name, if it is close
// enough to be a likely typo.
func (g *Graph) suggest(name string) string {
	best, bestD := "", -1
	for _, n := range g.Topo() {
		d := levenshtein(name, n.Name())
		if bestD < 0 || d < bestD {
			best, bestD = n.Name(), d
		}
	}
	if bestD < 0 {
		return ""
	}
	limit := len([]rune(name))/3 + 1
	if limit > 3 {
		limit = 3
	}
	if bestD > limit && !strings.HasPrefix(best, name) {
		return ""
	}
	return best
}

func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// Levels groups the layers by depth: Levels()[0] are the roots, [1] their
// children, and so on; each level sorted by name. Every layer of a level
// can be built in parallel once the previous level is done.
func (g *Graph) Levels() [][]*Node {
	var levels [][]*Node
	for _, n := range g.Topo() {
		for len(levels) <= n.Depth {
			levels = append(levels, nil)
		}
		levels[n.Depth] = append(levels[n.Depth], n)
	}
	for _, l := range levels {
		sort.Slice(l, func(i, j int) bool { return l[i].Name() < l[j].Name() })
	}
	return levels
}

// CriticalPath is the longest root-to-leaf chain, root first: the chain of
// builds that bounds a bake's wall time when every layer costs the same.
// Among chains of equal length the one ending first in Topo order wins.
func (g *Graph) CriticalPath() []*Node {
	path, _ := g.CriticalPathBy(func(*Node) float64 { return 1 })
	return path
}

// CriticalPathBy is CriticalPath with a cost per layer (for example its
// last build duration); it also returns the path's total cost.
func (g *Graph) CriticalPathBy(cost func(*Node) float64) ([]*Node, float64) {
	topo := g.Topo()
	if len(topo) == 0 {
		return nil, 0
	}
	total := make(map[*Node]float64, len(topo))
	var end *Node
	for _, n := range topo {
		c := cost(n)
		if n.Parent != nil {
			c += total[n.Parent]
		}
		total[n] = c
		if end == nil || c > total[end] {
			end = n
		}
	}
	var path []*Node
	for n := end; n != nil; n = n.Parent {
		path = append(path, n)
	}
	for i, j := 0, len(path)-1; i < j; i, j = i+1, j-1 {
		path[i], path[j] = path[j], path[i]
	}
	return path, total[end]
}
