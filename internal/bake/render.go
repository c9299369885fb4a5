// Package bake turns a planned layer into a Packer template, runs the real
// packer binary over the layer DAG, and publishes what it built.
package bake

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"text/template"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"

	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/graph"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/plan"
	"github.com/amibake/amibake/templates"
)

// Provisioning modes (project or layer `provisioner`).
const (
	ProvisionerSSM = "ssm" // steps over SSM Run Command via packer-plugin-amibake
	ProvisionerSSH = "ssh" // steps as standard shell/file provisioners
)

// TemplateData is everything a layer template may use. Values are plain
// Go; the template's `hcl` function quotes them as HCL literals, so no value
// can break out of its string.
type TemplateData struct {
	AmibakeVersion string
	Project        string
	Layer          string
	Fingerprint    string
	BuildID        string

	Region      string   // build region
	CopyRegions []string // ami_regions

	// Exactly one source: the parent's channel parameter, an upstream SSM
	// parameter, or an owners + name filter.
	ParentChannel      string
	SourceParameter    string
	SourceOwners       []string
	SourceName         string
	SourceArchitecture string

	InstanceType       string
	AMIName            string
	AMIDescription     string
	VolumeSize         int
	VolumeType         string
	Encrypted          bool
	KMSKeyID           string
	IMDSv2             bool
	IAMInstanceProfile string
	SubnetID           string
	ShareAccounts      []string
	ShareOrgs          []string
	ShareOUs           []string
	DeprecateAt        string

	Tags    map[string]string
	RunTags map[string]string

	Provisioner string // "ssm" or "ssh"
	Steps       []TemplateStep
	// Patch, when set, ends the build with AWS-RunPatchBaseline (an
	// amibake provisioner patch step), in ssm and ssh mode alike.
	Patch            *TemplatePatch
	SecretVars       []SecretVar // ssh mode: sensitive values from packer's environment
	StepPollInterval string
	Channels         []string
	// Inventory, when set (the project has an inventory_bucket), ends the
	// amibake provisioner with the gather-and-stage step, in ssm and ssh
	// mode alike (ssh mode reaches the instance over Session Manager, so
	// it is SSM-managed too).
	Inventory *TemplateInventory

	// Sandbox renders the loopback-only skips of credential and region
	// checks, and in ssm mode leaves out the instance profile (the sandbox
	// has no IAM for packer to look it up in; ssh mode's session_manager
	// needs it, and is only validated there).
	Sandbox          bool
	PollDelaySeconds int
	PollMaxAttempts  int
}

// NeedsAmibakePlugin reports whether the template uses a component of
// packer-plugin-amibake.
func (d *TemplateData) NeedsAmibakePlugin() bool {
	return d.ParentChannel != "" || len(d.Channels) > 0 || (d.Provisioner == ProvisionerSSM && len(d.Steps) > 0) || d.Patch != nil || d.Inventory != nil
}

// TemplateInventory is where the provisioner stages the build's inventory.
type TemplateInventory struct {
	Bucket  string
	Project string
	BuildID string
}

// PatchStepName is the recorded name of the patch install step.
const PatchStepName = "patch-baseline/install"

// PatchGroupTag is the instance tag Patch Manager reads a patch group
// from: the build instance carries it so that the baseline registered for
// the layer's group is the one AWS-RunPatchBaseline applies.
const PatchGroupTag = "Patch Group"

// TemplatePatch is the patch step that ends a build.
type TemplatePatch struct {
	Name       string // PatchStepName
	Operation  string // Install
	Reboot     string // NoReboot
	PatchGroup string
	Baseline   string // patch_baseline name (for the comment)
}

// TemplateStep is one recipe step as a provisioner sees it.
type TemplateStep struct {
	Name            string
	Script          string   // absolute path, read at build time
	Inline          []string // commands
	FileSource      string   // absolute path
	FileDestination string
	FileMode        string
	StagingPath     string            // ssh mode: where the file provisioner uploads
	Env             map[string]string // non-sensitive
	// SecretEnv maps an env name to the SecureString parameter that holds
	// its value (ssm mode); SecretEnvVars maps it to a sensitive packer
	// variable fed from the environment (ssh mode).
	SecretEnv     map[string]string
	SecretEnvVars map[string]string
}

