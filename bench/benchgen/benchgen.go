// Package benchgen writes synthetic amibake projects for the benchmarks
// (bench/, issue 8): a layer DAG with a few roots on Amazon Linux SSM
// parameters, fan-out below them, and recipes with script and data files.
package benchgen

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Sources are the public SSM parameters the roots start from, round-robin:
// each is a distinct upstream source.
var Sources = []string{
	"/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
	"/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-6.1-x86_64",
	"/aws/service/ami-amazon-linux-latest/al2023-ami-minimal-kernel-default-x86_64",
	"/aws/service/ami-amazon-linux-latest/al2023-ami-minimal-kernel-6.1-x86_64",
}

// Spec describes a project.
type Spec struct {
	Project string
	Regions []string
	Layers  int
	// Roots is how many layers have a source (the others have a parent);
	// at most len(Sources) distinct sources are used.
	Roots int
	// FanOut is how many children each layer gets, in creation order.
	FanOut int
	// Recipes is how many recipes the project defines.
	Recipes int
	// ParentOf, when set, replaces the Roots/FanOut shape: the index of
	// layer i's parent (< i), or -1 for a root.
	ParentOf func(i int) int `json:"-"`
}

// Defaults fills zero fields: project "bench", three regions, 4 roots,
// fan-out 3, 20 recipes.
func (s Spec) Defaults() Spec {
	if s.Project == "" {
		s.Project = "bench"
	}
	if len(s.Regions) == 0 {
		s.Regions = []string{"us-east-1", "eu-west-1", "us-west-2"}
	}
	if s.Roots <= 0 {
		s.Roots = 4
	}
	if s.FanOut <= 0 {
		s.FanOut = 3
	}
	if s.Recipes <= 0 {
		s.Recipes = 20
	}
	return s
}

// LayerName is the name of layer i.
func LayerName(i int) string { return fmt.Sprintf("layer-%04d", i) }

// RecipeName is the name of recipe i.
func RecipeName(i int) string { return fmt.Sprintf("recipe_%02d", i) }

// Parent returns the index of layer i's parent, -1 for a root.
func (s Spec) Parent(i int) int {
	if s.ParentOf != nil {
		return s.ParentOf(i)
	}
	if i < s.Roots {
		return -1
	}
	return (i - s.Roots) / s.FanOut
}

// Source returns the SSM parameter root i starts from.
func (s Spec) Source(i int) string { return Sources[i%len(Sources)] }

// recipesOf picks 1–3 distinct recipes for a non-root layer.
func (s Spec) recipesOf(i int) []int {
	n := i%3 + 1
	var out []int
	seen := map[int]bool{}
	for k := 0; len(out) < n && k < s.Recipes; k++ {
		r := (i*7 + k*5) % s.Recipes
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out
}

// Write creates the project in dir (amibake.hcl, layers/*.hcl,
// recipes/*/recipe.hcl with install.sh and files/app.conf) and returns how
// many files it wrote.
func Write(dir string, s Spec) (int, error) {
	s = s.Defaults()
	files := 0
	write := func(rel, content string) error {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		files++
		return os.WriteFile(p, []byte(content), 0o644)
	}
	quoted := make([]string, len(s.Regions))
	for i, r := range s.Regions {
		quoted[i] = fmt.Sprintf("%q", r)
	}
	root := fmt.Sprintf(`# Synthetic benchmark project: %d layers, %d roots, fan-out %d.
project %q {
  regions      = [%s]
  param_prefix = "/amibake"
  ami_name     = "${project}-${layer}-${fingerprint_short}-${timestamp}"
  provisioner  = "ssm"
  iam_instance_profile = "amibake-build"

  default_tags = {
    team         = "platform"
    "managed-by" = "amibake"
  }
}

variable "log_endpoint" {
  type    = string
  default = "logs.example.internal:24224"
}
`, s.Layers, s.Roots, s.FanOut, s.Project, strings.Join(quoted, ", "))
	if err := write("amibake.hcl", root); err != nil {
		return files, err
	}
	for r := 0; r < s.Recipes; r++ {
		name := RecipeName(r)
		recipe := fmt.Sprintf(`recipe %q {
  version     = "1.%d.0"
  description = "Synthetic recipe %d"

  input "level" {
    type    = number
    default = 1
  }

  input "endpoint" {
    type    = string
    default = "localhost:24224"
  }

  step "script" {
    name = "install"
    path = "install.sh"
    env  = { LEVEL = input.level, ENDPOINT = input.endpoint }
  }

  step "file" {
    source      = "files/app.conf"
    destination = "/etc/%s/app.conf"
    mode        = "0644"
  }

  step "inline" {
    commands = ["systemctl daemon-reload", "systemctl enable %s"]
  }
}
`, name, r, r, name, name)
		script := "#!/bin/sh\nset -eu\n" + strings.Repeat(fmt.Sprintf("echo \"configuring %s at level $LEVEL\"\n", name), 100)
		for _, f := range []struct{ rel, content string }{
			{"recipes/" + name + "/recipe.hcl", recipe},
			{"recipes/" + name + "/install.sh", script},
			{"recipes/" + name + "/files/app.conf", "# " + name + "\nkey = " + name + "\n"},
		} {
			if err := write(f.rel, f.content); err != nil {
				return files, err
			}
		}
	}
	for i := 0; i < s.Layers; i++ {
		var b strings.Builder
		fmt.Fprintf(&b, "layer %q {\n", LayerName(i))
		if p := s.Parent(i); p < 0 {
			fmt.Fprintf(&b, "  source {\n    ssm_parameter = %q\n  }\n\n  recipes       = []\n  instance_type = \"t3.small\"\n", s.Source(i))
		} else {
			rs := s.recipesOf(i)
			refs := make([]string, len(rs))
			for k, r := range rs {
				refs[k] = "recipe." + RecipeName(r)
			}
			fmt.Fprintf(&b, "  parent  = layer.%s\n  recipes = [%s]\n\n", LayerName(p), strings.Join(refs, ", "))
			fmt.Fprintf(&b, "  inputs = {\n    %s = {\n      level    = %d\n      endpoint = var.log_endpoint\n    }\n  }\n\n", RecipeName(rs[0]), i)
			fmt.Fprintf(&b, "  instance_type = %q\n\n  tags = {\n    service = %q\n  }\n", []string{"t3.small", "t3.medium", "c6i.large"}[i%3], fmt.Sprintf("svc-%d", i%17))
		}
		b.WriteString("}\n")
		if err := write("layers/"+LayerName(i)+".hcl", b.String()); err != nil {
			return files, err
		}
	}
	return files, nil
}
