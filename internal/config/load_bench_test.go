package config

import (
	"testing"

	"github.com/amibake/amibake/bench/benchgen"
)

// BenchmarkLoad500 decodes a synthetic project of 500 layer files (plus
// amibake.hcl and 20 recipes with their scripts and files): parsing,
// references, variables and recipe inputs, as every command does first.
func BenchmarkLoad500(b *testing.B) {
	dir := b.TempDir()
	if _, err := benchgen.Write(dir, benchgen.Spec{Layers: 500}); err != nil {
		b.Fatal(err)
	}
	if cfg, diags := Load(dir, LoadOptions{}); diags.HasErrors() || len(cfg.Layers) != 500 {
		b.Fatalf("load: %v", diags)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cfg, diags := Load(dir, LoadOptions{})
		if diags.HasErrors() || len(cfg.Layers) != 500 {
			b.Fatalf("load: %v", diags)
		}
	}
}