// SecretVar is a sensitive packer variable read from an environment
// variable of the packer process.
type SecretVar struct {
	Var     string
	EnvName string
}

// Secret is one sensitive value a build needs at run time. It never reaches
// the template: ssm mode stores it as a SecureString at Parameter for the
// build's duration, ssh mode passes it as EnvName to packer.
type Secret struct {
	Step      string
	Name      string // env name in the step
	Value     string
	Parameter string // ssm mode
	EnvName   string // ssh mode
}

// RenderInput is one layer build as the plan decided it.
type RenderInput struct {
	Config         *config.Config
	Layer          *config.Layer
	Fingerprint    *graph.Fingerprint
	BuildID        string
	Timestamp      time.Time
	AmibakeVersion string
	Sandbox        bool
	// Poll settings for packer's waiters; 0 means AWS's defaults.
	PollDelaySeconds int
	PollMaxAttempts  int
	StepPollInterval time.Duration
	// PatchLevel is the amibake:patch-level tag of a layer with an
	// effective patch block ("" leaves it out).
	PatchLevel string
	// NoChannels renders the lineage post-processor without channels:
	// packer does not move latest; the caller publishes (after verify).
	NoChannels bool
}

// EffectivePatch is a layer's patch block, or its nearest ancestor's.
func EffectivePatch(cfg *config.Config, l *config.Layer) *config.PatchRef {
	seen := map[string]bool{}
	for a := l; a != nil && !seen[a.Name]; a = cfg.Layers[a.Parent] {
		seen[a.Name] = true
		if a.Patch != nil {
			return a.Patch
		}
		if a.Parent == "" {
			break
		}
	}
	return nil
}

