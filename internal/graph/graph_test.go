package graph

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/config"
)

// The example tree plus a second root:
//
//	linux ── foundation ── base ─┬─ app-web
//	                             └─ app-worker
//	windows ── win-base
func exampleConfig() *config.Config {
	cfg := mkConfig(
		mkLayer("linux", ""),
		mkLayer("foundation", "linux"),
		mkLayer("base", "foundation"),
		mkLayer("app-web", "base"),
		mkLayer("app-worker", "base"),
		mkLayer("windows", ""),
		mkLayer("win-base", "windows"),
	)
	return cfg
}

func TestBuildExample(t *testing.T) {
	g, diags := Build(exampleConfig())
	require.False(t, diags.HasErrors(), diags.Error())
	assert.Len(t, g.Nodes, 7)

	assert.Equal(t, []string{"linux", "foundation", "base", "app-web", "app-worker", "windows", "win-base"}, names(g.Topo()))
	assert.Equal(t, []string{"linux", "windows"}, names(g.Roots()))
	assert.Equal(t, []string{"base", "foundation", "linux"}, names(g.Ancestors("app-web")))
	assert.Nil(t, g.Ancestors("linux"))
	assert.Nil(t, g.Ancestors("nope"))
	assert.Equal(t, []string{"base", "app-web", "app-worker"}, names(g.Descendants("foundation")))
	assert.Nil(t, g.Descendants("app-web"))

	base := g.Node("base")
	require.NotNil(t, base)
	assert.Equal(t, 2, base.Depth)
	assert.Equal(t, "foundation", base.Parent.Name())
	assert.Equal(t, []string{"app-web", "app-worker"}, names(base.Children))
	assert.Nil(t, g.Node("nope"))

	levels := g.Levels()
	require.Len(t, levels, 4)
	assert.Equal(t, []string{"linux", "windows"}, names(levels[0]))
	assert.Equal(t, []string{"foundation", "win-base"}, names(levels[1]))
	assert.Equal(t, []string{"base"}, names(levels[2]))
	assert.Equal(t, []string{"app-web", "app-worker"}, names(levels[3]))

	assert.Equal(t, []string{"linux", "foundation", "base", "app-web"}, names(g.CriticalPath()))
	path, cost := g.CriticalPathBy(func(n *Node) float64 {
		if n.Name() == "win-base" {
			return 100
		}
		return 1
	})
	assert.Equal(t, []string{"windows", "win-base"}, names(path))
	assert.InDelta(t, 101, cost, 0.001)
}

func TestBuildDeterministic(t *testing.T) {
	want := names(mustBuild(t, exampleConfig()).Topo())
	for i := 0; i < 50; i++ {
		assert.Equal(t, want, names(mustBuild(t, exampleConfig()).Topo()))
	}
}

func mustBuild(t *testing.T, cfg *config.Config) *Graph {
	t.Helper()
	g, diags := Build(cfg)
	require.False(t, diags.HasErrors(), diags.Error())
	return g
}

func TestTopoTiesByName(t *testing.T) {
	// b-root's child a-child becomes ready after a-root; names decide ties
	// among ready nodes only.
	g := mustBuild(t, mkConfig(
		mkLayer("b-root", ""),
		mkLayer("a-root", ""),
		mkLayer("c", "a-root"),
		mkLayer("a-child", "b-root"),
	))
	assert.Equal(t, []string{"a-root", "b-root", "a-child", "c"}, names(g.Topo()))
}

func TestSelect(t *testing.T) {
	g := mustBuild(t, exampleConfig())

	all, err := g.Select(nil, false, false)
	require.NoError(t, err)
	assert.Len(t, all, 7)

	sel, err := g.Select([]string{"base"}, false, false)
	require.NoError(t, err)
	assert.Equal(t, []string{"base"}, names(sel))

	sel, err = g.Select([]string{"base"}, true, true)
	require.NoError(t, err)
	assert.Equal(t, []string{"linux", "foundation", "base", "app-web", "app-worker"}, names(sel))

	sel, err = g.Select([]string{"app-web", "foundation", "app-web"}, false, true)
	require.NoError(t, err)
	assert.Equal(t, []string{"linux", "foundation", "base", "app-web"}, names(sel))

	_, err = g.Select([]string{"fundation"}, false, false)
	var ue *UnknownLayerError
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, "foundation", ue.Suggestion)
	assert.EqualError(t, err, `unknown layer "fundation"; did you mean "foundation"?`)

	_, err = g.Select([]string{"zzzzzzzz"}, false, false)
	assert.EqualError(t, err, `unknown layer "zzzzzzzz"`)
}

type diagLine struct {
	sev     hcl.DiagnosticSeverity
	summary string
	file    string
	line    int
}

