package validate

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/config"
)

func TestNewCmdValidate(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name     string
		args     []string
		output   string
		wantVars map[string]string
		wantFile []string
		wantJSON bool
		wantErr  string
	}{
		{name: "no flags", wantVars: map[string]string{}},
		{
			name:     "vars keep commas and the last one wins",
			args:     []string{"-var", `regions=["us-east-1", "eu-west-1"]`, "--var", "size=8", "-var", "size=16", "-var", "empty="},
			wantVars: map[string]string{"regions": `["us-east-1", "eu-west-1"]`, "size": "16", "empty": ""},
		},
		{
			name:     "var files in order",
			args:     []string{"-var-file", "b.vars.hcl", "-var-file=a.vars.hcl"},
			wantVars: map[string]string{},
			wantFile: []string{"b.vars.hcl", "a.vars.hcl"},
		},
		{name: "json output", output: cmdutil.OutputJSON, wantVars: map[string]string{}, wantJSON: true},
		{name: "var without equals", args: []string{"-var", "size"}, wantErr: `-var expects NAME=VALUE, like -var instance_type=t3.large; got "size"`},
		{name: "var without name", args: []string{"-var", "=1"}, wantErr: `-var expects NAME=VALUE`},
		{name: "positional argument", args: []string{"layers"}, wantErr: "validate takes no arguments; use --chdir DIR to validate another project"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, _, _ := testFactory(t, "/project")
			f.Now = func() time.Time { return now }
			if tt.output != "" {
				f.Output = tt.output
			}
			var got *ValidateOptions
			err := runCommand(NewCmdValidate(f, func(o *ValidateOptions) error {
				got = o
				return nil
			}), tt.args...)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.NotNil(t, got)
			assert.Equal(t, "/project", got.WorkDir)
			assert.Equal(t, tt.wantJSON, got.JSON)
			assert.Equal(t, tt.wantVars, got.Load.Vars)
			assert.Equal(t, tt.wantFile, got.Load.VarFiles)
			assert.Equal(t, now, got.Load.Now)
			assert.NotEmpty(t, got.Load.Env, "the environment is passed on for AMIBAKE_VAR_* and env()")
		})
	}
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	return dir
}

const validProject = `project "demo" {
  regions = ["us-east-1"]
}

variable "size" {
  type    = number
  default = 8
}
`

const validLayer = `layer "linux" {
  source {
    ssm_parameter = "/aws/service/al2023"
  }
  volume {
    size = var.size
  }
}
`

func TestValidateRun(t *testing.T) {
	valid := writeFiles(t, map[string]string{"amibake.hcl": validProject, "layers/linux.hcl": validLayer})
	warn := writeFiles(t, map[string]string{
		"amibake.hcl":      validProject,
		"layers/linux.hcl": validLayer,
		"recipes/unused/recipe.hcl": `recipe "unused" {
  version = "1.0.0"
}
`,
	})
	invalid := writeFiles(t, map[string]string{
		"amibake.hcl": validProject,
		"layers/linux.hcl": `layer "linux" {
  source {
    ssm_parameter = "/aws/service/al2023"
  }
  instance_typ = "t3.small"
}
`,
	})

	tests := []struct {
		name       string
		opts       ValidateOptions
		wantOut    string
		wantErrOut string
		wantExit   int
	}{
		{
			name:    "valid",
			opts:    ValidateOptions{WorkDir: valid},
			wantOut: "Success! The configuration is valid.\n1 layer, 0 recipes, 0 fleets.\n",
		},
		{
			name:    "warnings only",
			opts:    ValidateOptions{WorkDir: warn},
			wantOut: "Success! The configuration is valid, but there were some validation warnings as shown above.\n1 layer, 1 recipe, 0 fleets.\n",
			wantErrOut: `Warning: Unused recipe
  --> recipes/unused/recipe.hcl:1:1
   |
 1 | recipe "unused" {
   | ^^^^^^^^^^^^^^^
No layer lists recipe "unused" in its recipes, so it is never built into an image.

`,
		},
		{
			name: "errors",
			opts: ValidateOptions{WorkDir: invalid},
			wantErrOut: `Error: Unsupported argument
  --> layers/linux.hcl:5:3
   |
 5 |   instance_typ = "t3.small"
   |   ^^^^^^^^^^^^
An argument named "instance_typ" is not expected here. Did you mean "instance_type"?

`,
			wantExit: 1,
		},
		{
			name: "variable error from -var",
			opts: ValidateOptions{WorkDir: valid, Load: config.LoadOptions{Vars: map[string]string{"size": "big"}}},
			wantErrOut: `Error: Invalid value for input variable
  --> <value for var.size>:1:1
   |
 1 | big
   | ^^^
Unsuitable value for var.size set using -var: a number is required. The variable's type is number.

`,
			wantExit: 1,
		},
		{
			name: "json valid",
			opts: ValidateOptions{WorkDir: valid, JSON: true},
			wantOut: `{
  "valid": true,
  "error_count": 0,
  "warning_count": 0,
  "diagnostics": []
}
`,
		},
		{
			name: "json errors",
			opts: ValidateOptions{WorkDir: invalid, JSON: true},
			wantOut: `{
  "valid": false,
  "error_count": 1,
  "warning_count": 0,
  "diagnostics": [
    {
      "severity": "error",
      "summary": "Unsupported argument",
      "detail": "An argument named \"instance_typ\" is not expected here. Did you mean \"instance_type\"?",
      "range": {
        "filename": "layers/linux.hcl",
        "start": {
          "line": 5,
          "column": 3,
          "byte": 75
        },
        "end": {
          "line": 5,
          "column": 15,
          "byte": 87
        }
      }
    }
  ]
}
`,
			wantExit: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, out, errOut := testFactory(t, tt.opts.WorkDir)
			opts := tt.opts
			opts.IO = f.IOStreams
			err := validateRun(&opts)
			assert.Equal(t, tt.wantExit, cmdutil.ExitCode(err))
			if tt.wantExit != 0 {
				assert.True(t, cmdutil.IsSilent(err), "the diagnostics were the message")
			}
			assert.Equal(t, tt.wantOut, out.String())
			assert.Equal(t, tt.wantErrOut, errOut.String())
		})
	}
}

func TestValidateRun_notAProject(t *testing.T) {
	f, out, errOut := testFactory(t, t.TempDir())
	err := validateRun(&ValidateOptions{IO: f.IOStreams, WorkDir: f.WorkDir})
	assert.Equal(t, 1, cmdutil.ExitCode(err))
	assert.Empty(t, out.String())
	assert.Contains(t, errOut.String(), "Error: Missing project block")
	assert.Contains(t, errOut.String(), "or pass --chdir DIR.")
}
