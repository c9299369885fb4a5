package cmdutil

import (
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/iostreams"
)

func rng(file string, l1, c1, l2, c2 int) *hcl.Range {
	return &hcl.Range{Filename: file, Start: hcl.Pos{Line: l1, Column: c1}, End: hcl.Pos{Line: l2, Column: c2}}
}

func TestPrintDiagnostics(t *testing.T) {
	ios, _, _, errOut := iostreams.Test()
	sources := map[string][]byte{"a.hcl": []byte("layer \"x\" {\r\n\tparent = layer.y\r\n  recipes = [\n    recipe.z,\n  ]\n}\n")}
	diags := hcl.Diagnostics{
		{Severity: hcl.DiagError, Summary: "Reference to undeclared layer", Detail: "Did you mean \"x\"?", Subject: rng("a.hcl", 2, 11, 2, 18)},
		{Severity: hcl.DiagWarning, Summary: "Multi-line", Subject: rng("a.hcl", 3, 13, 5, 4)},
		{Severity: hcl.DiagError, Summary: "No source", Detail: "Detail only.", Subject: rng("<value for var.x>", 1, 1, 1, 2)},
		{Severity: hcl.DiagError, Summary: "No range"},
	}
	require.NoError(t, PrintDiagnostics(ios, sources, diags))
	assert.Equal(t, "Error: Reference to undeclared layer\n"+
		"  --> a.hcl:2:11\n"+
		"   |\n"+
		" 2 | \tparent = layer.y\n"+
		"   | \t         ^^^^^^^\n"+
		"Did you mean \"x\"?\n\n"+
		"Warning: Multi-line\n"+
		"  --> a.hcl:3:13\n"+
		"   |\n"+
		" 3 |   recipes = [\n"+
		"   |             ^\n\n"+
		"Error: No source\n"+
		"  --> <value for var.x>:1:1\n"+
		"Detail only.\n\n"+
		"Error: No range\n\n", errOut.String())
}
