package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"
)

const varsProject = minimalProject + `
variable "size" {
  type    = number
  default = 8
}
variable "name" {
  type = string
}
variable "regions" {
  type    = list(string)
  default = ["us-east-1"]
}
variable "anything" {
  default = "x"
}
variable "secret" {
  type      = string
  default   = "hunter2"
  sensitive = true
}
`

func TestVariables_precedence(t *testing.T) {
	dir := writeProject(t, map[string]string{
		"amibake.hcl":  varsProject,
		"one.vars.hcl": "size = 16\nname = \"from-file-1\"\n",
		"two.vars.hcl": "name = \"from-file-2\"\n",
		"env/prod.hcl": "regions = [\"eu-west-1\", \"eu-west-2\"]\n",
	})
	tests := []struct {
		name     string
		opts     LoadOptions
		variable string
		want     cty.Value
		from     string
	}{
		{"default", LoadOptions{Vars: map[string]string{"name": "n"}}, "size", cty.NumberIntVal(8), ValueFromDefault},
		{"env over default", LoadOptions{Vars: map[string]string{"name": "n"}, Env: []string{"AMIBAKE_VAR_size=10"}}, "size", cty.NumberIntVal(10), ValueFromEnv},
		{"file over env", LoadOptions{VarFiles: []string{"one.vars.hcl"}, Env: []string{"AMIBAKE_VAR_size=10"}}, "size", cty.NumberIntVal(16), "var-file:one.vars.hcl"},
		{"later file wins", LoadOptions{VarFiles: []string{"one.vars.hcl", "two.vars.hcl"}}, "name", cty.StringVal("from-file-2"), "var-file:two.vars.hcl"},
		{"-var over file", LoadOptions{VarFiles: []string{"one.vars.hcl"}, Vars: map[string]string{"size": "32"}}, "size", cty.NumberIntVal(32), ValueFromCLI},
		{"string var takes raw text", LoadOptions{Vars: map[string]string{"name": "a b \"c\""}}, "name", cty.StringVal(`a b "c"`), ValueFromCLI},
		{"untyped var takes raw text", LoadOptions{Vars: map[string]string{"name": "n", "anything": "[1]"}}, "anything", cty.StringVal("[1]"), ValueFromCLI},
		{"list var parses HCL", LoadOptions{Vars: map[string]string{"name": "n", "regions": `["a-b-1", "c-d-2"]`}}, "regions", cty.ListVal([]cty.Value{cty.StringVal("a-b-1"), cty.StringVal("c-d-2")}), ValueFromCLI},
		{"var file in a subdirectory", LoadOptions{Vars: map[string]string{"name": "n"}, VarFiles: []string{"env/prod.hcl"}}, "regions", cty.ListVal([]cty.Value{cty.StringVal("eu-west-1"), cty.StringVal("eu-west-2")}), "var-file:env/prod.hcl"},
		{"env parses HCL for a list", LoadOptions{Env: []string{"AMIBAKE_VAR_name=n", `AMIBAKE_VAR_regions=["x"]`}}, "regions", cty.ListVal([]cty.Value{cty.StringVal("x")}), ValueFromEnv},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, diags := Load(dir, tt.opts)
			require.Empty(t, render(diags))
			v := cfg.Variables[tt.variable]
			assertCty(t, tt.want, v.Value)
			assert.Equal(t, tt.from, v.ValueFrom)
		})
	}
}

