package config

import (
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"
)

func TestFunctions(t *testing.T) {
	dir := writeProject(t, map[string]string{
		"amibake.hcl":   minimalProject + "variable \"who\" {\n  default = \"world\"\n}\n",
		"files/hi.txt":  "hello\n",
		"files/hi.tpl":  "hi ${name}, %{ for x in xs }${x}%{ endfor }",
		"files/bad.tpl": "${nope}",
	})
	cfg, diags := Load(dir, LoadOptions{Now: testNow, Env: []string{"HOME=/root", "EMPTY="}})
	require.Empty(t, render(diags))

	tests := map[string]cty.Value{
		`upper("a")`:                    cty.StringVal("A"),
		`title("hello world")`:          cty.StringVal("Hello World"),
		`trimspace("  a ")`:             cty.StringVal("a"),
		`trimprefix("v1.2", "v")`:       cty.StringVal("1.2"),
		`join(",", ["a", "b"])`:         cty.StringVal("a,b"),
		`split(",", "a,b")`:             cty.ListVal([]cty.Value{cty.StringVal("a"), cty.StringVal("b")}),
		`format("%s-%03d", "a", 7)`:     cty.StringVal("a-007"),
		`replace("a.b", ".", "-")`:      cty.StringVal("a-b"),
		`regex("[0-9]+", "ab12")`:       cty.StringVal("12"),
		`substr("hello", 1, 3)`:         cty.StringVal("ell"),
		`length("héllo")`:               cty.NumberIntVal(5),
		`length([1, 2])`:                cty.NumberIntVal(2),
		`length({a = 1})`:               cty.NumberIntVal(1),
		`concat([1], [2])`:              cty.TupleVal([]cty.Value{cty.NumberIntVal(1), cty.NumberIntVal(2)}),
		`lookup({a = "x"}, "b", "d")`:   cty.StringVal("d"),
		`contains(["a"], "a")`:          cty.True,
		`coalesce("", "b")`:             cty.StringVal("b"),
		`element(["a", "b"], 3)`:        cty.StringVal("b"),
		`max(1, 5, 3)`:                  cty.NumberIntVal(5),
		`ceil(1.2)`:                     cty.NumberIntVal(2),
		`jsonencode({a = 1})`:           cty.StringVal(`{"a":1}`),
		`jsondecode("[true]")`:          cty.TupleVal([]cty.Value{cty.True}),
		`tostring(5)`:                   cty.StringVal("5"),
		`tonumber("5")`:                 cty.NumberIntVal(5),
		`try(tonumber("x"), 0)`:         cty.NumberIntVal(0),
		`can(tonumber("x"))`:            cty.False,
		`startswith("amibake", "ami")`:  cty.True,
		`strcontains("amibake", "bak")`: cty.True,
		`sha256("abc")`:                 cty.StringVal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
		`base64encode("hi")`:            cty.StringVal("aGk="),
		`base64decode("aGk=")`:          cty.StringVal("hi"),
		`timestamp()`:                   cty.StringVal("2026-01-02T03:04:05Z"),
		`env("HOME")`:                   cty.StringVal("/root"),
		`env("NOT_SET")`:                cty.StringVal(""),
		`file("files/hi.txt")`:          cty.StringVal("hello\n"),
		`templatefile("files/hi.tpl", { name = var.who, xs = [1, 2] })`: cty.StringVal("hi world, 12"),
	}
	for src, want := range tests {
		t.Run(src, func(t *testing.T) {
			expr, d := hclsyntax.ParseExpression([]byte(src), "test.hcl", hcl.InitialPos)
			require.Empty(t, d)
			got, d := expr.Value(cfg.EvalContext())
			require.Empty(t, d, "%s", d.Error())
			assertCty(t, want, got)
		})
	}

	for src, msg := range map[string]string{
		`file("nope.txt")`:                  `no file exists at "nope.txt"`,
		`templatefile("files/bad.tpl", {})`: `refers to "nope", which is not in the vars argument`,
		`templatefile("files/hi.tpl", "x")`: `template variables must be an object or a map`,
	} {
		t.Run(src, func(t *testing.T) {
			expr, d := hclsyntax.ParseExpression([]byte(src), "test.hcl", hcl.InitialPos)
			require.Empty(t, d)
			_, d = expr.Value(cfg.EvalContext())
			require.True(t, d.HasErrors())
			assert.Contains(t, d.Error(), msg)
		})
	}
}

