package config

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"
)

var testNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// writeProject creates a project from file name → content and returns its dir.
func writeProject(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	return dir
}

// minimal is the smallest valid project, extended by tests.
const minimalProject = `project "p" {
  regions = ["us-east-1"]
}
`

const minimalLayer = `layer "linux" {
  source {
    ssm_parameter = "/aws/service/al2023"
  }
}
`

// render prints diagnostics as "severity file:line:col: summary", sorted.
func render(diags hcl.Diagnostics) []string {
	out := []string{}
	for _, d := range diags {
		sev := "error"
		if d.Severity == hcl.DiagWarning {
			sev = "warning"
		}
		loc := "-"
		if d.Subject != nil {
			loc = d.Subject.Filename + ":" + itoa(d.Subject.Start.Line) + ":" + itoa(d.Subject.Start.Column)
		}
		out = append(out, sev+" "+loc+": "+d.Summary)
	}
	sort.Strings(out)
	return out
}

func itoa(i int) string { return strconv.Itoa(i) }

// assertCty compares cty values by value (number precision aside).
func assertCty(t *testing.T, want, got cty.Value, msg ...any) {
	t.Helper()
	assert.True(t, want.Equals(got).True(), "want %#v, got %#v %v", want, got, msg)
}

func loadFull(t *testing.T) *Config {
	t.Helper()
	cfg, diags := Load("testdata/full", LoadOptions{Now: testNow})
	require.Empty(t, render(diags))
	return cfg
}