func TestVariables_errors(t *testing.T) {
	dir := writeProject(t, map[string]string{
		"amibake.hcl": varsProject + `
variable "env" {
  type    = string
  default = "prod"
  validation {
    condition     = contains(["dev", "prod"], var.env)
    error_message = "env must be dev or prod."
  }
}
`,
		"bad.vars.hcl": "size = \"big\"\nsizee = 3\n",
	})
	tests := []struct {
		name   string
		opts   LoadOptions
		want   []string
		detail string
	}{
		{
			name: "required variable unset",
			opts: LoadOptions{},
			want: []string{"error amibake.hcl:9:1: No value for required variable"},
		},
		{
			name:   "wrong type from -var",
			opts:   LoadOptions{Vars: map[string]string{"name": "n", "size": "large"}},
			want:   []string{"error <value for var.size>:1:1: Invalid value for input variable"},
			detail: "Unsuitable value for var.size set using -var: a number is required. The variable's type is number.",
		},
		{
			name: "-var syntax error",
			opts: LoadOptions{Vars: map[string]string{"name": "n", "regions": `["a"`}},
			want: []string{"error <value for var.regions>:1:1: Unterminated tuple constructor expression"},
		},
		{
			name:   "undeclared -var",
			opts:   LoadOptions{Vars: map[string]string{"name": "n", "sise": "1"}},
			want:   []string{"error -: Value for undeclared variable"},
			detail: `A value for var.sise was given with -var, but no variable "sise" {} block declares it. Did you mean "size"?`,
		},
		{
			name: "undeclared env is ignored",
			opts: LoadOptions{Vars: map[string]string{"name": "n"}, Env: []string{"AMIBAKE_VAR_nope=1"}},
			want: []string{},
		},
		{
			name: "var file: wrong type, undeclared name",
			opts: LoadOptions{Vars: map[string]string{"name": "n"}, VarFiles: []string{"bad.vars.hcl"}},
			want: []string{"error bad.vars.hcl:1:8: Invalid value for input variable", "warning bad.vars.hcl:2:1: Value for undeclared variable"},
		},
		{
			name: "missing var file",
			opts: LoadOptions{Vars: map[string]string{"name": "n"}, VarFiles: []string{"nope.vars.hcl"}},
			want: []string{"error -: Failed to read file"},
		},
		{
			name:   "failed validation",
			opts:   LoadOptions{Vars: map[string]string{"name": "n", "env": "staging"}},
			want:   []string{"error amibake.hcl:29:21: Invalid value for variable"},
			detail: "env must be dev or prod.\n\nThe value (staging, from -var) failed the validation rule at amibake.hcl:28,3-13.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := Load(dir, tt.opts)
			assert.Equal(t, tt.want, render(diags))
			if tt.detail != "" {
				require.NotEmpty(t, diags)
				assert.Equal(t, tt.detail, diags[0].Detail)
			}
		})
	}
}

func TestVariables_sensitive(t *testing.T) {
	dir := writeProject(t, map[string]string{
		"amibake.hcl": varsProject + `
locals {
  header = "Bearer ${var.secret}"
  plain  = upper(var.name)
}
`,
	})
	cfg, diags := Load(dir, LoadOptions{Vars: map[string]string{"name": "n"}})
	require.Empty(t, render(diags))
	assert.True(t, IsSensitive(cfg.Variables["secret"].Value))
	assert.True(t, IsSensitive(cfg.Locals["header"].Value), "marks propagate through templates")
	assert.False(t, IsSensitive(cfg.Locals["plain"].Value))
	assert.Equal(t, "(sensitive value)", Redact(cfg.Locals["header"].Value))
	assert.Equal(t, "N", Redact(cfg.Locals["plain"].Value))

	list := cty.ListVal([]cty.Value{cty.StringVal("a"), cty.StringVal("b").Mark(SensitiveMark)})
	assert.True(t, IsSensitive(list), "a nested mark makes the whole value sensitive")
	assert.Equal(t, "(sensitive value)", Redact(list))
	assert.Equal(t, `["a","b"]`, Redact(cty.ListVal([]cty.Value{cty.StringVal("a"), cty.StringVal("b")})))
	assert.Equal(t, "null", Redact(cty.NullVal(cty.String)))
	assert.Equal(t, "1.5", Redact(cty.NumberFloatVal(1.5)))
	assert.False(t, IsSensitive(cty.StringVal("x").Mark("other")))
}

func TestVariables_sensitiveInPlainSetting(t *testing.T) {
	dir := writeProject(t, map[string]string{
		"amibake.hcl": varsProject,
		"layers/linux.hcl": `layer "linux" {
  source {
    ssm_parameter = "/aws/service/al2023"
  }
  tags = { token = var.secret }
}
`,
	})
	cfg, diags := Load(dir, LoadOptions{Vars: map[string]string{"name": "n"}})
	assert.Equal(t, []string{"warning layers/linux.hcl:5:10: Sensitive value in a plain setting"}, render(diags))
	assert.Equal(t, map[string]string{"token": "hunter2"}, cfg.Layers["linux"].Tags)
}

func TestVariables_sensitiveValueNotInSources(t *testing.T) {
	dir := writeProject(t, map[string]string{"amibake.hcl": minimalProject + `
variable "pin" {
  type      = number
  sensitive = true
}
`})
	cfg, diags := Load(dir, LoadOptions{Vars: map[string]string{"pin": "hunter2"}})
	assert.Equal(t, []string{"error <value for var.pin>:1:1: Invalid value for input variable"}, render(diags))
	assert.NotContains(t, diags[0].Detail, "hunter2")
	_, kept := cfg.Sources["<value for var.pin>"]
	assert.False(t, kept, "a sensitive value is never shown in a snippet")
}
