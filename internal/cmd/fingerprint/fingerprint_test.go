package fingerprint

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/urfave/cli/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/graph"
	"github.com/amibake/amibake/internal/iostreams"
	"github.com/amibake/amibake/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func newFactory(output string) (*cmdutil.Factory, *bytes.Buffer, *bytes.Buffer) {
	ios, _, out, errOut := iostreams.Test()
	return &cmdutil.Factory{
		IOStreams: ios,
		Output:    output,
		WorkDir:   "testdata/project",
		Now:       func() time.Time { return time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) },
	}, out, errOut
}

func run(f *cmdutil.Factory, runF func(*FingerprintOptions) error, args ...string) error {
	app := &cli.App{
		Name:           "amibake",
		Writer:         f.IOStreams.Out,
		ErrWriter:      f.IOStreams.ErrOut,
		ExitErrHandler: func(*cli.Context, error) {},
		Commands:       []*cli.Command{NewCmdFingerprint(f, runF)},
	}
	return app.Run(append([]string{"amibake", "fingerprint"}, args...))
}

func TestNewCmdFingerprint(t *testing.T) {
	tests := []struct {
		name   string
		output string
		args   []string
		want   FingerprintOptions
	}{
		{name: "defaults", output: cmdutil.OutputText, want: FingerprintOptions{Layers: []string{}}},
		{name: "explain and layers", output: cmdutil.OutputText, args: []string{"--explain", "base", "app"},
			want: FingerprintOptions{Explain: true, Layers: []string{"base", "app"}}},
		{name: "json", output: cmdutil.OutputJSON, want: FingerprintOptions{JSON: true, Layers: []string{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, _, _ := newFactory(tt.output)
			var got *FingerprintOptions
			require.NoError(t, run(f, func(o *FingerprintOptions) error { got = o; return nil }, tt.args...))
			require.NotNil(t, got)
			assert.Equal(t, tt.want.Explain, got.Explain)
			assert.Equal(t, tt.want.JSON, got.JSON)
			assert.Equal(t, tt.want.Layers, got.Layers)
			assert.NotNil(t, got.LoadConfig)
		})
	}
	f, _, _ := newFactory(cmdutil.OutputText)
	err := run(f, nil, "--bogus")
	assert.Error(t, err)
}

func expr(t *testing.T, src string) hcl.Expression {
	t.Helper()
	e, diags := hclsyntax.ParseExpression([]byte(src), "recipe.hcl", hcl.InitialPos)
	require.False(t, diags.HasErrors(), diags.Error())
	return e
}

// projectConfig is testdata/project as config.Load decodes it.
func projectConfig(t *testing.T) *config.Config {
	layer := func(name, parent string) *config.Layer {
		return &config.Layer{
			Name: name, Parent: parent, InstanceType: "t3.small",
			Volume: config.Volume{SizeGiB: 8, Type: "gp3", Encrypted: true}, IMDSv2Required: true,
			DeclRange: hcl.Range{Filename: "layers/" + name + ".hcl", Start: hcl.Pos{Line: 1, Column: 1}},
		}
	}
	linux := layer("linux", "")
	linux.Source = &config.Source{SSMParameter: "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"}
	base := layer("base", "linux")
	base.Volume.SizeGiB = 10
	base.Recipes = []*config.RecipeRef{
		{Name: "hello", Inputs: map[string]cty.Value{"greeting": cty.StringVal("hi")}},
		{Name: "agent", Inputs: map[string]cty.Value{"token": cty.StringVal("tok-123-secret")}},
	}
	app := layer("app", "base")
	app.InstanceType = "t3.medium"
	app.Recipes = []*config.RecipeRef{{Name: "hello", Inputs: map[string]cty.Value{"greeting": cty.StringVal("app")}}}

	return &config.Config{
		Dir:     filepath.Join("testdata", "project"),
		Project: &config.Project{Name: "fp-test", Regions: []string{"us-east-1"}, Provisioner: "ssm", ParamPrefix: "/amibake"},
		Variables: map[string]*config.Variable{
			"token": {Name: "token", Type: cty.String, Sensitive: true, Value: cty.StringVal("tok-123-secret")},
		},
		Layers: map[string]*config.Layer{"linux": linux, "base": base, "app": app},
		Recipes: map[string]*config.Recipe{
			"hello": {
				Name: "hello", Version: "1.0.0", Dir: "recipes/hello",
				Inputs: []*config.RecipeInput{{Name: "greeting", Type: cty.String, Default: cty.StringVal("hello")}},
				Steps: []*config.Step{
					{Kind: config.StepScript, Name: "greet", Path: "hello.sh", Env: map[string]hcl.Expression{"GREETING": expr(t, "input.greeting")}},
					{Kind: config.StepFile, Name: "motd", Source: "files/motd", Destination: "/etc/motd", Mode: "0644"},
					{Kind: config.StepInline, Name: "done", Inline: []string{"true"}},
				},
			},
			"agent": {
				Name: "agent", Version: "2.0.0", Dir: "recipes/agent",
				Inputs: []*config.RecipeInput{{Name: "token", Type: cty.String, Sensitive: true}},
				Steps: []*config.Step{
					{Kind: config.StepScript, Name: "install", Path: "install.sh", Env: map[string]hcl.Expression{"TOKEN": expr(t, "input.token")}},
				},
			},
		},
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	testutil.Golden(t, filepath.Join("testdata", name+".golden"), got, *update)
}

func TestFingerprintRunGolden(t *testing.T) {
	tests := []struct {
		name    string
		tty     bool
		json    bool
		explain bool
		layers  []string
	}{
		{name: "table_tty", tty: true},
		{name: "table_pipe"},
		{name: "table_selected", tty: true, layers: []string{"app", "linux"}},
		{name: "explain", explain: true},
		{name: "json", json: true},
		{name: "json_explain", json: true, explain: true, layers: []string{"base"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, out, errOut := newFactory(cmdutil.OutputText)
			f.IOStreams.SetStdoutTTY(tt.tty)
			cfg := projectConfig(t)
			err := fingerprintRun(&FingerprintOptions{
				IO: f.IOStreams, JSON: tt.json, Explain: tt.explain, Layers: tt.layers,
				LoadConfig: func() (*config.Config, hcl.Diagnostics) { return cfg, nil },
			})
			require.NoError(t, err)
			assert.Empty(t, errOut.String())
			assert.NotContains(t, out.String(), "tok-123-secret", "a sensitive value leaked")
			golden(t, tt.name, out.Bytes())
		})
	}
}

func TestFingerprintJSONHasFullHashes(t *testing.T) {
	f, out, _ := newFactory(cmdutil.OutputJSON)
	cfg := projectConfig(t)
	require.NoError(t, fingerprintRun(&FingerprintOptions{
		IO: f.IOStreams, JSON: true,
		LoadConfig: func() (*config.Config, hcl.Diagnostics) { return cfg, nil },
	}))
	var got []graph.Fingerprint
	require.NoError(t, json.Unmarshal(out.Bytes(), &got))
	require.Len(t, got, 3)
	assert.Equal(t, []string{"linux", "base", "app"}, []string{got[0].Layer, got[1].Layer, got[2].Layer})
	for _, fp := range got {
		assert.Len(t, fp.Hash, 64)
		assert.Empty(t, fp.Components)
	}
	assert.Equal(t, got[1].Hash, got[2].Parent)
}

func TestFingerprintRunErrors(t *testing.T) {
	t.Run("unknown layer", func(t *testing.T) {
		f, _, _ := newFactory(cmdutil.OutputText)
		cfg := projectConfig(t)
		err := fingerprintRun(&FingerprintOptions{IO: f.IOStreams, Layers: []string{"bsae"},
			LoadConfig: func() (*config.Config, hcl.Diagnostics) { return cfg, nil }})
		var fe *cmdutil.FlagError
		require.ErrorAs(t, err, &fe)
		assert.EqualError(t, err, `unknown layer "bsae"; did you mean "base"?`)
	})
	t.Run("missing file", func(t *testing.T) {
		f, out, errOut := newFactory(cmdutil.OutputText)
		cfg := projectConfig(t)
		cfg.Recipes["agent"].Steps[0].Path = "gone.sh"
		err := fingerprintRun(&FingerprintOptions{IO: f.IOStreams,
			LoadConfig: func() (*config.Config, hcl.Diagnostics) { return cfg, nil }})
		assert.ErrorIs(t, err, cmdutil.ErrSilent)
		assert.Empty(t, out.String())
		assert.Contains(t, errOut.String(), `references "gone.sh", which does not exist`)
	})
	t.Run("load error", func(t *testing.T) {
		f, out, errOut := newFactory(cmdutil.OutputText)
		err := fingerprintRun(&FingerprintOptions{IO: f.IOStreams,
			LoadConfig: func() (*config.Config, hcl.Diagnostics) {
				return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Missing amibake.hcl"}}
			}})
		assert.ErrorIs(t, err, cmdutil.ErrSilent)
		assert.Empty(t, out.String())
		assert.Contains(t, errOut.String(), "Missing amibake.hcl")
	})
}

// End to end through NewCmdFingerprint's own loader: config.Load on
// testdata/project gives exactly the hashes of the hand-built projectConfig.
func TestFingerprintCommandLoadsProject(t *testing.T) {
	f, out, errOut := newFactory(cmdutil.OutputText)
	f.IOStreams.SetStdoutTTY(true)
	require.NoError(t, run(f, nil))
	assert.Empty(t, errOut.String())
	want, err := os.ReadFile(filepath.Join("testdata", "table_tty.golden"))
	require.NoError(t, err)
	assert.Equal(t, string(want), out.String())

	f, out, _ = newFactory(cmdutil.OutputText)
	require.NoError(t, run(f, nil, "--explain"))
	want, err = os.ReadFile(filepath.Join("testdata", "explain.golden"))
	require.NoError(t, err)
	assert.Equal(t, string(want), out.String())
	assert.NotContains(t, out.String(), "tok-123-secret")

	// -var reaches the fingerprint: another token, another base and app.
	hashesFor := func(args ...string) map[string]string {
		f, out, errOut := newFactory(cmdutil.OutputJSON)
		require.NoError(t, run(f, nil, args...), errOut.String())
		var list []graph.Fingerprint
		require.NoError(t, json.Unmarshal(out.Bytes(), &list))
		m := map[string]string{}
		for _, fp := range list {
			m[fp.Layer] = fp.Hash
		}
		return m
	}
	before, after := hashesFor(), hashesFor("-var", "token=rotated")
	assert.Equal(t, before["linux"], after["linux"])
	assert.NotEqual(t, before["base"], after["base"])
	assert.NotEqual(t, before["app"], after["app"])
}