func lines(diags hcl.Diagnostics) []diagLine {
	var out []diagLine
	for _, d := range diags {
		dl := diagLine{sev: d.Severity, summary: d.Summary}
		if d.Subject != nil {
			dl.file, dl.line = d.Subject.Filename, d.Subject.Start.Line
		}
		out = append(out, dl)
	}
	return out
}

func TestBuildCycles(t *testing.T) {
	tests := []struct {
		name      string
		layers    []*config.Layer
		wantDiags []diagLine
		wantPath  []string // cycle path of the first diagnostic
		wantNodes []string
	}{
		{
			name:      "self parent",
			layers:    []*config.Layer{mkLayer("linux", ""), mkLayer("loop", "loop")},
			wantDiags: []diagLine{{hcl.DiagError, SummaryCycle, "layers/loop.hcl", 2}},
			wantPath:  []string{"loop → loop"},
			wantNodes: []string{"linux"},
		},
		{
			name:      "two cycle",
			layers:    []*config.Layer{mkLayer("linux", ""), mkLayer("b", "a"), mkLayer("a", "b")},
			wantDiags: []diagLine{{hcl.DiagError, SummaryCycle, "layers/a.hcl", 2}},
			wantPath:  []string{"a → b → a"},
			wantNodes: []string{"linux"},
		},
		{
			name: "three cycle",
			// linux.parent = base closes linux → foundation → base → linux.
			layers: []*config.Layer{
				mkLayer("linux", "base"), mkLayer("foundation", "linux"), mkLayer("base", "foundation"),
				mkLayer("other", ""),
			},
			wantDiags: []diagLine{{hcl.DiagError, SummaryCycle, "layers/base.hcl", 2}},
			wantPath:  []string{"base → linux → foundation → base"},
			wantNodes: []string{"other"},
		},
		{
			name: "descendants of a cycle are unreachable",
			layers: []*config.Layer{
				mkLayer("root", ""), mkLayer("x", "y"), mkLayer("y", "x"),
				mkLayer("app", "x"), mkLayer("zapp", "app"), mkLayer("aa", "app"),
			},
			wantDiags: []diagLine{
				{hcl.DiagError, SummaryCycle, "layers/x.hcl", 2},
				{hcl.DiagError, SummaryUnreachable, "layers/aa.hcl", 2},
				{hcl.DiagError, SummaryUnreachable, "layers/app.hcl", 2},
				{hcl.DiagError, SummaryUnreachable, "layers/zapp.hcl", 2},
			},
			wantPath:  []string{"x → y → x"},
			wantNodes: []string{"root"},
		},
		{
			name: "two cycles",
			layers: []*config.Layer{
				mkLayer("d", "c"), mkLayer("c", "d"), mkLayer("b", "a"), mkLayer("a", "b"),
			},
			wantDiags: []diagLine{
				{hcl.DiagError, SummaryCycle, "layers/a.hcl", 2},
				{hcl.DiagError, SummaryCycle, "layers/c.hcl", 2},
			},
			wantPath: []string{"a → b → a", "c → d → c"},
		},
		{
			name: "unknown parent: edge dropped, descendants unreachable",
			layers: []*config.Layer{
				mkLayer("root", ""), mkLayer("orphan", "nope"), mkLayer("kid", "orphan"), mkLayer("grandkid", "kid"),
			},
			// config.Load reports the unknown parent itself.
			wantDiags: []diagLine{
				{hcl.DiagError, SummaryUnreachable, "layers/grandkid.hcl", 2},
				{hcl.DiagError, SummaryUnreachable, "layers/kid.hcl", 2},
			},
			wantNodes: []string{"root"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, diags := Build(mkConfig(tt.layers...))
			require.NotNil(t, g)
			assert.Equal(t, tt.wantDiags, lines(diags))
			for i, p := range tt.wantPath {
				assert.Contains(t, diags[i].Detail, p)
				assert.Regexp(t, "^"+p+"\n", diags[i].Detail)
			}
			var got []string
			for _, n := range g.Topo() {
				got = append(got, n.Name())
			}
			assert.Equal(t, tt.wantNodes, got)
		})
	}
}

func TestBuildUnreachableDetail(t *testing.T) {
	_, diags := Build(mkConfig(mkLayer("x", "x"), mkLayer("app", "x"), mkLayer("web", "app"),
		mkLayer("o", "missing"), mkLayer("ok", "o")))
	details := map[string]string{}
	for _, d := range diags {
		if d.Summary == SummaryUnreachable {
			details[d.Subject.Filename] = d.Detail
		}
	}
	assert.Contains(t, details["layers/app.hcl"], `"x" is in a dependency cycle`)
	assert.Contains(t, details["layers/web.hcl"], `"x" is in a dependency cycle`)
	assert.Contains(t, details["layers/ok.hcl"], `the parent of "o", "missing", is not declared`)
}

