package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLoad_errors covers problems not in the bad-input catalogue
// (testdata/bad, checked through `amibake validate`). Each case overlays a
// few files on a valid project and lists every diagnostic expected.
func TestLoad_errors(t *testing.T) {
	base := map[string]string{
		"amibake.hcl":      minimalProject,
		"layers/linux.hcl": minimalLayer,
	}
	script := "#!/bin/sh\n"
	tests := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{
			name:  "unknown top-level block",
			files: map[string]string{"amibake.hcl": minimalProject + "projet \"x\" {}\n"},
			want:  []string{"error amibake.hcl:4:1: Unsupported block type"},
		},
		{
			name:  "variable block in layers/",
			files: map[string]string{"layers/vars.hcl": "variable \"x\" {}\n"},
			want:  []string{"error layers/vars.hcl:1:1: Misplaced variable block"},
		},
		{
			name:  "layer block in fleets/",
			files: map[string]string{"fleets/linux2.hcl": "layer \"linux2\" {\n  parent = layer.linux\n}\n"},
			want:  []string{"error fleets/linux2.hcl:1:1: Misplaced layer block"},
		},
		{
			name: "recipe file problems",
			files: map[string]string{
				"recipes/empty/recipe.hcl": "# nothing yet\n",
				"recipes/two/recipe.hcl":   "recipe \"two\" {\n  version = \"1.0.0\"\n}\nrecipe \"three\" {\n  version = \"1.0.0\"\n}\n",
				"recipes/loose.hcl":        "recipe \"loose\" {}\n",
				"recipes/nofile/run.sh":    script,
				"layers/linux.hcl":         "layer \"linux\" {\n  source {\n    ssm_parameter = \"/x\"\n  }\n  recipes = [recipe.two]\n}\n",
			},
			want: []string{
				"error recipes/empty/recipe.hcl:1:1: Missing recipe block",
				"error recipes/two/recipe.hcl:4:1: More than one recipe in a file",
				"warning -: Misplaced recipe file",
				"warning -: Recipe directory without recipe.hcl",
			},
		},
		{
			name: "project settings",
			files: map[string]string{"amibake.hcl": `project "p" {
  regions         = ["us-east-1", "mars-north-1x", "us-east-1"]
  param_prefix    = "/amibake/"
  provisioner     = "winrm"
  subnet_id       = "sub-123"
  deprecate_after = "soon"
  share_with = {
    accounts = ["1234"]
    org_units = ["ou-123"]
    people = ["me"]
  }
}
`},
			want: []string{
				"error amibake.hcl:2:21: Duplicate region",
				"error amibake.hcl:2:21: Invalid region",
				"error amibake.hcl:3:21: Invalid parameter prefix",
				"error amibake.hcl:4:21: Invalid provisioner",
				"error amibake.hcl:5:21: Invalid subnet ID",
				"error amibake.hcl:6:21: Invalid duration",
				"error amibake.hcl:7:16: Invalid ARN",
				"error amibake.hcl:7:16: Invalid account ID",
				"error amibake.hcl:7:16: Unsupported argument",
				// The fixture's layer is encrypted and shared with the default key.
				"error amibake.hcl:7:3: Shared AMI needs a customer-managed KMS key",
			},
		},
		{
			name:  "no regions",
			files: map[string]string{"amibake.hcl": "project \"p\" {\n  regions = []\n}\n"},
			want:  []string{"error amibake.hcl:2:13: No regions"},
		},
		{
			name:  "missing regions",
			files: map[string]string{"amibake.hcl": "project \"p\" {\n}\n"},
			want:  []string{"error amibake.hcl:1:13: Missing required argument"},
		},
		{
			name: "share_with twice",
			files: map[string]string{"layers/linux.hcl": `layer "linux" {
  source {
    ssm_parameter = "/x"
  }
  share_with = { accounts = ["111122223333"] }
  share_with {
    accounts = ["111122223333"]
  }
}
`},
			want: []string{"error layers/linux.hcl:6:3: Duplicate share_with"},
		},
		{
			name: "source and volume problems",
			files: map[string]string{"layers/linux.hcl": `layer "linux" {
  source {
    owners       = ["amazon"]
    architecture = "x86"
  }
  volume {
    size       = 0
    type       = "gp4"
    encrypted  = false
    kms_key_id = "alias/k"
  }
  instance_type = "large"
}
layer "empty" {
  source {}
}
layer "no-owners" {
  source {
    owners = []
    name   = "al2023-*"
  }
}
`},
			want: []string{
				"error layers/linux.hcl:12:19: Invalid instance type",
				"error layers/linux.hcl:15:3: Missing source selector",
				"error layers/linux.hcl:19:14: No owners",
				"error layers/linux.hcl:3:5: Incomplete source filter",
				"error layers/linux.hcl:4:20: Invalid architecture",
				"error layers/linux.hcl:7:18: Invalid volume size",
				"error layers/linux.hcl:8:18: Invalid volume type",
				"error layers/linux.hcl:10:18: KMS key on an unencrypted volume",
			},
		},
		{
			name: "layer references",
			files: map[string]string{
				"amibake.hcl": minimalProject + "variable \"x\" {\n  default = 1\n}\n",
				"layers/app.hcl": `layer "app" {
  parent        = layer.linux.id
  recipes       = [recipe.a, recipe.a, "b"]
  instance_type = layer.linux
  tags          = { x = input.y, z = var.x }
  inputs        = { c = {} }
  patch {
    baseline = "al2023"
  }
}
`,
				"recipes/a/recipe.hcl": "recipe \"a\" {\n  version = \"1.0.0\"\n}\n",
			},
			want: []string{
				"error layers/app.hcl:2:19: Invalid layer reference",
				"error layers/app.hcl:3:30: Duplicate recipe in layer",
				"error layers/app.hcl:3:40: Invalid recipe reference",
				"error layers/app.hcl:4:19: Invalid reference",
				"error layers/app.hcl:5:25: Invalid reference",
				"error layers/app.hcl:6:21: Inputs for a recipe the layer does not run",
				"error layers/app.hcl:8:16: Invalid patch baseline reference",
			},
		},
		{
			name: "recipe steps",
			files: map[string]string{
				"layers/linux.hcl": "layer \"linux\" {\n  source {\n    ssm_parameter = \"/x\"\n  }\n  recipes = [recipe.r]\n}\n",
				"recipes/r/recipe.hcl": `recipe "r" {
  version = "1.0.0"
  input "level" {
    default = 1
  }
  input "level" {
    default = 2
  }
  step "script" {
    path = "files"
  }
  step "script" {
    path     = "run.sh"
    commands = ["x"]
  }
  step "inline" {
    commands = []
    env      = { "1BAD" = "x", OK = input.level, OK = 2 }
  }
  step "inline" {
    commands = ["x"]
    env      = local.nope
  }
  step "file" {
    source      = "/etc/passwd"
    destination = "etc/motd"
    mode        = "rw-r--r--"
  }
  step "file" {
    source      = "files"
    destination = "/opt/files/"
  }
}
`,
				"recipes/r/run.sh":      script,
				"recipes/r/files/a.txt": "a",
			},
			want: []string{
				"error recipes/r/recipe.hcl:10:12: Not a file",
				"error recipes/r/recipe.hcl:14:5: Unsupported argument",
				"error recipes/r/recipe.hcl:17:16: No commands",
				"error recipes/r/recipe.hcl:18:18: Invalid env name",
				"error recipes/r/recipe.hcl:18:50: Duplicate env name",
				"error recipes/r/recipe.hcl:22:16: Invalid env",
				"error recipes/r/recipe.hcl:25:19: Path outside the recipe directory",
				"error recipes/r/recipe.hcl:26:19: Invalid destination",
				"error recipes/r/recipe.hcl:27:19: Invalid file mode",
				"error recipes/r/recipe.hcl:6:3: Duplicate input declaration",
			},
		},
		{
			name: "fleets",
			files: map[string]string{"fleets/f.hcl": `fleet "a" {
  layer    = layer.linux
  strategy = "in-place"
  asg      = ["x"]
  rollout {
    checkpoints         = [50, 10, 100]
    min_healthy_percent = 150
    max_concurrency     = "ten"
    reboot              = "sometimes"
    maintenance_window  = "sun-02:00-02:00"
  }
  canary {
    instances = 0
    metric "m" {
      namespace  = "N"
      expression = "m1"
    }
    metric "m" {
      statistic = "p90"
      direction = "up"
      tolerance = "10"
    }
  }
  retire {
    keep = 0
  }
}
fleet "b" {
  layer    = layer.linux
  strategy = "replace"
  asg      = []
  targets {
    tags = {}
  }
}
fleet "c" {
  layer    = layer.linux
  strategy = "rolling"
}
fleet "d" {
  layer    = layer.linux
  strategy = "in-place"
}
`},
			want: []string{
				"error fleets/f.hcl:10:27: Invalid maintenance window",
				"error fleets/f.hcl:13:17: Invalid canary instances",
				"error fleets/f.hcl:16:7: Conflicting metric source",
				"error fleets/f.hcl:18:5: Duplicate metric declaration",
				"error fleets/f.hcl:18:5: Incomplete metric",
				"error fleets/f.hcl:1:1: Missing targets for an in-place fleet",
				"error fleets/f.hcl:20:19: Invalid direction",
				"error fleets/f.hcl:21:19: Invalid tolerance",
				"error fleets/f.hcl:25:12: Invalid keep",
				"error fleets/f.hcl:31:14: Missing asg for a replace fleet",
				"error fleets/f.hcl:32:3: targets in a replace fleet",
				"error fleets/f.hcl:33:12: No target tags",
				"error fleets/f.hcl:38:14: Invalid strategy",
				"error fleets/f.hcl:40:1: Missing targets for an in-place fleet",
				"error fleets/f.hcl:4:3: asg in an in-place fleet",
				"error fleets/f.hcl:6:27: Invalid checkpoints",
				"error fleets/f.hcl:7:27: Invalid min_healthy_percent",
				"error fleets/f.hcl:8:27: Invalid max_concurrency",
				"error fleets/f.hcl:9:27: Invalid reboot option",
			},
		},
		{
			name: "patch baselines and duplicates",
			files: map[string]string{"amibake.hcl": minimalProject + `
variable "v" {
  type    = number
  default = "x"
}
variable "v" {}
patch_baseline "Bad Name" {
  operating_system = "UBUNTU"
  approval_rule {
    approve_after_days = 400
    compliance_level   = "SEVERE"
  }
  rebake_when {}
  rebake_when {}
}
patch_baseline "ok" {
  operating_system = "UBUNTU"
}
patch_baseline "ok" {
  operating_system = "DEBIAN"
}
`},
			want: []string{
				"error amibake.hcl:9:1: Duplicate variable declaration",
				"error amibake.hcl:10:16: Invalid patch baseline name",
				"error amibake.hcl:13:26: Invalid approve_after_days",
				"error amibake.hcl:14:26: Invalid compliance level",
				"error amibake.hcl:17:3: Duplicate rebake_when block",
				"error amibake.hcl:22:1: Duplicate patch baseline declaration",
				"error amibake.hcl:7:13: Invalid default value for variable",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{}
			for k, v := range base {
				files[k] = v
			}
			for k, v := range tt.files {
				files[k] = v
			}
			dir := writeProject(t, files)
			_, diags := Load(dir, LoadOptions{Now: testNow})
			got := render(diags)
			assert.Equal(t, sortedCopy(tt.want), got)
			for _, d := range diags {
				assert.NotEmpty(t, d.Detail, "every diagnostic says what to do: %s", d.Summary)
			}
		})
	}
}

