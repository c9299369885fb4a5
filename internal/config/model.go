// Package config decodes a project's HCL (amibake.hcl, layers/, recipes/,
// fleets/) into plain structs. Every problem is an hcl.Diagnostic with a
// source range; decoding goes on after errors so one run reports them all,
// and the partial Config it returns is usable for careful static analysis.
package config

import (
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Config is a whole project: the result of Load.
type Config struct {
	// Dir is the project root (where amibake.hcl lives).
	Dir string

	Project        *Project
	Variables      map[string]*Variable
	Locals         map[string]*Local
	Layers         map[string]*Layer
	Recipes        map[string]*Recipe
	Fleets         map[string]*Fleet
	PatchBaselines map[string]*PatchBaseline

	// Sources maps every file read (by the name used in diagnostics, which
	// is the path relative to Dir) to its bytes, for diagnostic snippets.
	Sources map[string][]byte

	// evalCtx is the context project expressions were evaluated in (var.,
	// local., functions); EvalContext hands out children of it.
	evalCtx *hcl.EvalContext
}

// Project is the single `project "NAME" {}` block of amibake.hcl.
type Project struct {
	Name string
	// Regions: the first is where builds run; AMIs are copied to the rest.
	Regions []string
	// ParamPrefix is the Parameter Store prefix (default "/amibake").
	ParamPrefix string
	// AMIName is the naming pattern, evaluated late with the variables
	// project, layer, fingerprint, fingerprint_short and timestamp.
	AMIName hcl.Expression
	// Provisioner is "ssm" (default) or "ssh".
	Provisioner        string
	IAMInstanceProfile string
	SubnetID           string
	InventoryBucket    string
	// KMSKeyID encrypts every AMI's EBS volumes unless a layer overrides it;
	// empty means the account's default EBS key.
	KMSKeyID    string
	ShareWith   Sharing
	DefaultTags map[string]string
	// DeprecateAfter, when non-zero, sets deprecate_at on every new AMI.
	DeprecateAfter time.Duration

	DeclRange hcl.Range
}

// Sharing names who may launch an AMI.
type Sharing struct {
	Accounts      []string
	Organizations []string // organization ARNs
	OrgUnits      []string // organizational unit ARNs
	// DeclRange is the share_with block or attribute.
	DeclRange hcl.Range
}

// Variable is a `variable "NAME" {}` block plus the value it ended up with.
type Variable struct {
	Name        string
	Description string
	Type        cty.Type // cty.DynamicPseudoType when not declared
	Default     cty.Value
	Sensitive   bool
	Validations []*VariableValidation

	// Value is the final value (default → AMIBAKE_VAR_* → -var-file → -var,
	// the last wins) and ValueFrom says which one it came from.
	// After errors, a variable whose value could not be set holds an
	// unknown value so that nothing downstream reports it twice.
	Value     cty.Value
	ValueFrom string
	// ValueRange is where Value was set: the default expression, an
	// attribute of a -var-file, or a synthetic "<value for var.NAME>"
	// range for -var and AMIBAKE_VAR_NAME.
	ValueRange hcl.Range

	DeclRange hcl.Range
}

// VariableValidation is a `validation { condition, error_message }` block.
type VariableValidation struct {
	Condition    hcl.Expression
	ErrorMessage string
	DeclRange    hcl.Range
}

// Local is one attribute of a `locals {}` block, already evaluated.
type Local struct {
	Name      string
	Expr      hcl.Expression
	Value     cty.Value
	DeclRange hcl.Range
}

// Layer is a `layer "NAME" {}` block from layers/*.hcl. Exactly one of
// Parent and Source is set.
type Layer struct {
	Name string
	// Parent is the name of the parent layer (from `parent = layer.NAME`).
	Parent      string
	ParentRange hcl.Range
	// Source is the upstream JeOS selector of a root layer.
	Source *Source

	// Recipes in the order they run (from `recipes = [recipe.A, ...]`).
	Recipes []*RecipeRef

	InstanceType string // default "t3.small"
	Volume       Volume
	// IMDSv2Required defaults to true: IMDSv1 is off on every build and AMI.
	IMDSv2Required bool
	// Regions overrides the project's regions when non-empty.
	Regions   []string
	ShareWith *Sharing // nil: the project's
	Tags      map[string]string
	// Provisioner overrides the project's ("ssm" or "ssh") when non-empty.
	Provisioner string
	Patch       *PatchRef

	// Which of these settings change the bytes of the image, and so the
	// fingerprint, is decided in one place: graph.ImageSettings (instance
	// type does not; volume, IMDS, provisioner mode and source do).
	DeclRange hcl.Range
}

// Sharing is who the layer's AMIs are shared with: its share_with, else
// the project's (p may be nil).
func (l *Layer) Sharing(p *Project) Sharing {
	switch {
	case l.ShareWith != nil:
		return *l.ShareWith
	case p != nil:
		return p.ShareWith
	}
	return Sharing{}
}

// KMSKey is the key named for the layer's volumes: its kms_key_id, else
// the project's (p may be nil); empty means the account's default key.
func (l *Layer) KMSKey(p *Project) string {
	if l.Volume.KMSKeyID == "" && p != nil {
		return p.KMSKeyID
	}
	return l.Volume.KMSKeyID
}

// Source selects the upstream AMI of a root layer: an SSM parameter (such as
// /aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64) or
// an owners + name filter, newest first.
type Source struct {
	SSMParameter string
	Owners       []string
	NameFilter   string
	Architecture string // "x86_64" (default) or "arm64"
	DeclRange    hcl.Range
}

// Volume is the root EBS volume of builds and of the AMI.
type Volume struct {
	SizeGiB   int       // default 8
	Type      string    // default "gp3"
	Encrypted bool      // default true
	KMSKeyID  string    // empty: the project's KMSKeyID or the account default
	DeclRange hcl.Range // the volume block; zero when absent (defaults)
}

// RecipeRef is one entry of a layer's recipes list with the inputs the layer
// passes to it (from the layer's `inputs = { NAME = { ... } }` attribute).
type RecipeRef struct {
	Name string
	// Inputs are the values the layer sets, before defaults are applied;
	// Recipe.ResolveInputs merges them with the recipe's declarations.
	// Values keep their marks: a value derived from a sensitive variable
	// stays sensitive through Recipe.ResolveInputs and ResolveSteps.
	Inputs map[string]cty.Value
	// Range is the recipe.NAME reference in the layer's recipes list.
	Range hcl.Range
	// InputsRange is this recipe's value in the layer's inputs attribute
	// (zero when the layer sets none); InputRanges holds each input's
	// `name = value` item.
	InputsRange hcl.Range
	InputRanges map[string]hcl.Range

	// inputsUnknown is set when the layer's inputs for this recipe could
	// not be evaluated (an error already reported): ResolveInputs then does
	// not also report required inputs as missing.
	inputsUnknown bool
}

// PatchRef is the `patch {}` block of a layer or fleet.
type PatchRef struct {
	Baseline   string // patch_baseline name
	PatchGroup string
	Range      hcl.Range
	// BaselineRange is the patch_baseline.NAME reference.
	BaselineRange hcl.Range
}

// Recipe is recipes/NAME/recipe.hcl: a versioned, reusable provisioning unit.
type Recipe struct {
	Name        string
	Version     string
	Description string
	// Dir is the recipe's directory relative to Config.Dir (recipes/NAME);
	// step paths are relative to it.
	Dir    string
	Inputs []*RecipeInput
	Steps  []*Step

	DeclRange hcl.Range
}

// RecipeInput is an `input "NAME" {}` block of a recipe.
type RecipeInput struct {
	Name        string
	Description string
	Type        cty.Type
	Default     cty.Value // cty.NilVal: required
	Sensitive   bool
	DeclRange   hcl.Range
}

// Step kinds.
const (
	StepScript = "script" // a shell script file beside recipe.hcl
	StepInline = "inline" // inline shell commands
	StepFile   = "file"   // a file uploaded to the image
)

// Step is a `step "KIND" {}` block. Env expressions may refer to input.NAME
// and are evaluated per layer by Recipe.ResolveSteps.
type Step struct {
	Kind string
	// Name is an optional label for logs; defaults to "<recipe>/<N>" with
	// N counting steps from 1.
	Name        string
	Path        string   // script: file relative to the recipe dir
	Inline      []string // inline: commands
	Source      string   // file: relative to the recipe dir
	Destination string   // file: absolute path in the image
	Mode        string   // file: octal mode, default "0644"
	Env         map[string]hcl.Expression
	DeclRange   hcl.Range
}

// ResolvedStep is a Step with its env evaluated for one layer's inputs.
type ResolvedStep struct {
	Recipe string
	// Index is the step's position in the recipe, from 0 (the default
	// Step.Name counts from 1: "<recipe>/1").
	Index int
	*Step
	Env map[string]string
	// SensitiveEnv names the env entries whose values derive from a
	// sensitive input or variable: they reach the build only at run time.
	SensitiveEnv map[string]bool
}

// Fleet is a `fleet "NAME" {}` block from fleets/*.hcl.
type Fleet struct {
	Name     string
	Layer    string
	Channel  string // default "stable"
	Strategy string // "replace" or "in-place"
	ASGs     []string
	// TargetTags selects the instances of an in-place fleet.
	TargetTags map[string]string
	Patch      *PatchRef
	Rollout    Rollout
	Canary     *Canary
	Retire     Retire

	LayerRange hcl.Range
	DeclRange  hcl.Range
}

// Rollout is a fleet's `rollout {}` block.
type Rollout struct {
	Checkpoints       []int // percentages; the first is the canary
	CheckpointWait    time.Duration
	MinHealthyPercent int // default 90
	AbortOnAlarms     []string
	MaxConcurrency    string // "10%" or "5"
	MaxErrors         string
	MaintenanceWindow string    // "sun-02:00-04:00"
	Reboot            string    // "if-needed" (default), "always", "never"
	DeclRange         hcl.Range // the rollout block; zero when absent (defaults)
}

// Canary is a fleet's `canary {}` block.
type Canary struct {
	Instances int // canary and baseline instances each, default 1
	Window    time.Duration
	Interval  time.Duration
	Metrics   []*CanaryMetric
	DeclRange hcl.Range
}

// CanaryMetric is a `metric "NAME" {}` block of a canary.
type CanaryMetric struct {
	Name       string
	Namespace  string
	MetricName string
	Dimensions map[string]string
	Expression string         // metric math instead of namespace/name
	Queries    []*CanaryQuery // the metrics the expression names, by id
	Statistic  string
	Direction  string // "lower-is-better" or "higher-is-better"
	Tolerance  string // "10%"
	DeclRange  hcl.Range
}

// CanaryQuery is a `query "ID" {}` block of an expression metric: a
// CloudWatch metric the expression names by its id.
type CanaryQuery struct {
	ID         string
	Namespace  string
	MetricName string
	Statistic  string // empty: the metric's statistic
	Dimensions map[string]string
	DeclRange  hcl.Range
}

// Retire is a fleet's `retire {}` block.
type Retire struct {
	Keep      int           // newest N AMIs kept, default 3
	Grace     time.Duration // deprecated this long before deregistering
	DeclRange hcl.Range     // the retire block; zero when absent (defaults)
}

// PatchBaseline is a `patch_baseline "NAME" {}` block.
type PatchBaseline struct {
	Name            string
	OperatingSystem string
	Description     string
	ApprovalRules   []*ApprovalRule
	ApprovedPatches []string
	RejectedPatches []string
	RebakeWhen      *RebakeWhen
	DeclRange       hcl.Range
}

// ApprovalRule is an `approval_rule {}` block of a patch baseline.
type ApprovalRule struct {
	Classification   []string
	Severity         []string
	ApproveAfterDays int
	ComplianceLevel  string // default "UNSPECIFIED"
	DeclRange        hcl.Range
}

// RebakeWhen is the policy that makes a layer stale.
type RebakeWhen struct {
	MissingSeverity []string
	MaxAge          time.Duration
	DeclRange       hcl.Range
}