func TestFunctions_fileOutsideProject(t *testing.T) {
	outside := writeProject(t, map[string]string{"shared.txt": "shared"})
	dir := writeProject(t, map[string]string{
		"amibake.hcl": minimalProject + "locals {\n  s = file(\"" + outside + "/shared.txt\")\n  rel = file(\"../" + "nope.txt\")\n}\n",
	})
	cfg, diags := Load(dir, LoadOptions{})
	assert.Equal(t, []string{"error amibake.hcl:6:9: Error in function call"}, render(diags))
	assert.Equal(t, "shared", cfg.Locals["s"].Value.AsString())
}

func TestLocals(t *testing.T) {
	dir := writeProject(t, map[string]string{
		"amibake.hcl": minimalProject + `
locals {
  c = "${local.b}-c"
  a = "a"
}
locals {
  b = "${local.a}-b"
  upper = [for x in ["a", local.a] : upper(x)]
  byname = { for k, v in { one = 1 } : k => v + 1 }
}
`,
	})
	cfg, diags := Load(dir, LoadOptions{})
	require.Empty(t, render(diags))
	assert.Equal(t, "a-b-c", cfg.Locals["c"].Value.AsString())
	assertCty(t, cty.TupleVal([]cty.Value{cty.StringVal("A"), cty.StringVal("A")}), cfg.Locals["upper"].Value)
	assertCty(t, cty.ObjectVal(map[string]cty.Value{"one": cty.NumberIntVal(2)}), cfg.Locals["byname"].Value)
}

func TestLocals_errors(t *testing.T) {
	dir := writeProject(t, map[string]string{
		"amibake.hcl": minimalProject + `
locals {
  a = local.b
  b = local.a
  self = local.self
  c = local.nope
  d = var.nothing
}
locals {
  a = 1
}
`,
	})
	_, diags := Load(dir, LoadOptions{})
	assert.Equal(t, []string{
		"error amibake.hcl:10:7: Reference to undeclared input variable",
		"error amibake.hcl:13:3: Duplicate local value declaration",
		"error amibake.hcl:6:3: Cycle in local values",
		"error amibake.hcl:8:3: Cycle in local values",
		"error amibake.hcl:9:7: Reference to undeclared local value",
	}, render(diags))
	for _, d := range diags {
		if d.Summary == "Cycle in local values" && d.Subject.Start.Line == 6 {
			assert.Contains(t, d.Detail, "local.a → local.b → local.a")
		}
	}
}

func TestTimestampWarnings(t *testing.T) {
	dir := writeProject(t, map[string]string{
		"amibake.hcl": minimalProject + "locals {\n  now = timestamp()\n  built = \"at ${local.now}\"\n}\n",
		"layers/linux.hcl": `layer "linux" {
  source {
    ssm_parameter = "/aws/service/al2023/${formatdate("YYYY", timestamp())}"
  }
  recipes = [recipe.r]
  inputs  = { r = { at = local.built } }
  # Not in the fingerprint: no warning.
  tags          = { built = timestamp(), other = local.built }
  instance_type = "t3.${length(timestamp()) > 0 ? "small" : "large"}"
}
`,
		"recipes/r/recipe.hcl": `recipe "r" {
  version = "1.0.0"
  input "at" {}
  step "inline" {
    commands = ["true"]
    env      = { BUILT = timestamp() }
  }
}
`,
	})
	_, diags := Load(dir, LoadOptions{Now: testNow})
	assert.Equal(t, []string{
		"warning layers/linux.hcl:3:63: timestamp() in a fingerprinted setting",
		"warning layers/linux.hcl:6:26: timestamp() in a fingerprinted setting",
		"warning recipes/r/recipe.hcl:6:26: timestamp() in a fingerprinted setting",
	}, render(diags))
}