// NewTemplateData resolves a layer's settings, steps and tags for its
// template, and returns the secrets the build must be given at run time.
func NewTemplateData(in RenderInput) (*TemplateData, []Secret, hcl.Diagnostics) {
	cfg, l, p := in.Config, in.Layer, in.Config.Project
	var diags hcl.Diagnostics
	paths := lineage.Paths{Prefix: p.ParamPrefix, Project: p.Name}

	regions := p.Regions
	if len(l.Regions) > 0 {
		regions = l.Regions
	}
	if len(regions) == 0 {
		regions = []string{"us-east-1"}
	}
	share := l.Sharing(p)
	provisioner := p.Provisioner
	if l.Provisioner != "" {
		provisioner = l.Provisioner
	}
	if provisioner == "" {
		provisioner = ProvisionerSSM
	}
	d := &TemplateData{
		AmibakeVersion:     in.AmibakeVersion,
		Project:            p.Name,
		Layer:              l.Name,
		Fingerprint:        in.Fingerprint.Hash,
		BuildID:            in.BuildID,
		Region:             regions[0],
		CopyRegions:        regions[1:],
		InstanceType:       orDefault(l.InstanceType, "t3.small"),
		VolumeSize:         l.Volume.SizeGiB,
		VolumeType:         orDefault(l.Volume.Type, "gp3"),
		Encrypted:          l.Volume.Encrypted,
		KMSKeyID:           l.KMSKey(p),
		IMDSv2:             l.IMDSv2Required,
		IAMInstanceProfile: p.IAMInstanceProfile,
		SubnetID:           p.SubnetID,
		ShareAccounts:      share.Accounts,
		ShareOrgs:          share.Organizations,
		ShareOUs:           share.OrgUnits,
		Provisioner:        provisioner,
		Channels:           []string{paths.Channel(l.Name, lineage.ChannelLatest)},
		Sandbox:            in.Sandbox,
		PollDelaySeconds:   orDefaultInt(in.PollDelaySeconds, 15),
		PollMaxAttempts:    orDefaultInt(in.PollMaxAttempts, 240),
		StepPollInterval:   orDefaultDuration(in.StepPollInterval, 2*time.Second).String(),
	}
	if d.VolumeSize == 0 {
		d.VolumeSize = 8
	}
	if p.InventoryBucket != "" {
		d.Inventory = &TemplateInventory{Bucket: p.InventoryBucket, Project: p.Name, BuildID: in.BuildID}
	}
	// The latest channel may move only once the AMI's inventory document
	// is recorded, which amibake does after packer: packer moves none.
	if in.NoChannels || d.Inventory != nil {
		d.Channels = nil
	}
	// A root volume cannot be smaller than the snapshot it starts from:
	// a child is at least as big as its largest ancestor.
	seen := map[string]bool{l.Name: true}
	for a := cfg.Layers[l.Parent]; a != nil && !seen[a.Name]; a = cfg.Layers[a.Parent] {
		seen[a.Name] = true
		d.VolumeSize = max(d.VolumeSize, a.Volume.SizeGiB)
	}
	if p.DeprecateAfter > 0 {
		d.DeprecateAt = in.Timestamp.Add(p.DeprecateAfter).UTC().Format(time.RFC3339)
	}

	switch {
	case l.Parent != "":
		d.ParentChannel = paths.Channel(l.Parent, lineage.ChannelLatest)
	case l.Source != nil && l.Source.SSMParameter != "":
		d.SourceParameter = l.Source.SSMParameter
	case l.Source != nil:
		d.SourceOwners = l.Source.Owners
		d.SourceName = l.Source.NameFilter
		d.SourceArchitecture = orDefault(l.Source.Architecture, "x86_64")
	}

	name, nameDiags := amiName(cfg, l, in.Fingerprint, in.Timestamp)
	diags = append(diags, nameDiags...)
	d.AMIName = name
	d.AMIDescription = fmt.Sprintf("amibake %s/%s %s", p.Name, l.Name, in.Fingerprint.Short)

	// Tags: project defaults, then the layer's, then lineage (which wins).
	recipes := make([]lineage.RecipeVersion, 0, len(l.Recipes))
	for _, ref := range l.Recipes {
		if r := cfg.Recipes[ref.Name]; r != nil {
			recipes = append(recipes, lineage.RecipeVersion{Name: r.Name, Version: r.Version})
		}
	}
	lt := lineage.BuildTags{
		Project: p.Name, Layer: l.Name, Fingerprint: in.Fingerprint.Hash,
		ParentFingerprint: in.Fingerprint.Parent, Recipes: recipes, BuildID: in.BuildID,
		RecipeDigests: plan.RecipeDigests(in.Fingerprint), SettingsDigest: plan.SettingsDigest(in.Fingerprint),
		PatchLevel: in.PatchLevel,
	}
	tags := map[string]string{}
	for k, v := range p.DefaultTags {
		tags[k] = v
	}
	for k, v := range l.Tags {
		tags[k] = v
	}
	for k, v := range lt.Map() {
		tags[k] = v
	}
	// Filled in by the amazon plugin with the AMI the build started from.
	if l.Parent != "" {
		tags[lineage.TagParentAMI] = "{{ .SourceAMI }}"
	} else {
		tags[lineage.TagSource] = "{{ .SourceAMI }}"
	}
	tags["Name"] = name
	d.Tags = tags
	d.RunTags = map[string]string{
		lineage.TagProject: p.Name, lineage.TagLayer: l.Name, lineage.TagBuildID: in.BuildID,
		lineage.TagRole: lineage.RoleBuild, "Name": "amibake build " + p.Name + "/" + l.Name,
	}
	if pr := EffectivePatch(cfg, l); pr != nil {
		d.Patch = &TemplatePatch{Name: PatchStepName, Operation: "Install", Reboot: "NoReboot",
			PatchGroup: pr.PatchGroup, Baseline: pr.Baseline}
		if pr.PatchGroup != "" {
			d.RunTags[PatchGroupTag] = pr.PatchGroup
		}
	}

	steps, secrets, stepDiags := resolveSteps(cfg, l, provisioner, paths, in.BuildID)
	diags = append(diags, stepDiags...)
	d.Steps = steps
	if provisioner == ProvisionerSSH {
		for _, s := range secrets {
			d.SecretVars = append(d.SecretVars, SecretVar{Var: secretVarName(s.EnvName), EnvName: s.EnvName})
		}
	}
	return d, secrets, diags
}

