package graph

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/iostreams"
	"github.com/amibake/amibake/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func newFactory(output string) (*cmdutil.Factory, *bytes.Buffer, *bytes.Buffer) {
	ios, _, out, errOut := iostreams.Test()
	return &cmdutil.Factory{
		IOStreams: ios,
		Output:    output,
		WorkDir:   ".",
		Now:       func() time.Time { return time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) },
	}, out, errOut
}

// run parses args as `amibake graph ARGS` with the command built by NewCmdGraph.
func run(f *cmdutil.Factory, runF func(*GraphOptions) error, args ...string) error {
	app := &cli.App{
		Name:           "amibake",
		Writer:         f.IOStreams.Out,
		ErrWriter:      f.IOStreams.ErrOut,
		ExitErrHandler: func(*cli.Context, error) {},
		Commands:       []*cli.Command{NewCmdGraph(f, runF)},
	}
	return app.Run(append([]string{"amibake", "graph"}, args...))
}

func TestNewCmdGraph(t *testing.T) {
	tests := []struct {
		name    string
		output  string
		args    []string
		want    GraphOptions
		wantErr string
	}{
		{name: "defaults", want: GraphOptions{Format: FormatTree, Layers: []string{}}},
		{name: "format and layers", args: []string{"--format", "dot", "base", "app-web"}, want: GraphOptions{Format: FormatDot, Layers: []string{"base", "app-web"}}},
		{name: "mermaid short flag", args: []string{"-f", "mermaid"}, want: GraphOptions{Format: FormatMermaid, Layers: []string{}}},
		{name: "output json implies json", output: cmdutil.OutputJSON, want: GraphOptions{Format: FormatJSON, Layers: []string{}}},
		{name: "output json and format json", output: cmdutil.OutputJSON, args: []string{"--format", "json"}, want: GraphOptions{Format: FormatJSON, Layers: []string{}}},
		{name: "output json conflicts", output: cmdutil.OutputJSON, args: []string{"--format", "dot"}, wantErr: "--output json prints JSON; it cannot be combined with --format dot"},
		{name: "bad format", args: []string{"--format", "svg"}, wantErr: `invalid --format "svg": want one of tree, dot, mermaid, json`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			output := tt.output
			if output == "" {
				output = cmdutil.OutputText
			}
			f, _, _ := newFactory(output)
			var got *GraphOptions
			err := run(f, func(o *GraphOptions) error { got = o; return nil }, tt.args...)
			if tt.wantErr != "" {
				var fe *cmdutil.FlagError
				require.ErrorAs(t, err, &fe)
				assert.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.NotNil(t, got)
			assert.Equal(t, tt.want.Format, got.Format)
			assert.Equal(t, tt.want.Layers, got.Layers)
			assert.NotNil(t, got.LoadConfig)
			assert.Same(t, f.IOStreams, got.IO)
		})
	}
}

// exampleConfig is the example project, as config.Load decodes it, plus a
// second root with a filter source and a layer name Mermaid must escape.
func exampleConfig() *config.Config {
	cfg := &config.Config{
		Dir:     "testdata",
		Project: &config.Project{Name: "acme-golden", Provisioner: "ssm"},
		Layers:  map[string]*config.Layer{},
		Recipes: map[string]*config.Recipe{},
	}
	add := func(name, parent string, src *config.Source, recipes ...string) {
		l := &config.Layer{
			Name: name, Parent: parent, Source: src,
			Volume: config.Volume{SizeGiB: 8, Type: "gp3", Encrypted: true}, IMDSv2Required: true,
			DeclRange: hcl.Range{Filename: "layers/" + name + ".hcl", Start: hcl.Pos{Line: 1, Column: 1}},
		}
		if parent != "" {
			l.ParentRange = hcl.Range{Filename: "layers/" + name + ".hcl", Start: hcl.Pos{Line: 2, Column: 3}}
		}
		for _, r := range recipes {
			l.Recipes = append(l.Recipes, &config.RecipeRef{Name: r})
			cfg.Recipes[r] = &config.Recipe{Name: r, Version: "1.0.0", Dir: "recipes/" + r}
		}
		cfg.Layers[name] = l
	}
	add("linux", "", &config.Source{SSMParameter: "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"})
	add("foundation", "linux", nil, "ssm_agent", "cloudwatch_agent")
	add("base", "foundation", nil, "internal_ca")
	add("app-web", "base", nil, "nginx_runtime")
	add("app-worker", "base", nil, "python_runtime", "worker_runtime")
	add("ubuntu", "", &config.Source{Owners: []string{"099720109477"}, NameFilter: `ubuntu/images/*-24.04-"amd64"-*`, Architecture: "x86_64"})
	add("end", "ubuntu", nil)
	return cfg
}