func TestBuildUnusedRecipes(t *testing.T) {
	cfg := mkConfig(mkLayer("linux", "", "used"), mkLayer("broken", "broken", "used_by_broken"))
	for _, name := range []string{"used", "used_by_broken", "zeta", "alpha"} {
		cfg.Recipes[name] = &config.Recipe{Name: name, Version: "1.0.0", DeclRange: rng("recipes/"+name+"/recipe.hcl", 1)}
	}
	_, diags := Build(cfg)
	assert.Equal(t, []diagLine{
		{hcl.DiagError, SummaryCycle, "layers/broken.hcl", 2},
		{hcl.DiagWarning, SummaryUnused, "recipes/alpha/recipe.hcl", 1},
		{hcl.DiagWarning, SummaryUnused, "recipes/zeta/recipe.hcl", 1},
	}, lines(diags))
}

func TestBuildNeverPanics(t *testing.T) {
	_, diags := Build(nil)
	assert.Empty(t, diags)
	cfg := mkConfig(mkLayer("a", ""))
	cfg.Layers["nil"] = nil
	cfg.Layers["b"] = &config.Layer{Name: "b", Parent: "a", Recipes: []*config.RecipeRef{nil}}
	cfg.Recipes["r"] = nil
	g, diags := Build(cfg)
	assert.False(t, diags.HasErrors())
	assert.Equal(t, []string{"a", "b"}, names(g.Topo()))
	// A layer without a parent range falls back to its block's range.
	cfg = mkConfig(&config.Layer{Name: "s", Parent: "s", DeclRange: rng("layers/s.hcl", 7)})
	_, diags = Build(cfg)
	require.Len(t, diags, 1)
	assert.Equal(t, 7, diags[0].Subject.Start.Line)
}

func TestBuildLarge(t *testing.T) {
	cfg := syntheticConfig(500, 0)
	g := mustBuild(t, cfg)
	topo := g.Topo()
	require.Len(t, topo, 500)
	seen := map[string]bool{}
	for _, n := range topo {
		if n.Parent != nil {
			require.True(t, seen[n.Parent.Name()], "parent of %s after it", n.Name())
		}
		seen[n.Name()] = true
	}
}

func TestUpstreamError(t *testing.T) {
	err := fmt.Errorf("wrap: %w", &UpstreamError{Failed: "base"})
	assert.True(t, errors.Is(err, ErrUpstreamFailed))
	var ue *UpstreamError
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, "base", ue.Failed)
}

// Random parent assignments: Build never panics, every node in the graph
// reaches a root, and every layer left out is accounted for (in a cycle,
// unreachable, or with an undeclared parent that config.Load reports).
func TestBuildRandom(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for iter := 0; iter < 300; iter++ {
		n := 1 + rnd.IntN(25)
		var layers []*config.Layer
		for i := 0; i < n; i++ {
			parent := ""
			switch r := rnd.IntN(10); {
			case r == 0:
				parent = "undeclared"
			case r < 3:
				// root
			default:
				parent = fmt.Sprintf("l%02d", rnd.IntN(n))
			}
			layers = append(layers, mkLayer(fmt.Sprintf("l%02d", i), parent))
		}
		cfg := mkConfig(layers...)
		g, diags := Build(cfg)
		reported := map[string]bool{}
		for _, d := range diags {
			reported[strings.TrimSuffix(strings.TrimPrefix(d.Subject.Filename, "layers/"), ".hcl")] = true
			if d.Summary == SummaryCycle {
				// every member of the cycle is excluded
				for _, m := range strings.Split(strings.SplitN(d.Detail, "\n", 2)[0], " → ") {
					reported[m] = true
					require.Nil(t, g.Node(m))
				}
			}
		}
		topo := g.Topo()
		require.Len(t, topo, len(g.Nodes))
		pos := map[string]int{}
		for i, node := range topo {
			pos[node.Name()] = i
		}
		for name, l := range cfg.Layers {
			node := g.Node(name)
			if node == nil {
				require.True(t, reported[name] || l.Parent == "undeclared", "layer %s dropped silently", name)
				continue
			}
			if node.Parent != nil {
				require.Less(t, pos[node.Parent.Name()], pos[name])
				require.Equal(t, node.Parent.Depth+1, node.Depth)
			}
			anc := g.Ancestors(name)
			if len(anc) > 0 {
				require.Nil(t, anc[len(anc)-1].Parent, "ancestry of %s does not end at a root", name)
			}
		}
	}
}