func TestLoad_full(t *testing.T) {
	cfg := loadFull(t)

	p := cfg.Project
	require.NotNil(t, p)
	assert.Equal(t, "acme-golden", p.Name)
	assert.Equal(t, []string{"us-east-1", "eu-west-1"}, p.Regions)
	assert.Equal(t, "/acme/amibake", p.ParamPrefix)
	assert.Equal(t, "ssm", p.Provisioner)
	assert.Equal(t, "amibake-build", p.IAMInstanceProfile)
	assert.Equal(t, "subnet-0123abcd", p.SubnetID)
	assert.Equal(t, "acme-amibake-inventory", p.InventoryBucket)
	assert.Equal(t, "alias/amibake", p.KMSKeyID)
	assert.Equal(t, 90*24*time.Hour, p.DeprecateAfter)
	assert.Equal(t, []string{"111122223333"}, p.ShareWith.Accounts)
	assert.Len(t, p.ShareWith.Organizations, 1)
	assert.Equal(t, map[string]string{"team": "PLATFORM", "owner": "ops", "env": "prod"}, p.DefaultTags)
	assert.Equal(t, hcl.Range{Filename: "amibake.hcl", Start: hcl.Pos{Line: 1, Column: 1, Byte: 0}, End: hcl.Pos{Line: 1, Column: 22, Byte: 21}}, p.DeclRange)

	linux := cfg.Layers["linux"]
	require.NotNil(t, linux)
	assert.Equal(t, "", linux.Parent)
	assert.Equal(t, "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64", linux.Source.SSMParameter)
	assert.Equal(t, "x86_64", linux.Source.Architecture)
	assert.Equal(t, "t3.small", linux.InstanceType)
	assert.Equal(t, Volume{SizeGiB: 8, Type: "gp3", Encrypted: true}, linux.Volume)
	assert.True(t, linux.IMDSv2Required)
	assert.Nil(t, linux.ShareWith)
	assert.Empty(t, linux.Recipes)
	assert.Equal(t, "al2023_security", linux.Patch.Baseline)
	assert.Equal(t, "golden-linux", linux.Patch.PatchGroup)
	assert.Equal(t, "layers/linux.hcl", linux.DeclRange.Filename)

	arm := cfg.Layers["linux-arm"]
	assert.Equal(t, []string{"amazon"}, arm.Source.Owners)
	assert.Equal(t, "al2023-ami-2023.*-arm64", arm.Source.NameFilter)
	assert.Equal(t, "arm64", arm.Source.Architecture)
	assert.Equal(t, "t4g.small", arm.InstanceType)

	fnd := cfg.Layers["foundation"]
	assert.Equal(t, "linux", fnd.Parent)
	assert.Equal(t, "layers/foundation.hcl:2,13-24", fnd.ParentRange.String())
	require.Len(t, fnd.Recipes, 2)
	assert.Equal(t, "cis_hardening", fnd.Recipes[0].Name)
	assert.Equal(t, "secrets", fnd.Recipes[1].Name)
	assertCty(t, cty.NumberIntVal(2), fnd.Recipes[0].Inputs["level"])
	assert.True(t, IsSensitive(fnd.Recipes[1].Inputs["token"]), "a sensitive variable stays marked in layer inputs")
	assert.Equal(t, "t3.medium", fnd.InstanceType)
	assert.Equal(t, "layers/foundation.hcl:10,3-9", fnd.Volume.DeclRange.String())
	fnd.Volume.DeclRange = hcl.Range{}
	assert.Equal(t, Volume{SizeGiB: 16, Type: "gp3", Encrypted: true, KMSKeyID: "alias/layer"}, fnd.Volume)
	assert.Equal(t, []string{"us-east-1"}, fnd.Regions)
	assert.Equal(t, []string{"444455556666"}, fnd.ShareWith.Accounts)
	assert.Equal(t, "layers/foundation.hcl:17,3-47", fnd.ShareWith.DeclRange.String())
	assert.Equal(t, map[string]string{"tier": "foundation"}, fnd.Tags)
	assert.Equal(t, "ssh", fnd.Provisioner)

	cis := cfg.Recipes["cis_hardening"]
	require.NotNil(t, cis)
	assert.Equal(t, "1.4.0", cis.Version)
	assert.Equal(t, "recipes/cis_hardening", cis.Dir)
	require.Len(t, cis.Inputs, 2)
	assert.Equal(t, cty.Number, cis.Inputs[0].Type)
	assertCty(t, cty.NumberIntVal(1), cis.Inputs[0].Default)
	require.Len(t, cis.Steps, 3)
	assert.Equal(t, StepScript, cis.Steps[0].Kind)
	assert.Equal(t, "harden", cis.Steps[0].Name)
	assert.Equal(t, "harden.sh", cis.Steps[0].Path)
	assert.Len(t, cis.Steps[0].Env, 4)
	assert.Equal(t, "files/sshd_config", cis.Steps[1].Source)
	assert.Equal(t, "/etc/ssh/sshd_config", cis.Steps[1].Destination)
	assert.Equal(t, "0600", cis.Steps[1].Mode)
	assert.Equal(t, "cis_hardening/2", cis.Steps[1].Name)
	assert.Equal(t, []string{"sshd -t", "systemctl restart sshd"}, cis.Steps[2].Inline)
	assert.Equal(t, "0644", cfg.Recipes["app"].Steps[0].Mode, "default mode")

	web := cfg.Fleets["web"]
	require.NotNil(t, web)
	assert.Equal(t, "app-web", web.Layer)
	assert.Equal(t, "replace", web.Strategy)
	assert.Equal(t, []string{"web-prod-a", "web-prod-b"}, web.ASGs)
	assert.Equal(t, "fleets/web.hcl:10,3-10", web.Rollout.DeclRange.String())
	web.Rollout.DeclRange = hcl.Range{}
	assert.Equal(t, Rollout{
		Checkpoints: []int{10, 50, 100}, CheckpointWait: 15 * time.Minute, MinHealthyPercent: 95,
		AbortOnAlarms: []string{"web-5xx-high"}, MaintenanceWindow: "sun-02:00-04:00", Reboot: "always",
	}, web.Rollout)
	require.NotNil(t, web.Canary)
	assert.Equal(t, 2, web.Canary.Instances)
	assert.Equal(t, 30*time.Minute, web.Canary.Window)
	require.Len(t, web.Canary.Metrics, 2)
	assert.Equal(t, "Latency", web.Canary.Metrics[0].MetricName)
	assert.Equal(t, map[string]string{"Service": "web"}, web.Canary.Metrics[0].Dimensions)
	assert.Equal(t, "100 * errors/requests", web.Canary.Metrics[1].Expression)
	assert.Len(t, web.Canary.Metrics[1].Queries, 2)
	web.Retire.DeclRange = hcl.Range{}
	assert.Equal(t, Retire{Keep: 5, Grace: 7 * 24 * time.Hour}, web.Retire)

	batch := cfg.Fleets["batch"]
	assert.Equal(t, "stable", batch.Channel)
	assert.Equal(t, map[string]string{"role": "batch"}, batch.TargetTags)
	batch.Rollout.DeclRange = hcl.Range{}
	assert.Equal(t, Rollout{Checkpoints: []int{100}, MinHealthyPercent: 90, MaxConcurrency: "10%", MaxErrors: "2", Reboot: "if-needed"}, batch.Rollout)
	assert.Nil(t, batch.Canary)
	assert.Equal(t, Retire{Keep: 3}, batch.Retire)

	pb := cfg.PatchBaselines["al2023_security"]
	require.NotNil(t, pb)
	assert.Equal(t, "AMAZON_LINUX_2023", pb.OperatingSystem)
	require.Len(t, pb.ApprovalRules, 2)
	assert.Equal(t, 7, pb.ApprovalRules[0].ApproveAfterDays)
	assert.Equal(t, "UNSPECIFIED", pb.ApprovalRules[0].ComplianceLevel)
	assert.Equal(t, "LOW", pb.ApprovalRules[1].ComplianceLevel)
	assert.Equal(t, []string{"kernel-debug*"}, pb.RejectedPatches)
	pb.RebakeWhen.DeclRange = hcl.Range{}
	assert.Equal(t, &RebakeWhen{MissingSeverity: []string{"Critical"}, MaxAge: 30 * 24 * time.Hour}, pb.RebakeWhen)

	assert.Equal(t, "Welcome to PLATFORM (prod)\n", cfg.Locals["motd"].Value.AsString())

	var sources []string
	for name := range cfg.Sources {
		sources = append(sources, name)
	}
	sort.Strings(sources)
	assert.Equal(t, []string{
		"amibake.hcl", "fleets/web.hcl", "layers/app-web.hcl", "layers/foundation.hcl", "layers/linux.hcl",
		"recipes/app/recipe.hcl", "recipes/cis_hardening/recipe.hcl", "recipes/secrets/recipe.hcl",
	}, sources)
}

