package graph

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"

	"github.com/amibake/amibake/internal/config"
)

// Hand-built configs, as config.Load would decode them.

func rng(file string, line int) hcl.Range {
	return hcl.Range{
		Filename: file,
		Start:    hcl.Pos{Line: line, Column: 3, Byte: 0},
		End:      hcl.Pos{Line: line, Column: 20, Byte: 17},
	}
}

// mkLayer declares layer name; parent "" makes a root with an SSM source.
func mkLayer(name, parent string, recipes ...string) *config.Layer {
	file := "layers/" + name + ".hcl"
	l := &config.Layer{
		Name:           name,
		Parent:         parent,
		InstanceType:   "t3.small",
		Volume:         config.Volume{SizeGiB: 8, Type: "gp3", Encrypted: true},
		IMDSv2Required: true,
		DeclRange:      rng(file, 1),
	}
	if parent == "" {
		l.Source = &config.Source{
			SSMParameter: "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
			DeclRange:    rng(file, 2),
		}
	} else {
		l.ParentRange = rng(file, 2)
	}
	for i, r := range recipes {
		l.Recipes = append(l.Recipes, &config.RecipeRef{Name: r, Range: rng(file, 3+i)})
	}
	return l
}

func mkConfig(layers ...*config.Layer) *config.Config {
	cfg := &config.Config{
		Dir:     "",
		Project: &config.Project{Name: "test", Regions: []string{"us-east-1"}, Provisioner: "ssm", ParamPrefix: "/amibake"},
		Layers:  map[string]*config.Layer{},
		Recipes: map[string]*config.Recipe{},
	}
	for _, l := range layers {
		cfg.Layers[l.Name] = l
	}
	return cfg
}

func names(ns []*Node) []string {
	out := make([]string, 0, len(ns))
	for _, n := range ns {
		out = append(out, n.Name())
	}
	return out
}

// syntheticConfig is a tree of n layers: 4 roots, every other layer's
// parent an earlier layer (fan-out about 3), each layer listing
// recipesPerLayer of 20 shared recipes.
func syntheticConfig(n, recipesPerLayer int) *config.Config {
	var layers []*config.Layer
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("layer-%03d", i)
		parent := ""
		if i >= 4 {
			parent = fmt.Sprintf("layer-%03d", (i-4)/3)
		}
		var recipes []string
		for j := 0; j < recipesPerLayer; j++ {
			recipes = append(recipes, fmt.Sprintf("recipe-%02d", (i+j*7)%20))
		}
		layers = append(layers, mkLayer(name, parent, recipes...))
	}
	return mkConfig(layers...)
}
