package config

import (
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"
)

func TestLoad_computedInputs(t *testing.T) {
	dir := writeProject(t, map[string]string{
		"amibake.hcl": minimalProject + `
variable "token" {
  default   = "t0k3n"
  sensitive = true
}
locals {
  cis_inputs = { level = 2, token = var.token }
  all_inputs = { cis = local.cis_inputs }
}
`,
		"layers/linux.hcl": `layer "linux" {
  source {
    ssm_parameter = "/x"
  }
  recipes = [recipe.cis]
  inputs  = local.all_inputs
}
layer "other" {
  parent  = layer.linux
  recipes = [recipe.cis]
  inputs  = { cis = local.cis_inputs }
}
layer "bad" {
  parent  = layer.linux
  recipes = [recipe.cis]
  inputs  = { cis = { level = ["x"], levels = 1 } }
}
`,
		"recipes/cis/recipe.hcl": `recipe "cis" {
  version = "1.0.0"
  input "level" {
    type = number
  }
  input "token" {
    type    = string
    default = ""
  }
  step "inline" {
    commands = ["true"]
    env      = { LEVEL = input.level, TOKEN = input.token }
  }
}
`,
	})
	cfg, diags := Load(dir, LoadOptions{})
	assert.Equal(t, []string{
		"error layers/linux.hcl:16:23: Invalid value for recipe input",
		"error layers/linux.hcl:16:38: Unsupported recipe input",
	}, render(diags))
	for _, d := range diags {
		if d.Summary == "Unsupported recipe input" {
			assert.Contains(t, d.Detail, `Did you mean "level"?`)
		}
	}

	for _, name := range []string{"linux", "other"} {
		ref := cfg.Layers[name].Recipes[0]
		r := cfg.Recipes["cis"]
		in, d := r.ResolveInputs(ref)
		require.Empty(t, d, name)
		steps, d := r.ResolveSteps(in, cfg.EvalContext())
		require.Empty(t, d, name)
		assert.Equal(t, map[string]string{"LEVEL": "2", "TOKEN": "t0k3n"}, steps[0].Env, name)
		assert.Equal(t, map[string]bool{"TOKEN": true}, steps[0].SensitiveEnv, name)
	}
}

func TestLoad_unknownInputsDoNotCascade(t *testing.T) {
	dir := writeProject(t, map[string]string{
		"amibake.hcl": minimalProject,
		"layers/linux.hcl": `layer "linux" {
  source {
    ssm_parameter = "/x"
  }
  recipes = [recipe.cis]
  inputs  = { cis = local.nope }
}
`,
		"recipes/cis/recipe.hcl": "recipe \"cis\" {\n  version = \"1.0.0\"\n  input \"level\" {}\n}\n",
	})
	_, diags := Load(dir, LoadOptions{})
	assert.Equal(t, []string{"error layers/linux.hcl:6:21: Reference to undeclared local value"}, render(diags),
		"no 'missing required input' on top of the broken expression")
}

func TestLoad_typeErrorPath(t *testing.T) {
	dir := writeProject(t, map[string]string{
		"amibake.hcl": `project "p" {
  regions      = ["us-east-1"]
  default_tags = { team = ["a"] }
}
`,
	})
	_, diags := Load(dir, LoadOptions{})
	require.Equal(t, []string{"error amibake.hcl:3:18: Incorrect attribute value type"}, render(diags))
	assert.Equal(t, `Inappropriate value for attribute "default_tags": element "team": string required.`, diags[0].Detail)
}

func TestLoad_invalidValidationCondition(t *testing.T) {
	dir := writeProject(t, map[string]string{
		"amibake.hcl": minimalProject + `
variable "v" {
  default = "x"
  validation {
    condition     = var.v
    error_message = "never shown"
  }
}
`,
	})
	_, diags := Load(dir, LoadOptions{})
	assert.Equal(t, []string{"error amibake.hcl:8:21: Invalid validation condition"}, render(diags))
}

func TestConfig_EvalContextByHand(t *testing.T) {
	cfg := &Config{
		Dir:       t.TempDir(),
		Variables: map[string]*Variable{"env": {Name: "env", Value: cty.StringVal("prod")}},
		Locals:    map[string]*Local{"team": {Name: "team", Value: cty.StringVal("ops")}},
	}
	expr, d := hclsyntax.ParseTemplate([]byte("${upper(var.env)}-${local.team}"), "t", hcl.InitialPos)
	require.Empty(t, d)
	v, d := expr.Value(cfg.EvalContext())
	require.Empty(t, d)
	assert.Equal(t, "PROD-ops", v.AsString())

	// Children are independent: a caller's variables do not leak.
	ctx := cfg.EvalContext()
	ctx.Variables = map[string]cty.Value{"input": cty.EmptyObjectVal}
	_, ok := cfg.EvalContext().Variables["input"]
	assert.False(t, ok)
}

func TestTraversalString(t *testing.T) {
	expr, d := hclsyntax.ParseExpression([]byte(`layer.a["b"][0]`), "t", hcl.InitialPos)
	require.Empty(t, d)
	tr, d := hcl.AbsTraversalForExpr(expr)
	require.Empty(t, d)
	assert.Equal(t, `layer.a["b"][…]`, traversalString(tr))
}
