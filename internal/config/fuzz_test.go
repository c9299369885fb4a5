package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad feeds arbitrary text to the loader as each kind of project file:
// whatever the input, Load must return diagnostics, never panic.
func FuzzLoad(f *testing.F) {
	for _, seed := range []string{
		"testdata/full/amibake.hcl",
		"testdata/full/layers/foundation.hcl",
		"testdata/full/layers/linux.hcl",
		"testdata/full/recipes/cis_hardening/recipe.hcl",
		"testdata/full/fleets/web.hcl",
	} {
		b, err := os.ReadFile(seed)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Add(`layer "x" { parent = layer.x.y[0] recipes = [for r in [] : r] inputs = { a = { b = null } } }`)
	f.Add(`variable "v" { type = object({ a = optional(number, 1) }) default = {} }`)
	f.Add(`fleet "f" { layer = layer.linux strategy = null rollout { checkpoints = [null] } }`)

	f.Fuzz(func(t *testing.T, src string) {
		dir := t.TempDir()
		write := func(name, content string) {
			p := filepath.Join(dir, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		write("amibake.hcl", minimalProject)
		write("extra.hcl", src)
		write("layers/fuzz.hcl", src)
		write("recipes/r/recipe.hcl", src)
		write("fleets/fuzz.hcl", src)
		cfg, _ := Load(dir, LoadOptions{Now: testNow, Vars: map[string]string{"v": src}})
		if cfg == nil {
			t.Fatal("nil config")
		}
		for _, l := range cfg.Layers {
			for _, ref := range l.Recipes {
				if r := cfg.Recipes[ref.Name]; r != nil {
					in, _ := r.ResolveInputs(ref)
					_, _ = r.ResolveSteps(in, cfg.EvalContext())
				}
			}
		}
	})
}