func loaded(cfg *config.Config, diags hcl.Diagnostics) func() (*config.Config, hcl.Diagnostics) {
	return func() (*config.Config, hcl.Diagnostics) { return cfg, diags }
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	testutil.Golden(t, filepath.Join("testdata", name+".golden"), got, *update)
}

func TestGraphRunGolden(t *testing.T) {
	for _, format := range formats {
		for _, sel := range []struct {
			name   string
			layers []string
		}{{"all", nil}, {"base", []string{"base"}}} {
			t.Run(format+"_"+sel.name, func(t *testing.T) {
				f, out, errOut := newFactory(cmdutil.OutputText)
				err := graphRun(&GraphOptions{IO: f.IOStreams, LoadConfig: loaded(exampleConfig(), nil), Format: format, Layers: sel.layers})
				require.NoError(t, err)
				assert.Empty(t, errOut.String())
				golden(t, format+"_"+sel.name, out.Bytes())
			})
		}
	}
}

func TestGraphRunErrors(t *testing.T) {
	t.Run("cycle", func(t *testing.T) {
		cfg := exampleConfig()
		cfg.Layers["linux"].Parent = "base"
		f, out, errOut := newFactory(cmdutil.OutputText)
		err := graphRun(&GraphOptions{IO: f.IOStreams, LoadConfig: loaded(cfg, nil), Format: FormatTree})
		assert.ErrorIs(t, err, cmdutil.ErrSilent)
		assert.Empty(t, out.String())
		assert.Contains(t, errOut.String(), "Error: Layer dependency cycle")
		assert.Contains(t, errOut.String(), "base → linux → foundation → base")
	})
	t.Run("load errors stop before the graph", func(t *testing.T) {
		f, out, errOut := newFactory(cmdutil.OutputText)
		diags := hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Unsupported argument"}}
		err := graphRun(&GraphOptions{IO: f.IOStreams, LoadConfig: loaded(nil, diags), Format: FormatTree})
		assert.ErrorIs(t, err, cmdutil.ErrSilent)
		assert.Empty(t, out.String())
		assert.Contains(t, errOut.String(), "Unsupported argument")
	})
	t.Run("warnings are printed, output still written", func(t *testing.T) {
		cfg := exampleConfig()
		cfg.Recipes["lonely"] = &config.Recipe{Name: "lonely", Version: "1.0.0"}
		f, out, errOut := newFactory(cmdutil.OutputText)
		err := graphRun(&GraphOptions{IO: f.IOStreams, LoadConfig: loaded(cfg, nil), Format: FormatTree})
		require.NoError(t, err)
		assert.Contains(t, out.String(), "linux (source:")
		assert.Contains(t, errOut.String(), "Warning: Unused recipe")
	})
	t.Run("unknown layer", func(t *testing.T) {
		f, _, _ := newFactory(cmdutil.OutputText)
		err := graphRun(&GraphOptions{IO: f.IOStreams, LoadConfig: loaded(exampleConfig(), nil), Format: FormatTree, Layers: []string{"app-wbe"}})
		var fe *cmdutil.FlagError
		require.ErrorAs(t, err, &fe)
		assert.EqualError(t, err, `unknown layer "app-wbe"; did you mean "app-web"?`)
	})
	t.Run("json with a missing recipe file", func(t *testing.T) {
		cfg := exampleConfig()
		cfg.Recipes["internal_ca"].Steps = []*config.Step{{Kind: config.StepScript, Path: "missing.sh"}}
		f, out, errOut := newFactory(cmdutil.OutputText)
		err := graphRun(&GraphOptions{IO: f.IOStreams, LoadConfig: loaded(cfg, nil), Format: FormatJSON})
		assert.ErrorIs(t, err, cmdutil.ErrSilent)
		assert.Empty(t, out.String())
		assert.Contains(t, errOut.String(), "Cannot read recipe file")
	})
}