func sortedCopy(s []string) []string {
	out := append([]string{}, s...)
	sortStrings(out)
	return out
}

func TestLoad_symlinkEscape(t *testing.T) {
	outside := writeProject(t, map[string]string{"secret.sh": "#!/bin/sh\n"})
	dir := writeProject(t, map[string]string{
		"amibake.hcl":          minimalProject,
		"layers/linux.hcl":     "layer \"linux\" {\n  source {\n    ssm_parameter = \"/x\"\n  }\n  recipes = [recipe.r]\n}\n",
		"recipes/r/recipe.hcl": "recipe \"r\" {\n  version = \"1.0.0\"\n  step \"script\" {\n    path = \"run.sh\"\n  }\n}\n",
	})
	require.NoError(t, os.Symlink(filepath.Join(outside, "secret.sh"), filepath.Join(dir, "recipes/r/run.sh")))
	_, diags := Load(dir, LoadOptions{})
	assert.Equal(t, []string{"error recipes/r/recipe.hcl:4:12: Path outside the recipe directory"}, render(diags))
}

func TestLoad_noDirectory(t *testing.T) {
	cfg, diags := Load(filepath.Join(t.TempDir(), "nope"), LoadOptions{})
	require.NotNil(t, cfg, "Load never returns a nil Config")
	assert.Equal(t, []string{"error -: Failed to read project directory"}, render(diags))
}

func TestLoad_syntaxErrorsStopDecoding(t *testing.T) {
	dir := writeProject(t, map[string]string{
		"amibake.hcl":      "project \"p\" {\n  regions = [\n}\n",
		"layers/linux.hcl": "layer \"linux\" {\n  parent = \n}\n",
	})
	_, diags := Load(dir, LoadOptions{})
	// Both files' syntax errors, and nothing about the half-read blocks.
	assert.Equal(t, []string{
		"error amibake.hcl:3:1: Invalid expression",
		"error layers/linux.hcl:2:12: Invalid expression",
	}, render(diags))
}
