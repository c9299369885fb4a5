// Package baseline is "baselines as code": the SSM patch baselines and
// patch-group registrations a project's HCL declares (patch_baseline
// blocks, the patch {} blocks of layers and fleets), the state SSM holds,
// the diff between them and the calls that converge SSM on the HCL.
//
// Every baseline amibake owns is named amibake-<project>-<name> and tagged
// amibake:project; only those (and the patch groups registered to them)
// are ever changed or deregistered.
package baseline

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/lineage"
)

// Name is the SSM name of a project's baseline.
func Name(project, baseline string) string { return Prefix(project) + baseline }

// Prefix is what every SSM baseline name of the project starts with.
func Prefix(project string) string { return "amibake-" + project + "-" }

// Rule is one approval rule as SSM stores it.
type Rule struct {
	Classification   []string `json:"classification,omitempty"`
	Severity         []string `json:"severity,omitempty"`
	ApproveAfterDays int      `json:"approve_after_days"`
	ComplianceLevel  string   `json:"compliance_level"`
}

func (r Rule) String() string {
	return fmt.Sprintf("classification=[%s] severity=[%s] approve_after_days=%d compliance_level=%s",
		strings.Join(r.Classification, ","), strings.Join(r.Severity, ","), r.ApproveAfterDays, r.ComplianceLevel)
}

// Baseline is one patch baseline, desired or current.
type Baseline struct {
	// Key is the patch_baseline block name (empty for a current baseline
	// whose name does not follow the project's prefix).
	Key             string   `json:"key"`
	Name            string   `json:"name"`
	ID              string   `json:"id,omitempty"`
	OperatingSystem string   `json:"operating_system"`
	Description     string   `json:"description"`
	ApprovalRules   []Rule   `json:"approval_rules"`
	ApprovedPatches []string `json:"approved_patches"`
	RejectedPatches []string `json:"rejected_patches"`
}

// Desired is what the HCL declares.
type Desired struct {
	Project   string
	Baselines map[string]*Baseline // by SSM name
	// Groups maps each patch group to the SSM name of its baseline.
	Groups map[string]string
}