// The dot output is a valid Graphviz digraph: every line is one of the
// statements we write, with balanced quoting; and when Graphviz is
// installed, `dot` itself accepts it.
func TestDotIsValid(t *testing.T) {
	f, out, _ := newFactory(cmdutil.OutputText)
	require.NoError(t, graphRun(&GraphOptions{IO: f.IOStreams, LoadConfig: loaded(exampleConfig(), nil), Format: FormatDot}))
	id := `"(?:[^"\\]|\\.)*"`
	stmt := regexp.MustCompile(`^(digraph amibake \{|  rankdir=TB;|  node \[shape=box, fontname="Helvetica"\];|  ` + id + ` \[label=` + id + `\];|  ` + id + ` -> ` + id + `;|\})$`)
	for _, line := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		assert.Regexp(t, stmt, line)
	}
	dot, err := exec.LookPath("dot")
	if err != nil {
		t.Log("graphviz not installed: structural check only")
		return
	}
	cmd := exec.Command(dot, "-Tsvg")
	cmd.Stdin = bytes.NewReader(out.Bytes())
	svg, err := cmd.CombinedOutput()
	require.NoError(t, err, string(svg))
	assert.Contains(t, string(svg), "<svg")
}

func TestMermaidIsWellFormed(t *testing.T) {
	cfg := exampleConfig()
	// Names that collide once sanitized still get distinct ids.
	cfg.Layers["app_web"] = &config.Layer{Name: "app_web", Parent: "base"}
	f, out, _ := newFactory(cmdutil.OutputText)
	require.NoError(t, graphRun(&GraphOptions{IO: f.IOStreams, LoadConfig: loaded(cfg, nil), Format: FormatMermaid}))
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	require.Equal(t, "graph TD", lines[0])
	node := regexp.MustCompile(`^  ([A-Za-z0-9_]+)\["[^"]*"\]$`)
	edge := regexp.MustCompile(`^  ([A-Za-z0-9_]+) --> ([A-Za-z0-9_]+)$`)
	ids := map[string]bool{}
	edges := 0
	for _, l := range lines[1:] {
		if m := node.FindStringSubmatch(l); m != nil {
			assert.False(t, ids[m[1]], "duplicate id %s", m[1])
			ids[m[1]] = true
			continue
		}
		m := edge.FindStringSubmatch(l)
		require.NotNil(t, m, "not a node or an edge: %q", l)
		assert.True(t, ids[m[1]] && ids[m[2]], "edge between undeclared ids: %q", l)
		edges++
	}
	assert.Len(t, ids, 8)
	assert.Equal(t, 6, edges)
}

// End to end through NewCmdGraph's own loader (config.Load on
// testdata/project, the HCL form of exampleConfig): the same output as
// the golden files.
func TestGraphCommandLoadsProject(t *testing.T) {
	for _, format := range formats {
		t.Run(format, func(t *testing.T) {
			f, out, errOut := newFactory(cmdutil.OutputText)
			f.WorkDir = filepath.Join("testdata", "project")
			require.NoError(t, run(f, nil, "--format", format))
			assert.Empty(t, errOut.String())
			want, err := os.ReadFile(filepath.Join("testdata", format+"_all.golden"))
			require.NoError(t, err)
			assert.Equal(t, string(want), out.String())
		})
	}
	t.Run("output json and a selection", func(t *testing.T) {
		f, out, _ := newFactory(cmdutil.OutputJSON)
		f.WorkDir = filepath.Join("testdata", "project")
		require.NoError(t, run(f, nil, "base"))
		want, err := os.ReadFile(filepath.Join("testdata", "json_base.golden"))
		require.NoError(t, err)
		assert.Equal(t, string(want), out.String())
	})
	t.Run("var flags are accepted", func(t *testing.T) {
		f, _, errOut := newFactory(cmdutil.OutputText)
		f.WorkDir = filepath.Join("testdata", "project")
		err := run(f, nil, "-var", "nope=1")
		// An undeclared variable is config.Load's error, printed as a diagnostic.
		assert.ErrorIs(t, err, cmdutil.ErrSilent)
		assert.Contains(t, errOut.String(), "nope")
	})
}
