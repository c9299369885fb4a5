package config

import (
	"fmt"
	"regexp"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Fleet strategies and defaults.
const (
	StrategyReplace = "replace"
	StrategyInPlace = "in-place"

	DefaultChannel           = "stable"
	DefaultMinHealthyPercent = 90
	DefaultReboot            = "if-needed"
	DefaultCanaryInstances   = 1
	DefaultRetireKeep        = 3
)

var (
	strategies        = []string{StrategyReplace, StrategyInPlace}
	rebootOptions     = []string{"if-needed", "always", "never"}
	directions        = []string{"lower-is-better", "higher-is-better"}
	channelRe         = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	countOrPercentRe  = regexp.MustCompile(`^[0-9]+%?$`)
	tolerancePercent  = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?%$`)
	maintenanceWindow = regexp.MustCompile(`^(mon|tue|wed|thu|fri|sat|sun)-([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-3]):([0-5][0-9])$`)
)

var fleetBlockSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "layer", Required: true},
		{Name: "channel"},
		{Name: "strategy", Required: true},
		{Name: "asg"},
	},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "targets"},
		{Type: "patch"},
		{Type: "rollout"},
		{Type: "canary"},
		{Type: "retire"},
	},
}

var targetsBlockSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "tags", Required: true}},
}

var rolloutBlockSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "checkpoints"},
		{Name: "checkpoint_wait"},
		{Name: "min_healthy_percent"},
		{Name: "abort_on_alarms"},
		{Name: "max_concurrency"},
		{Name: "max_errors"},
		{Name: "maintenance_window"},
		{Name: "reboot"},
	},
}

var canaryBlockSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "instances"},
		{Name: "window"},
		{Name: "interval"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "metric", LabelNames: []string{"name"}}},
}

var metricBlockSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "namespace"},
		{Name: "name"},
		{Name: "dimensions"},
		{Name: "expression"},
		{Name: "statistic"},
		{Name: "direction"},
		{Name: "tolerance"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "query", LabelNames: []string{"id"}}},
}

var retireBlockSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "keep"},
		{Name: "grace"},
	},
}

func decodeFleetBlock(block *hcl.Block, sc *scope) (*Fleet, hcl.Diagnostics) {
	f := &Fleet{
		Name:      block.Labels[0],
		Channel:   DefaultChannel,
		Rollout:   Rollout{Checkpoints: []int{100}, MinHealthyPercent: DefaultMinHealthyPercent, Reboot: DefaultReboot},
		Retire:    Retire{Keep: DefaultRetireKeep},
		DeclRange: block.DefRange,
	}
	diags := checkLabel(block, "fleet", blockNameRe, blockNameHint)
	content, d := block.Body.Content(fleetBlockSchema)
	diags = append(diags, d...)
	attrs := content.Attributes

	if attr, ok := attrs["layer"]; ok {
		name, d := blockRef(attr.Expr, "layer", "layer = %s")
		diags = append(diags, d...)
		f.Layer, f.LayerRange = name, attr.Expr.Range()
	}
	diags = append(diags, sc.setString(attrs, "channel", &f.Channel)...)
	diags = append(diags, checkPattern(attrs, "channel", f.Channel, channelRe, "channel", `use lowercase letters, digits, "_" and "-", like "stable" or "canary"`)...)
	strategyDiags := sc.setString(attrs, "strategy", &f.Strategy)
	diags = append(diags, strategyDiags...)
	if !strategyDiags.HasErrors() && f.Strategy != "" {
		strategyDiags = checkOneOf(attrs, "strategy", f.Strategy, "strategy", strategies...)
		diags = append(diags, strategyDiags...)
	}
	diags = append(diags, sc.setStrings(attrs, "asg", &f.ASGs)...)

	blocks := map[string]*hcl.Block{}
	for _, b := range content.Blocks {
		if first, dup := blocks[b.Type]; dup {
			diags = append(diags, duplicateBlock(b, first))
			continue
		}
		blocks[b.Type] = b
	}
	if b := blocks["targets"]; b != nil {
		c, d := b.Body.Content(targetsBlockSchema)
		diags = append(diags, d...)
		diags = append(diags, sc.setStringMap(c.Attributes, "tags", &f.TargetTags)...)
		if attr, ok := c.Attributes["tags"]; ok && f.TargetTags != nil && len(f.TargetTags) == 0 {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "No target tags",
				Detail:   `targets selects instances by tag and needs at least one, like tags = { role = "web" }: an empty filter would match every instance.`,
				Subject:  attr.Expr.Range().Ptr(),
			})
		}
	}

	// Each strategy needs its own way to find instances, and only that.
	if !strategyDiags.HasErrors() {
		switch f.Strategy {
		case StrategyReplace:
			if _, ok := attrs["asg"]; !ok {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Missing asg for a replace fleet",
					Detail:   `A replace fleet rolls out through instance refreshes of its Auto Scaling groups: add asg = ["NAME", ...], or use strategy = "in-place" with a targets {} block.`,
					Subject:  f.DeclRange.Ptr(),
				})
			} else if f.ASGs != nil && len(f.ASGs) == 0 {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Missing asg for a replace fleet",
					Detail:   `asg must name at least one Auto Scaling group.`,
					Subject:  attrs["asg"].Expr.Range().Ptr(),
				})
			}
			if b := blocks["targets"]; b != nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "targets in a replace fleet",
					Detail:   `targets selects instances of an in-place fleet; a replace fleet uses asg. Remove targets, or set strategy = "in-place".`,
					Subject:  b.DefRange.Ptr(),
				})
			}
		case StrategyInPlace:
			if blocks["targets"] == nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Missing targets for an in-place fleet",
					Detail:   `An in-place fleet patches running instances selected by tag: add targets { tags = { role = "web" } }, or use strategy = "replace" with asg = [...].`,
					Subject:  f.DeclRange.Ptr(),
				})
			}
			if attr, ok := attrs["asg"]; ok {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "asg in an in-place fleet",
					Detail:   `asg lists the Auto Scaling groups of a replace fleet; an in-place fleet selects instances with targets {}. Remove asg, or set strategy = "replace".`,
					Subject:  attr.NameRange.Ptr(),
				})
			}
		}
	}

	if b := blocks["patch"]; b != nil {
		p, d := decodePatchRef(b, sc)
		diags = append(diags, d...)
		f.Patch = p
	}
	if b := blocks["rollout"]; b != nil {
		diags = append(diags, decodeRolloutBlock(b, sc, &f.Rollout)...)
	}
	if b := blocks["canary"]; b != nil {
		c, d := decodeCanaryBlock(b, sc)
		diags = append(diags, d...)
		f.Canary = c
	}
	if b := blocks["retire"]; b != nil {
		f.Retire.DeclRange = b.DefRange
		c, d := b.Body.Content(retireBlockSchema)
		diags = append(diags, d...)
		diags = append(diags, sc.setInt(c.Attributes, "keep", &f.Retire.Keep)...)
		if attr, ok := c.Attributes["keep"]; ok && f.Retire.Keep < 1 {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid keep",
				Detail:   fmt.Sprintf("retire keeps the newest N AMIs, at least 1 (the one in use); got %d.", f.Retire.Keep),
				Subject:  attr.Expr.Range().Ptr(),
			})
		}
		diags = append(diags, sc.setDuration(c.Attributes, "grace", &f.Retire.Grace)...)
	}
	return f, diags
}

func decodeRolloutBlock(block *hcl.Block, sc *scope, r *Rollout) hcl.Diagnostics {
	r.DeclRange = block.DefRange
	content, diags := block.Body.Content(rolloutBlockSchema)
	attrs := content.Attributes

	if attr, ok := attrs["checkpoints"]; ok {
		v, ok, d := sc.attrValue(attrs, "checkpoints", cty.List(cty.Number))
		diags = append(diags, d...)
		if ok {
			var cps []int
			if d := toGo(attr, v, &cps); d.HasErrors() {
				diags = append(diags, d...)
			} else {
				if d := checkCheckpoints(attr, cps); d.HasErrors() {
					diags = append(diags, d...)
				} else {
					r.Checkpoints = cps
				}
			}
		}
	}
	diags = append(diags, sc.setDuration(attrs, "checkpoint_wait", &r.CheckpointWait)...)
	diags = append(diags, sc.setInt(attrs, "min_healthy_percent", &r.MinHealthyPercent)...)
	if attr, ok := attrs["min_healthy_percent"]; ok && (r.MinHealthyPercent < 0 || r.MinHealthyPercent > 100) {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid min_healthy_percent",
			Detail:   fmt.Sprintf("min_healthy_percent is a percentage from 0 to 100; got %d.", r.MinHealthyPercent),
			Subject:  attr.Expr.Range().Ptr(),
		})
	}
	diags = append(diags, sc.setStrings(attrs, "abort_on_alarms", &r.AbortOnAlarms)...)
	for _, name := range []string{"max_concurrency", "max_errors"} {
		dst := &r.MaxConcurrency
		if name == "max_errors" {
			dst = &r.MaxErrors
		}
		diags = append(diags, sc.setString(attrs, name, dst)...)
		if *dst != "" {
			diags = append(diags, checkPattern(attrs, name, *dst, countOrPercentRe, name,
				`use a count like "5" or a percentage like "10%"`)...)
		}
	}
	diags = append(diags, sc.setString(attrs, "maintenance_window", &r.MaintenanceWindow)...)
	if r.MaintenanceWindow != "" {
		diags = append(diags, checkMaintenanceWindow(attrs["maintenance_window"], r.MaintenanceWindow)...)
	}
	diags = append(diags, sc.setString(attrs, "reboot", &r.Reboot)...)
	diags = append(diags, checkOneOf(attrs, "reboot", r.Reboot, "reboot option", rebootOptions...)...)
	return diags
}

// checkCheckpoints: percentages of the fleet, strictly ascending, within
// 1..100 and ending at 100 (a rollout that stops short never finishes).
func checkCheckpoints(attr *hcl.Attribute, cps []int) hcl.Diagnostics {
	bad := func(detail string) hcl.Diagnostics {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid checkpoints",
			Detail:   detail + ` Checkpoints are percentages of the fleet in ascending order ending at 100, like [10, 50, 100].`,
			Subject:  attr.Expr.Range().Ptr(),
		}}
	}
	if len(cps) == 0 {
		return bad("The list is empty.")
	}
	for i, c := range cps {
		if c < 1 || c > 100 {
			return bad(fmt.Sprintf("%d is not between 1 and 100.", c))
		}
		if i > 0 && c <= cps[i-1] {
			return bad(fmt.Sprintf("%d comes after %d.", c, cps[i-1]))
		}
	}
	if last := cps[len(cps)-1]; last != 100 {
		return bad(fmt.Sprintf("The last checkpoint is %d, so the rollout would never reach the whole fleet.", last))
	}
	return nil
}

// checkMaintenanceWindow checks "DAY-HH:MM-HH:MM". The end may be earlier
// than the start: the window then runs past midnight.
func checkMaintenanceWindow(attr *hcl.Attribute, w string) hcl.Diagnostics {
	m := maintenanceWindow.FindStringSubmatch(w)
	detail := ""
	switch {
	case m == nil:
		detail = fmt.Sprintf("%q is not a maintenance window: use DAY-HH:MM-HH:MM in UTC with a three-letter lowercase day, like \"sun-02:00-04:00\".", w)
	case m[2]+m[3] == m[4]+m[5]:
		detail = fmt.Sprintf("%q starts and ends at the same time; the window would be empty.", w)
	default:
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Invalid maintenance window",
		Detail:   detail,
		Subject:  attr.Expr.Range().Ptr(),
	}}
}

func decodeCanaryBlock(block *hcl.Block, sc *scope) (*Canary, hcl.Diagnostics) {
	c := &Canary{Instances: DefaultCanaryInstances, DeclRange: block.DefRange}
	content, diags := block.Body.Content(canaryBlockSchema)
	attrs := content.Attributes
	diags = append(diags, sc.setInt(attrs, "instances", &c.Instances)...)
	if attr, ok := attrs["instances"]; ok && c.Instances < 1 {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid canary instances",
			Detail:   fmt.Sprintf("A canary compares at least 1 new instance with 1 baseline instance; got %d.", c.Instances),
			Subject:  attr.Expr.Range().Ptr(),
		})
	}
	diags = append(diags, sc.setDuration(attrs, "window", &c.Window)...)
	diags = append(diags, sc.setDuration(attrs, "interval", &c.Interval)...)
	seen := map[string]hcl.Range{}
	for _, b := range content.Blocks {
		m, d := decodeMetricBlock(b, sc)
		diags = append(diags, d...)
		if first, dup := seen[m.Name]; dup {
			diags = append(diags, duplicate("metric", m.Name, first, m.DeclRange))
			continue
		}
		seen[m.Name] = m.DeclRange
		c.Metrics = append(c.Metrics, m)
	}
	return c, diags
}

func decodeMetricBlock(block *hcl.Block, sc *scope) (*CanaryMetric, hcl.Diagnostics) {
	m := &CanaryMetric{Name: block.Labels[0], Direction: directions[0], Dimensions: map[string]string{}, DeclRange: block.DefRange}
	content, diags := block.Body.Content(metricBlockSchema)
	attrs := content.Attributes
	diags = append(diags, sc.setString(attrs, "namespace", &m.Namespace)...)
	diags = append(diags, sc.setString(attrs, "name", &m.MetricName)...)
	diags = append(diags, sc.setStringMap(attrs, "dimensions", &m.Dimensions)...)
	exprDiags := sc.setString(attrs, "expression", &m.Expression)
	diags = append(diags, exprDiags...)
	diags = append(diags, sc.setString(attrs, "statistic", &m.Statistic)...)
	diags = append(diags, sc.setString(attrs, "direction", &m.Direction)...)
	diags = append(diags, checkOneOf(attrs, "direction", m.Direction, "direction", directions...)...)
	diags = append(diags, sc.setString(attrs, "tolerance", &m.Tolerance)...)
	if m.Tolerance != "" {
		diags = append(diags, checkPattern(attrs, "tolerance", m.Tolerance, tolerancePercent, "tolerance", `use a percentage like "10%"`)...)
	}

	diags = append(diags, decodeMetricSource(m, attrs, content.Blocks, !exprDiags.HasErrors(), sc)...)
	return m, diags
}