// FromConfig builds the desired state. A patch group that two patch {}
// blocks bind to different baselines is an error.
func FromConfig(cfg *config.Config) (*Desired, error) {
	project := cfg.Project.Name
	d := &Desired{Project: project, Baselines: map[string]*Baseline{}, Groups: map[string]string{}}
	for _, key := range sortedKeys(cfg.PatchBaselines) {
		pb := cfg.PatchBaselines[key]
		b := &Baseline{Key: key, Name: Name(project, key), OperatingSystem: pb.OperatingSystem, Description: pb.Description,
			ApprovedPatches: orEmpty(pb.ApprovedPatches), RejectedPatches: orEmpty(pb.RejectedPatches), ApprovalRules: []Rule{}}
		for _, r := range pb.ApprovalRules {
			lvl := r.ComplianceLevel
			if lvl == "" {
				lvl = "UNSPECIFIED"
			}
			b.ApprovalRules = append(b.ApprovalRules, Rule{Classification: r.Classification, Severity: r.Severity,
				ApproveAfterDays: r.ApproveAfterDays, ComplianceLevel: lvl})
		}
		d.Baselines[b.Name] = b
	}
	where := map[string]string{}
	add := func(owner string, p *config.PatchRef) error {
		if p == nil || p.PatchGroup == "" || p.Baseline == "" {
			return nil
		}
		name := Name(project, p.Baseline)
		if cur, ok := d.Groups[p.PatchGroup]; ok && cur != name {
			return fmt.Errorf("patch group %q is bound to %s by %s and to %s by %s: one group, one baseline",
				p.PatchGroup, cur, where[p.PatchGroup], name, owner)
		}
		d.Groups[p.PatchGroup], where[p.PatchGroup] = name, owner
		return nil
	}
	for _, n := range sortedKeys(cfg.Layers) {
		if err := add("layer "+n, cfg.Layers[n].Patch); err != nil {
			return nil, err
		}
	}
	for _, n := range sortedKeys(cfg.Fleets) {
		if err := add("fleet "+n, cfg.Fleets[n].Patch); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// Current is what SSM holds for the project.
type Current struct {
	Baselines map[string]*Baseline // by SSM name: the project's baselines
	// Groups maps every patch group registered (for any OS) to the name
	// and id of its baseline.
	Groups map[string]GroupBinding
}

// GroupBinding is a patch group's registration.
type GroupBinding struct {
	BaselineName string
	BaselineID   string
	OS           string
}

// Observe reads the project's baselines (DescribePatchBaselines filtered
// on the name prefix, then GetPatchBaseline each) and every patch group
// registration (DescribePatchGroups).
func Observe(ctx context.Context, client awsapi.SSM, project string) (*Current, error) {
	cur := &Current{Baselines: map[string]*Baseline{}, Groups: map[string]GroupBinding{}}
	var token *string
	for {
		out, err := client.DescribePatchBaselines(ctx, &ssm.DescribePatchBaselinesInput{
			Filters: []ssmtypes.PatchOrchestratorFilter{
				{Key: aws.String("NAME_PREFIX"), Values: []string{Prefix(project)}},
				{Key: aws.String("OWNER"), Values: []string{"Self"}},
			},
			MaxResults: aws.Int32(100), NextToken: token,
		})
		if err != nil {
			return nil, fmt.Errorf("describe patch baselines %s*: %w", Prefix(project), err)
		}
		for _, id := range out.BaselineIdentities {
			got, err := client.GetPatchBaseline(ctx, &ssm.GetPatchBaselineInput{BaselineId: id.BaselineId})
			if err != nil {
				return nil, fmt.Errorf("get patch baseline %s: %w", aws.ToString(id.BaselineId), err)
			}
			b := fromSSM(got)
			b.Key = strings.TrimPrefix(b.Name, Prefix(project))
			cur.Baselines[b.Name] = b
		}
		if token = out.NextToken; token == nil {
			break
		}
	}
	token = nil
	for {
		out, err := client.DescribePatchGroups(ctx, &ssm.DescribePatchGroupsInput{MaxResults: aws.Int32(100), NextToken: token})
		if err != nil {
			return nil, fmt.Errorf("describe patch groups: %w", err)
		}
		for _, m := range out.Mappings {
			if m.BaselineIdentity == nil {
				continue
			}
			cur.Groups[aws.ToString(m.PatchGroup)] = GroupBinding{
				BaselineName: aws.ToString(m.BaselineIdentity.BaselineName),
				BaselineID:   aws.ToString(m.BaselineIdentity.BaselineId),
				OS:           string(m.BaselineIdentity.OperatingSystem),
			}
		}
		if token = out.NextToken; token == nil {
			break
		}
	}
	return cur, nil
}

func fromSSM(out *ssm.GetPatchBaselineOutput) *Baseline {
	b := &Baseline{Name: aws.ToString(out.Name), ID: aws.ToString(out.BaselineId), OperatingSystem: string(out.OperatingSystem),
		Description: aws.ToString(out.Description), ApprovedPatches: orEmpty(out.ApprovedPatches),
		RejectedPatches: orEmpty(out.RejectedPatches), ApprovalRules: []Rule{}}
	if out.ApprovalRules != nil {
		for _, r := range out.ApprovalRules.PatchRules {
			rule := Rule{ComplianceLevel: string(r.ComplianceLevel), ApproveAfterDays: int(aws.ToInt32(r.ApproveAfterDays))}
			if rule.ComplianceLevel == "" {
				rule.ComplianceLevel = "UNSPECIFIED"
			}
			if r.PatchFilterGroup != nil {
				for _, f := range r.PatchFilterGroup.PatchFilters {
					switch f.Key {
					case ssmtypes.PatchFilterKeyClassification:
						rule.Classification = f.Values
					case ssmtypes.PatchFilterKeySeverity:
						rule.Severity = f.Values
					}
				}
			}
			b.ApprovalRules = append(b.ApprovalRules, rule)
		}
	}
	return b
}

// Change actions.
const (
	ActionCreate     = "create"
	ActionUpdate     = "update"
	ActionRegister   = "register"
	ActionDeregister = "deregister"
)

// FieldChange is one field of an update.
type FieldChange struct {
	Field string `json:"field"`
	Old   string `json:"old"`
	New   string `json:"new"`
}

// Change is one step of the diff.
type Change struct {
	// Region is set by callers that converge several regions.
	Region   string `json:"region,omitempty"`
	Action   string `json:"action"`
	Baseline string `json:"baseline"` // SSM name
	// BaselineID is known for existing baselines.
	BaselineID string        `json:"baseline_id,omitempty"`
	PatchGroup string        `json:"patch_group,omitempty"`
	Fields     []FieldChange `json:"fields,omitempty"`
	// Reason says why a group is deregistered (stale, or moving to another baseline).
	Reason string `json:"reason,omitempty"`

	desired *Baseline
}

// String is the change as the diff prints it (one line, fields below).
func (c Change) String() string {
	switch c.Action {
	case ActionCreate:
		return "+ create baseline " + c.Baseline
	case ActionUpdate:
		return "~ update baseline " + c.Baseline + " (" + c.BaselineID + ")"
	case ActionRegister:
		return fmt.Sprintf("+ register patch group %q → %s", c.PatchGroup, c.Baseline)
	default:
		s := fmt.Sprintf("- deregister patch group %q from %s", c.PatchGroup, c.Baseline)
		if c.Reason != "" {
			s += " (" + c.Reason + ")"
		}
		return s
	}
}

// Diff is the ordered list of changes that makes current desired:
// creates and updates, then deregistrations, then registrations.
func Diff(d *Desired, cur *Current) ([]Change, error) {
	var changes []Change
	for _, name := range sortedKeys(d.Baselines) {
		want := d.Baselines[name]
		have := cur.Baselines[name]
		if have == nil {
			c := Change{Action: ActionCreate, Baseline: name, desired: want}
			c.Fields = fieldChanges(&Baseline{}, want)
			changes = append(changes, c)
			continue
		}
		if have.OperatingSystem != want.OperatingSystem {
			return nil, fmt.Errorf("baseline %s (%s) is for %s, the HCL says %s: SSM cannot change a baseline's operating system; deregister its patch groups and delete it, then apply again",
				name, have.ID, have.OperatingSystem, want.OperatingSystem)
		}
		if fs := fieldChanges(have, want); len(fs) > 0 {
			changes = append(changes, Change{Action: ActionUpdate, Baseline: name, BaselineID: have.ID, Fields: fs, desired: want})
		}
	}
	var dereg, reg []Change
	prefix := Prefix(d.Project)
	for _, g := range sortedKeys(cur.Groups) {
		b := cur.Groups[g]
		want, desired := d.Groups[g]
		switch {
		case desired && want == b.BaselineName:
		case desired:
			dereg = append(dereg, Change{Action: ActionDeregister, Baseline: b.BaselineName, BaselineID: b.BaselineID, PatchGroup: g,
				Reason: "moves to " + want})
		case strings.HasPrefix(b.BaselineName, prefix):
			dereg = append(dereg, Change{Action: ActionDeregister, Baseline: b.BaselineName, BaselineID: b.BaselineID, PatchGroup: g,
				Reason: "no layer or fleet uses it"})
		}
	}
	for _, g := range sortedKeys(d.Groups) {
		if b, ok := cur.Groups[g]; !ok || b.BaselineName != d.Groups[g] {
			c := Change{Action: ActionRegister, Baseline: d.Groups[g], PatchGroup: g}
			if have := cur.Baselines[d.Groups[g]]; have != nil {
				c.BaselineID = have.ID
			}
			reg = append(reg, c)
		}
	}
	changes = append(changes, dereg...)
	return append(changes, reg...), nil
}

func fieldChanges(have, want *Baseline) []FieldChange {
	var out []FieldChange
	add := func(field, o, n string) {
		if o != n {
			out = append(out, FieldChange{Field: field, Old: o, New: n})
		}
	}
	add("operating_system", have.OperatingSystem, want.OperatingSystem)
	add("description", have.Description, want.Description)
	for i := 0; i < max(len(have.ApprovalRules), len(want.ApprovalRules)); i++ {
		var o, n string
		if i < len(have.ApprovalRules) {
			o = canonical(have.ApprovalRules[i]).String()
		}
		if i < len(want.ApprovalRules) {
			n = canonical(want.ApprovalRules[i]).String()
		}
		add("approval_rule["+strconv.Itoa(i)+"]", o, n)
	}
	add("approved_patches", setString(have.ApprovedPatches), setString(want.ApprovedPatches))
	add("rejected_patches", setString(have.RejectedPatches), setString(want.RejectedPatches))
	return out
}

func canonical(r Rule) Rule {
	r.Classification = sortedCopy(r.Classification)
	r.Severity = sortedCopy(r.Severity)
	return r
}

func setString(s []string) string { return "[" + strings.Join(sortedCopy(s), ",") + "]" }

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	sort.Strings(c)
	return c
}

// Apply makes the changes in order. Created baselines are tagged
// amibake:project; registrations of a baseline created in the same run use
// its new id.
func Apply(ctx context.Context, client awsapi.SSM, project string, changes []Change) error {
	ids := map[string]string{}
	for _, c := range changes {
		if c.BaselineID != "" {
			ids[c.Baseline] = c.BaselineID
		}
	}
	for _, c := range changes {
		switch c.Action {
		case ActionCreate:
			b := c.desired
			out, err := client.CreatePatchBaseline(ctx, &ssm.CreatePatchBaselineInput{
				Name: aws.String(b.Name), OperatingSystem: ssmtypes.OperatingSystem(b.OperatingSystem),
				Description: nonEmpty(b.Description), ApprovalRules: rulesToSSM(b.ApprovalRules),
				ApprovedPatches: b.ApprovedPatches, RejectedPatches: b.RejectedPatches,
				Tags: []ssmtypes.Tag{{Key: aws.String(lineage.TagProject), Value: aws.String(project)}},
			})
			if err != nil {
				return fmt.Errorf("create patch baseline %s: %w", b.Name, err)
			}
			ids[b.Name] = aws.ToString(out.BaselineId)
		case ActionUpdate:
			b := c.desired
			_, err := client.UpdatePatchBaseline(ctx, &ssm.UpdatePatchBaselineInput{
				BaselineId: aws.String(c.BaselineID), Name: aws.String(b.Name), Description: aws.String(b.Description),
				ApprovalRules: rulesToSSM(b.ApprovalRules), ApprovedPatches: b.ApprovedPatches, RejectedPatches: b.RejectedPatches,
				Replace: aws.Bool(true),
			})
			if err != nil {
				return fmt.Errorf("update patch baseline %s (%s): %w", b.Name, c.BaselineID, err)
			}
		case ActionDeregister:
			_, err := client.DeregisterPatchBaselineForPatchGroup(ctx, &ssm.DeregisterPatchBaselineForPatchGroupInput{
				BaselineId: aws.String(c.BaselineID), PatchGroup: aws.String(c.PatchGroup)})
			if err != nil {
				return fmt.Errorf("deregister patch group %q from %s: %w", c.PatchGroup, c.Baseline, err)
			}
		case ActionRegister:
			id := ids[c.Baseline]
			if id == "" {
				return fmt.Errorf("register patch group %q: baseline %s does not exist", c.PatchGroup, c.Baseline)
			}
			_, err := client.RegisterPatchBaselineForPatchGroup(ctx, &ssm.RegisterPatchBaselineForPatchGroupInput{
				BaselineId: aws.String(id), PatchGroup: aws.String(c.PatchGroup)})
			if err != nil {
				return fmt.Errorf("register patch group %q with %s: %w", c.PatchGroup, c.Baseline, err)
			}
		}
	}
	return nil
}

func rulesToSSM(rules []Rule) *ssmtypes.PatchRuleGroup {
	g := &ssmtypes.PatchRuleGroup{PatchRules: []ssmtypes.PatchRule{}}
	for _, r := range rules {
		fg := &ssmtypes.PatchFilterGroup{PatchFilters: []ssmtypes.PatchFilter{}}
		if len(r.Classification) > 0 {
			fg.PatchFilters = append(fg.PatchFilters, ssmtypes.PatchFilter{Key: ssmtypes.PatchFilterKeyClassification, Values: r.Classification})
		}
		if len(r.Severity) > 0 {
			fg.PatchFilters = append(fg.PatchFilters, ssmtypes.PatchFilter{Key: ssmtypes.PatchFilterKeySeverity, Values: r.Severity})
		}
		g.PatchRules = append(g.PatchRules, ssmtypes.PatchRule{PatchFilterGroup: fg,
			ApproveAfterDays: aws.Int32(int32(r.ApproveAfterDays)), ComplianceLevel: ssmtypes.PatchComplianceLevel(r.ComplianceLevel)})
	}
	return g
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
