package graph

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"

	"github.com/amibake/amibake/internal/config"
)

// syntheticProject is syntheticConfig(n, 3) with its 20 recipes on disk:
// each has an input, a script (4 KiB), a file and an inline step; every
// layer passes its own input value to one of its recipes.
func syntheticProject(tb testing.TB, n int) *config.Config {
	tb.Helper()
	dir := tb.TempDir()
	cfg := syntheticConfig(n, 3)
	cfg.Dir = dir
	for i := 0; i < 20; i++ {
		name := fmt.Sprintf("recipe-%02d", i)
		rdir := filepath.Join(dir, "recipes", name)
		require.NoError(tb, os.MkdirAll(filepath.Join(rdir, "files"), 0o755))
		script := "#!/bin/sh\n" + strings.Repeat(fmt.Sprintf("echo step of %s\r\n", name), 200)
		require.NoError(tb, os.WriteFile(filepath.Join(rdir, "install.sh"), []byte(script), 0o644))
		require.NoError(tb, os.WriteFile(filepath.Join(rdir, "files", "app.conf"), []byte("key = "+name+"\n"), 0o644))
		cfg.Recipes[name] = &config.Recipe{
			Name: name, Version: "1.0.0", Dir: "recipes/" + name,
			Inputs: []*config.RecipeInput{{Name: "level", Type: cty.Number, Default: cty.NumberIntVal(1)}},
			Steps: []*config.Step{
				{Kind: config.StepScript, Path: "install.sh", Env: map[string]hcl.Expression{"LEVEL": expr(tb, "input.level")}},
				{Kind: config.StepFile, Source: "files/app.conf", Destination: "/etc/app.conf"},
				{Kind: config.StepInline, Inline: []string{"systemctl daemon-reload", "systemctl enable app"}},
			},
		}
	}
	for i, name := range sortedLayerNames(cfg) {
		l := cfg.Layers[name]
		l.Recipes[0].Inputs = map[string]cty.Value{"level": cty.NumberIntVal(int64(i))}
	}
	return cfg
}

// A 500-layer project must fingerprint in well under 100 ms.
func BenchmarkFingerprint500(b *testing.B) {
	cfg := syntheticProject(b, 500)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		g, diags := Build(cfg)
		if diags.HasErrors() {
			b.Fatal(diags.Error())
		}
		fps, diags := Fingerprints(g)
		if diags.HasErrors() || len(fps) != 500 {
			b.Fatalf("%d fingerprints: %s", len(fps), diags.Error())
		}
	}
}

func BenchmarkBuild500(b *testing.B) {
	cfg := syntheticConfig(500, 3)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Build(cfg)
	}
}