func TestAMIName(t *testing.T) {
	cfg := loadFull(t)
	name, diags := cfg.AMIName("foundation", "0123456789abcdef0123", testNow)
	require.Empty(t, diags)
	assert.Equal(t, "acme-golden-foundation-prod-0123456789ab-20260102030405", name)

	dir := writeProject(t, map[string]string{"amibake.hcl": minimalProject})
	cfg, diags = Load(dir, LoadOptions{})
	require.Empty(t, diags)
	name, diags = cfg.AMIName("base", "abc", testNow)
	require.Empty(t, diags)
	assert.Equal(t, "p-base-abc-20260102030405", name, "the default pattern")
}

func TestAMIName_badReference(t *testing.T) {
	dir := writeProject(t, map[string]string{"amibake.hcl": `project "p" {
  regions  = ["us-east-1"]
  ami_name = "${project}-${fingerprnt}-${layer.name}"
}
`})
	_, diags := Load(dir, LoadOptions{})
	require.Equal(t, []string{"error amibake.hcl:3:28: Invalid reference", "error amibake.hcl:3:42: Invalid reference"}, render(diags))
	assert.Contains(t, diags[0].Detail, `There is no variable named "fingerprnt"`)
	assert.Contains(t, diags[1].Detail, `layer is a string`)
}

