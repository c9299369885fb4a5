package config

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// blockKinds are the roots of references to named blocks, and what they
// are called in messages.
var blockKinds = map[string]string{
	"layer":          "layer",
	"recipe":         "recipe",
	"patch_baseline": "patch baseline",
	"fleet":          "fleet",
}

// blockRef decodes an expression that must be a bare reference KIND.NAME
// (parent = layer.linux). It is a traversal, never evaluated: the name is
// resolved later against the blocks of the whole project. form shows where
// the reference goes, with %s for it ("parent = %s").
func blockRef(expr hcl.Expression, kind, form string) (string, hcl.Diagnostics) {
	what := blockKinds[kind]
	bad := func(detail string) (string, hcl.Diagnostics) {
		return "", hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid " + what + " reference",
			Detail:   detail,
			Subject:  expr.Range().Ptr(),
		}}
	}
	example := fmt.Sprintf(form, kind+".NAME")

	t, diags := hcl.AbsTraversalForExpr(expr)
	if diags.HasErrors() {
		// A quoted name is the most common mistake: show the fix with it.
		if v, d := expr.Value(nil); !d.HasErrors() && v.Type() == cty.String && v.IsKnown() && !v.IsNull() {
			return bad(fmt.Sprintf("This takes a reference to a %s, not a string: write %s, without quotes.",
				what, fmt.Sprintf(form, kind+"."+v.AsString())))
		}
		return bad(fmt.Sprintf("This takes a reference to a %s, like %s.", what, example))
	}
	root := t.RootName()
	if root != kind {
		if other, ok := blockKinds[root]; ok {
			return bad(fmt.Sprintf("%s refers to a %s, but a %s is expected here, like %s.",
				traversalString(t), other, what, example))
		}
		return bad(fmt.Sprintf("This takes a reference to a %s, like %s.", what, example))
	}
	name, ok := traversalName(t)
	if !ok || len(t) != 2 {
		return bad(fmt.Sprintf("A %s reference is just %s.NAME, with nothing after the name, like %s.", what, kind, example))
	}
	return name, nil
}

// traversalString renders a traversal back to source form for messages.
func traversalString(t hcl.Traversal) string {
	s := ""
	for _, step := range t {
		switch st := step.(type) {
		case hcl.TraverseRoot:
			s += st.Name
		case hcl.TraverseAttr:
			s += "." + st.Name
		case hcl.TraverseIndex:
			if st.Key.Type() == cty.String {
				s += fmt.Sprintf("[%q]", st.Key.AsString())
			} else {
				s += "[…]"
			}
		default:
			s += "…"
		}
	}
	return s
}

// undeclared reports a reference to a block that does not exist, with a
// suggestion when a declared name is close.
func undeclared(kind, name string, declared []string, where string, subject hcl.Range) *hcl.Diagnostic {
	what := blockKinds[kind]
	detail := fmt.Sprintf("There is no %s named %q.", what, name)
	if s := didYouMean(name, declared); s != "" {
		detail += fmt.Sprintf(" Did you mean %q?", s)
	} else {
		detail += " " + where
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Reference to undeclared " + what,
		Detail:   detail,
		Subject:  subject.Ptr(),
	}
}
