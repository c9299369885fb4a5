package config

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// decodeLocalsBlock returns the attributes of one `locals {}` block,
// unevaluated and in source order. Several blocks may exist; names must
// be unique across all of them.
func decodeLocalsBlock(block *hcl.Block) ([]*Local, hcl.Diagnostics) {
	attrs, diags := block.Body.JustAttributes()
	out := make([]*Local, 0, len(attrs))
	for _, attr := range attrs {
		out = append(out, &Local{Name: attr.Name, Expr: attr.Expr, DeclRange: attr.Range})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].DeclRange.Start.Byte < out[j].DeclRange.Start.Byte })
	return out, diags
}

// localEval evaluates locals in dependency order: each one after the
// locals it refers to, whatever order they were written in.
type localEval struct {
	ld      *loader
	sc      *scope
	state   map[string]int // 0 new, 1 evaluating, 2 done
	values  map[string]cty.Value
	tainted map[string]bool // the value depends on timestamp()
	diags   hcl.Diagnostics
}

// evaluateLocals sets Value on every local and returns the "uses
// timestamp()" set used by the fingerprint-stability warning.
func (ld *loader) evaluateLocals(sc *scope) (map[string]bool, hcl.Diagnostics) {
	le := &localEval{
		ld:      ld,
		sc:      sc,
		state:   map[string]int{},
		values:  map[string]cty.Value{},
		tainted: map[string]bool{},
	}
	for _, name := range keys(ld.cfg.Locals) {
		le.eval(name, nil)
	}
	return le.tainted, le.diags
}

func (le *localEval) eval(name string, stack []string) cty.Value {
	l := le.ld.cfg.Locals[name]
	switch le.state[name] {
	case 2:
		return le.values[name]
	case 1:
		i := 0
		for i < len(stack) && stack[i] != name {
			i++
		}
		path := make([]string, 0, len(stack)-i+1)
		for _, n := range append(stack[i:], name) {
			path = append(path, "local."+n)
		}
		le.diags = append(le.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Cycle in local values",
			Detail:   fmt.Sprintf("These local values refer to each other in a loop: %s. A local value cannot depend on itself.", strings.Join(path, " → ")),
			Subject:  l.DeclRange.Ptr(),
		})
		// Every member of the cycle becomes unknown, reported once.
		for _, n := range stack[i:] {
			le.state[n] = 2
			le.values[n] = cty.DynamicVal
		}
		return cty.DynamicVal
	}
	le.state[name] = 1
	stack = append(stack, name)
	tainted := len(timestampCalls(l.Expr)) > 0
	for _, t := range l.Expr.Variables() {
		if t.RootName() != "local" {
			continue
		}
		dep, ok := traversalName(t)
		if !ok || le.ld.cfg.Locals[dep] == nil {
			continue // reported by checkRefs below
		}
		le.eval(dep, stack)
		tainted = tainted || le.tainted[dep]
	}
	if le.state[name] == 2 { // closed a cycle while visiting deps
		return le.values[name]
	}

	sc := *le.sc
	sc.ctx = le.sc.ctx.NewChild()
	sc.ctx.Variables = map[string]cty.Value{"local": cty.ObjectVal(le.values)}
	v, diags := sc.value(l.Expr)
	le.diags = append(le.diags, diags...)
	if diags.HasErrors() {
		v = cty.DynamicVal
	}
	l.Value = v
	le.values[name] = v
	le.tainted[name] = tainted
	le.state[name] = 2
	return v
}

// timestampCalls returns the ranges of timestamp() calls in expr.
func timestampCalls(expr hcl.Expression) []hcl.Range {
	node, ok := expr.(hclsyntax.Node)
	if !ok {
		return nil
	}
	return timestampCallsIn(node)
}

func timestampCallsIn(node hclsyntax.Node) []hcl.Range {
	var out []hcl.Range
	hclsyntax.VisitAll(node, func(n hclsyntax.Node) hcl.Diagnostics {
		if call, ok := n.(*hclsyntax.FunctionCallExpr); ok && call.Name == "timestamp" {
			out = append(out, call.Range())
		}
		return nil
	})
	return out
}
