package graph

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/amibake/amibake/internal/graph"
)

func recipeNames(n *graph.Node) []string {
	var out []string
	for _, r := range n.Layer.Recipes {
		if r != nil {
			out = append(out, r.Name)
		}
	}
	return out
}

// selectedChildren are n's children that are in the selection, by name.
func selectedChildren(n *graph.Node, in map[*graph.Node]bool) []*graph.Node {
	var out []*graph.Node
	for _, c := range n.Children {
		if in[c] {
			out = append(out, c)
		}
	}
	return out
}

func selection(nodes []*graph.Node) map[*graph.Node]bool {
	in := make(map[*graph.Node]bool, len(nodes))
	for _, n := range nodes {
		in[n] = true
	}
	return in
}

// writeTree prints
//
//	linux (source: ssm:/aws/service/…)
//	└── foundation  [ssm_agent, cloudwatch_agent]
//	    └── base
//	        ├── app-web  [nginx_runtime]
//	        └── app-worker
func writeTree(w io.Writer, nodes []*graph.Node) error {
	bw := bufio.NewWriter(w)
	in := selection(nodes)
	var walk func(n *graph.Node, prefix string)
	walk = func(n *graph.Node, prefix string) {
		kids := selectedChildren(n, in)
		for i, c := range kids {
			branch, indent := "├── ", "│   "
			if i == len(kids)-1 {
				branch, indent = "└── ", "    "
			}
			fmt.Fprintf(bw, "%s%s%s\n", prefix, branch, treeLabel(c))
			walk(c, prefix+indent)
		}
	}
	for _, n := range nodes {
		if n.Parent != nil {
			continue
		}
		fmt.Fprintf(bw, "%s (source: %s)\n", treeLabel(n), graph.SourceSelector(n.Layer.Source))
		walk(n, "")
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write tree: %w", err)
	}
	return nil
}

func treeLabel(n *graph.Node) string {
	if rs := recipeNames(n); len(rs) > 0 {
		return n.Name() + "  [" + strings.Join(rs, ", ") + "]"
	}
	return n.Name()
}

// dotQuote quotes s as a Graphviz ID; "\n" stays Graphviz's line break.
func dotQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

func writeDot(w io.Writer, nodes []*graph.Node) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "digraph amibake {")
	fmt.Fprintln(bw, "  rankdir=TB;")
	fmt.Fprintln(bw, `  node [shape=box, fontname="Helvetica"];`)
	for _, n := range nodes {
		label := n.Name()
		if n.Parent == nil {
			label += "\nsource: " + graph.SourceSelector(n.Layer.Source)
		}
		if rs := recipeNames(n); len(rs) > 0 {
			label += "\n" + strings.Join(rs, ", ")
		}
		fmt.Fprintf(bw, "  %s [label=%s];\n", dotQuote(n.Name()), dotQuote(label))
	}
	in := selection(nodes)
	for _, n := range nodes {
		if n.Parent != nil && in[n.Parent] {
			fmt.Fprintf(bw, "  %s -> %s;\n", dotQuote(n.Parent.Name()), dotQuote(n.Name()))
		}
	}
	fmt.Fprintln(bw, "}")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write dot: %w", err)
	}
	return nil
}

var mermaidUnsafe = regexp.MustCompile(`[^A-Za-z0-9_]`)

// mermaidIDs gives every node an identifier Mermaid accepts: the name with
// other characters turned into "_", made unique with a numeric suffix.
func mermaidIDs(nodes []*graph.Node) map[*graph.Node]string {
	ids := make(map[*graph.Node]string, len(nodes))
	used := map[string]bool{}
	for _, n := range nodes {
		base := mermaidUnsafe.ReplaceAllString(n.Name(), "_")
		// Mermaid keywords and ids that start like them break the parser.
		switch strings.ToLower(base) {
		case "end", "graph", "subgraph", "style", "classdef", "class", "click", "linkstyle":
			base = "layer_" + base
		}
		id := base
		for i := 2; used[id]; i++ {
			id = base + "_" + strconv.Itoa(i)
		}
		used[id] = true
		ids[n] = id
	}
	return ids
}

// mermaidText escapes a label for a quoted Mermaid node label.
func mermaidText(s string) string {
	r := strings.NewReplacer(`"`, "#quot;", "<", "#lt;", ">", "#gt;", "\n", "<br/>")
	return r.Replace(s)
}

func writeMermaid(w io.Writer, nodes []*graph.Node) error {
	bw := bufio.NewWriter(w)
	ids := mermaidIDs(nodes)
	fmt.Fprintln(bw, "graph TD")
	for _, n := range nodes {
		label := mermaidText(n.Name())
		if n.Parent == nil {
			label += "<br/>" + mermaidText("source: "+graph.SourceSelector(n.Layer.Source))
		}
		if rs := recipeNames(n); len(rs) > 0 {
			label += "<br/>" + mermaidText(strings.Join(rs, ", "))
		}
		fmt.Fprintf(bw, "  %s[\"%s\"]\n", ids[n], label)
	}
	in := selection(nodes)
	for _, n := range nodes {
		if n.Parent != nil && in[n.Parent] {
			fmt.Fprintf(bw, "  %s --> %s\n", ids[n.Parent], ids[n])
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write mermaid: %w", err)
	}
	return nil
}

// JSONGraph is the --format json document.
type JSONGraph struct {
	Nodes []JSONNode `json:"nodes"`
	Edges []JSONEdge `json:"edges"`
}

// JSONNode is one layer.
type JSONNode struct {
	Name        string   `json:"name"`
	Parent      string   `json:"parent,omitempty"`
	Source      string   `json:"source,omitempty"` // roots only
	Depth       int      `json:"depth"`
	Recipes     []string `json:"recipes"`
	Fingerprint string   `json:"fingerprint"` // short form
}

// JSONEdge is a parent → child link.
type JSONEdge struct {
	From string `json:"from"`
	To   string `json:"to"`
}

func jsonGraph(nodes []*graph.Node, fps map[string]*graph.Fingerprint) JSONGraph {
	doc := JSONGraph{Nodes: []JSONNode{}, Edges: []JSONEdge{}}
	in := selection(nodes)
	for _, n := range nodes {
		jn := JSONNode{Name: n.Name(), Depth: n.Depth, Recipes: recipeNames(n)}
		if jn.Recipes == nil {
			jn.Recipes = []string{}
		}
		if n.Parent != nil {
			jn.Parent = n.Parent.Name()
		} else {
			jn.Source = graph.SourceSelector(n.Layer.Source)
		}
		if fp := fps[n.Name()]; fp != nil {
			jn.Fingerprint = fp.Short
		}
		doc.Nodes = append(doc.Nodes, jn)
		if n.Parent != nil && in[n.Parent] {
			doc.Edges = append(doc.Edges, JSONEdge{From: n.Parent.Name(), To: n.Name()})
		}
	}
	return doc
}
