package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The example project at the repository root is what users copy first: it
// must always load without errors.
func TestLoad_exampleProject(t *testing.T) {
	root := filepath.Join("..", "..")
	if _, err := os.Stat(filepath.Join(root, RootFile)); err != nil {
		t.Skip("no example project at the repository root")
	}
	cfg, diags := Load(root, LoadOptions{Now: testNow})
	for _, d := range diags {
		t.Logf("%s", d)
	}
	require.False(t, diags.HasErrors(), "the example project has errors")
	assert.NotNil(t, cfg.Project)
	assert.NotEmpty(t, cfg.Layers)
	for name, l := range cfg.Layers {
		for _, ref := range l.Recipes {
			r := cfg.Recipes[ref.Name]
			require.NotNil(t, r, "layer %s: recipe %s", name, ref.Name)
			inputs, d := r.ResolveInputs(ref)
			require.False(t, d.HasErrors(), "%s", d)
			_, d = r.ResolveSteps(inputs, cfg.EvalContext())
			require.False(t, d.HasErrors(), "layer %s, recipe %s: %s", name, ref.Name, d)
		}
	}
}