func resolveSteps(cfg *config.Config, l *config.Layer, provisioner string, paths lineage.Paths, buildID string) ([]TemplateStep, []Secret, hcl.Diagnostics) {
	var (
		diags   hcl.Diagnostics
		steps   []TemplateStep
		secrets []Secret
	)
	ctx := cfg.EvalContext()
	for _, ref := range l.Recipes {
		r := cfg.Recipes[ref.Name]
		if r == nil {
			continue // reported by config.Load
		}
		inputs, d := r.ResolveInputs(ref)
		diags = append(diags, d...)
		resolved, d := r.ResolveSteps(inputs, ctx)
		diags = append(diags, d...)
		for _, rs := range resolved {
			// Unnamed steps are already "<recipe>/<n>".
			full := rs.Name
			if full == "" {
				full = fmt.Sprintf("%s/%d", r.Name, rs.Index+1)
			} else if !strings.Contains(full, "/") {
				full = r.Name + "/" + full
			}
			name := strings.TrimPrefix(full, r.Name+"/")
			ts := TemplateStep{Name: full, Env: map[string]string{}}
			dir := filepath.Join(cfg.Dir, filepath.FromSlash(r.Dir))
			switch rs.Kind {
			case config.StepScript:
				ts.Script = filepath.Join(dir, filepath.FromSlash(rs.Path))
			case config.StepInline:
				ts.Inline = rs.Inline
			case config.StepFile:
				ts.FileSource = filepath.Join(dir, filepath.FromSlash(rs.Source))
				ts.FileDestination = rs.Destination
				ts.FileMode = orDefault(rs.Mode, "0644")
				ts.StagingPath = "/tmp/amibake-" + sanitize(r.Name+"-"+name)
			}
			for _, k := range sortedKeys(rs.Env) {
				v := rs.Env[k]
				if !rs.SensitiveEnv[k] {
					ts.Env[k] = v
					continue
				}
				s := Secret{Step: ts.Name, Name: k, Value: v}
				if provisioner == ProvisionerSSH {
					s.EnvName = "AMIBAKE_SECRET_" + strings.ToUpper(sanitize(r.Name+"_"+name+"_"+k))
					if ts.SecretEnvVars == nil {
						ts.SecretEnvVars = map[string]string{}
					}
					ts.SecretEnvVars[k] = secretVarName(s.EnvName)
				} else {
					s.Parameter = paths.Secret(buildID, sanitize(r.Name+"-"+name+"-"+k))
					if ts.SecretEnv == nil {
						ts.SecretEnv = map[string]string{}
					}
					ts.SecretEnv[k] = s.Parameter
				}
				secrets = append(secrets, s)
			}
			steps = append(steps, ts)
		}
	}
	return steps, secrets, diags
}

var unsafeRE = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

func sanitize(s string) string { return unsafeRE.ReplaceAllString(s, "_") }

func secretVarName(env string) string { return "secret_" + strings.ToLower(env) }

// amiName evaluates the project's naming pattern for one build.
func amiName(cfg *config.Config, l *config.Layer, fp *graph.Fingerprint, ts time.Time) (string, hcl.Diagnostics) {
	ctx := cfg.EvalContext().NewChild()
	ctx.Variables = map[string]cty.Value{
		"project":           cty.StringVal(cfg.Project.Name),
		"layer":             cty.StringVal(l.Name),
		"fingerprint":       cty.StringVal(fp.Hash),
		"fingerprint_short": cty.StringVal(fp.Short),
		"timestamp":         cty.StringVal(ts.UTC().Format("20060102T150405Z")),
	}
	expr := cfg.Project.AMIName
	if expr == nil {
		return fmt.Sprintf("%s-%s-%s-%s", cfg.Project.Name, l.Name, fp.Short, ts.UTC().Format("20060102T150405Z")), nil
	}
	v, diags := expr.Value(ctx)
	if diags.HasErrors() {
		return "", diags
	}
	if v.IsNull() || !v.IsKnown() || v.Type() != cty.String {
		return "", hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid ami_name", Detail: "ami_name must evaluate to a string.", Subject: expr.Range().Ptr()}}
	}
	name := v.AsString()
	if !amiNameRE.MatchString(name) {
		return "", hcl.Diagnostics{{
			Severity: hcl.DiagError, Summary: "Invalid AMI name",
			Detail:  fmt.Sprintf("ami_name evaluates to %q for layer %q. AMI names are 3 to 128 characters of letters, digits and ( ) [ ] space . / - ' @ _.", name, l.Name),
			Subject: expr.Range().Ptr(),
		}}
	}
	return name, nil
}