func TestResolveSteps(t *testing.T) {
	cfg := loadFull(t)
	fnd := cfg.Layers["foundation"]

	cis := cfg.Recipes["cis_hardening"]
	inputs, diags := cis.ResolveInputs(fnd.Recipes[0])
	require.Empty(t, diags)
	steps, diags := cis.ResolveSteps(inputs, cfg.EvalContext())
	require.Empty(t, diags)
	require.Len(t, steps, 3)
	assert.Equal(t, map[string]string{"CIS_LEVEL": "2", "PACKAGES": "", "ENV_NAME": "prod", "TEAM": "PLATFORM"}, steps[0].Env)
	assert.Empty(t, steps[0].SensitiveEnv)
	assert.Equal(t, 1, steps[1].Index)
	assert.Equal(t, "cis_hardening", steps[1].Recipe)

	sec := cfg.Recipes["secrets"]
	inputs, diags = sec.ResolveInputs(fnd.Recipes[1])
	require.Empty(t, diags)
	assert.Equal(t, cty.StringVal("us-east-1"), inputs["region"], "default applied")
	steps, diags = sec.ResolveSteps(inputs, cfg.EvalContext())
	require.Empty(t, diags)
	assert.Equal(t, map[string]string{"TOKEN": "s3cr3t", "REGION": "us-east-1", "HEADER": "Bearer s3cr3t"}, steps[0].Env)
	assert.Equal(t, map[string]bool{"TOKEN": true, "HEADER": true}, steps[0].SensitiveEnv)

	// Inputs that did not come through ResolveInputs are still marked when
	// the recipe declares them sensitive.
	steps, diags = sec.ResolveSteps(map[string]cty.Value{"token": cty.StringVal("x"), "region": cty.StringVal("r")}, nil)
	require.Empty(t, diags)
	assert.Equal(t, map[string]bool{"TOKEN": true, "HEADER": true}, steps[0].SensitiveEnv)
}

func TestResolveInputs_errors(t *testing.T) {
	r := &Recipe{
		Name: "cis",
		Inputs: []*RecipeInput{
			{Name: "level", Type: cty.Number, Default: cty.NumberIntVal(1)},
			{Name: "profile", Type: cty.String},
		},
		DeclRange: hcl.Range{Filename: "recipes/cis/recipe.hcl"},
	}
	rng := func(line int) hcl.Range {
		return hcl.Range{Filename: "layers/a.hcl", Start: hcl.Pos{Line: line, Column: 1}}
	}
	ref := &RecipeRef{
		Name:        "cis",
		Inputs:      map[string]cty.Value{"levle": cty.NumberIntVal(2), "level": cty.StringVal("high")},
		Range:       rng(1),
		InputsRange: rng(2),
		InputRanges: map[string]hcl.Range{"levle": rng(3), "level": rng(4)},
	}
	_, diags := r.ResolveInputs(ref)
	assert.Equal(t, []string{
		"error layers/a.hcl:2:1: Missing required recipe input",
		"error layers/a.hcl:3:1: Unsupported recipe input",
		"error layers/a.hcl:4:1: Invalid value for recipe input",
	}, render(diags))
	for _, d := range diags {
		if d.Summary == "Unsupported recipe input" {
			assert.Contains(t, d.Detail, `Did you mean "level"?`)
		}
	}

	// Without any inputs for the recipe, a missing one points at the reference.
	_, diags = r.ResolveInputs(&RecipeRef{Name: "cis", Range: rng(9)})
	assert.Equal(t, []string{"error layers/a.hcl:9:1: Missing required recipe input"}, render(diags))
	_, diags = r.ResolveInputs(nil)
	assert.Equal(t, []string{"error recipes/cis/recipe.hcl:0:0: Missing required recipe input"}, render(diags))
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"90m": 90 * time.Minute, "1h30m": 90 * time.Minute, "720h": 720 * time.Hour,
		"7d": 7 * 24 * time.Hour, "1d12h": 36 * time.Hour, "0s": 0, "0d": 0,
	} {
		got, err := parseDuration(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "7", "7days", "d", "-1h", "1d-5h", "1.5d", "99999999999999999999d"} {
		_, err := parseDuration(in)
		assert.Error(t, err, in)
	}
}

func TestEditDistanceAndSuggestions(t *testing.T) {
	assert.Equal(t, 0, editDistance("base", "base"))
	assert.Equal(t, 1, editDistance("basee", "base"))
	assert.Equal(t, 3, editDistance("kitten", "sitting"))
	assert.Equal(t, "base", didYouMean("bsae", []string{"linux", "base"}))
	assert.Equal(t, "", didYouMean("zzzzzz", []string{"linux", "base"}))
}

func sortStrings(s []string) { sort.Strings(s) }