var amiNameRE = regexp.MustCompile(`^[A-Za-z0-9()\[\] ./\-'@_]{3,128}$`)

// Render executes the layer template: the project's own
// templates/layer.pkr.hcl.tmpl when it exists, else the built-in one.
func Render(projectDir string, d *TemplateData) ([]byte, error) {
	src, err := loadTemplate(projectDir)
	if err != nil {
		return nil, err
	}
	tmpl, err := template.New(templates.Layer).Funcs(template.FuncMap{
		"hcl":    hclLiteral,
		"hclenv": hclEnv,
	}).Option("missingkey=error").Parse(string(src))
	if err != nil {
		return nil, fmt.Errorf("parse template %s: %w", templates.Layer, err)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, d); err != nil {
		return nil, fmt.Errorf("render layer %s: %w", d.Layer, err)
	}
	// Canonical formatting, so rendered templates diff cleanly.
	return hclwrite.Format(buf.Bytes()), nil
}

func loadTemplate(projectDir string) ([]byte, error) {
	if projectDir != "" {
		p := filepath.Join(projectDir, "templates", templates.Layer)
		b, err := os.ReadFile(p)
		if err == nil {
			return b, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("read template override: %w", err)
		}
	}
	return fs.ReadFile(templates.FS, templates.Layer)
}

// hclLiteral renders a Go value as an HCL literal with correct escaping;
// "${" and "%{" in values are escaped so no value is ever interpolated.
func hclLiteral(v any) (string, error) {
	cv, err := toCty(v)
	if err != nil {
		return "", err
	}
	return string(hclwrite.TokensForValue(cv).Bytes()), nil
}

func toCty(v any) (cty.Value, error) {
	switch x := v.(type) {
	case string:
		return cty.StringVal(x), nil
	case bool:
		return cty.BoolVal(x), nil
	case int:
		return cty.NumberIntVal(int64(x)), nil
	case []string:
		if len(x) == 0 {
			return cty.ListValEmpty(cty.String), nil
		}
		vals := make([]cty.Value, len(x))
		for i, s := range x {
			vals[i] = cty.StringVal(s)
		}
		return cty.TupleVal(vals), nil
	case map[string]string:
		if len(x) == 0 {
			return cty.EmptyObjectVal, nil
		}
		vals := make(map[string]cty.Value, len(x))
		for k, s := range x {
			vals[k] = cty.StringVal(s)
		}
		return cty.ObjectVal(vals), nil
	}
	return cty.NilVal, fmt.Errorf("hcl: unsupported value %T", v)
}

// hclEnv renders an env map whose sensitive entries are references to
// sensitive variables rather than literals.
func hclEnv(env map[string]string, secretVars map[string]string) string {
	keys := map[string]bool{}
	for k := range env {
		keys[k] = true
	}
	for k := range secretVars {
		keys[k] = true
	}
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("{\n")
	for _, k := range names {
		key := string(hclwrite.TokensForValue(cty.StringVal(k)).Bytes())
		if v, ok := secretVars[k]; ok {
			fmt.Fprintf(&b, "%s = var.%s\n", key, v)
			continue
		}
		fmt.Fprintf(&b, "%s = %s\n", key, hclwrite.TokensForValue(cty.StringVal(env[k])).Bytes())
	}
	b.WriteString("}")
	return b.String()
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func orDefaultInt(n, def int) int {
	if n == 0 {
		return def
	}
	return n
}

func orDefaultDuration(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
