// Package associate is `amibake patch associate [--apply]`: keep two State
// Manager associations per fleet — a daily AWS-RunPatchBaseline Scan and a
// daily AWS-GatherSoftwareInventory — targeted at the fleet's instances
// with the fleet's rollout rate control. Dry-run by default; --apply
// converges under the project lock; a second run changes nothing.
package associate

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/channel"
	"github.com/amibake/amibake/internal/cmd/patch/applyflow"
	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/config"
)

// Documents and default schedules. The fleet schema has no schedule
// attribute, so every fleet gets these (docs/patch.md).
const (
	ScanDocument      = "AWS-RunPatchBaseline"
	InventoryDocument = "AWS-GatherSoftwareInventory"
	ScanSchedule      = "cron(0 3 * * ? *)"
	InventorySchedule = "rate(1 day)"
	// ASGTagKey is the tag Auto Scaling puts on the instances of a group.
	ASGTagKey     = "aws:autoscaling:groupName"
	patchGroupTag = "Patch Group"
)

// Actions of a change.
const (
	ActionCreate = "create"
	ActionUpdate = "update"
	ActionDelete = "delete"
)

// AssociateOptions are the inputs of patch associate.
type AssociateOptions = applyflow.Options

// Spec is one association as amibake wants it (or as SSM holds it).
type Spec struct {
	Name           string              `json:"name"`
	Fleet          string              `json:"fleet,omitempty"`
	Document       string              `json:"document"`
	Targets        []Target            `json:"targets"`
	Schedule       string              `json:"schedule"`
	Parameters     map[string][]string `json:"parameters,omitempty"`
	MaxConcurrency string              `json:"max_concurrency,omitempty"`
	MaxErrors      string              `json:"max_errors,omitempty"`
	// ID is SSM's association id (current state only).
	ID string `json:"-"`
}

// Target is an SSM target (tag:K, InstanceIds).
type Target = applyflow.Target

// FieldChange is one field of an update.
type FieldChange = applyflow.FieldChange

// Change is one step of the plan.
type Change struct {
	Action        string        `json:"action"`
	Association   string        `json:"association"`
	AssociationID string        `json:"association_id,omitempty"`
	Fleet         string        `json:"fleet,omitempty"`
	Fields        []FieldChange `json:"fields,omitempty"`
	Reason        string        `json:"reason,omitempty"`
	// Recreate: the document changed — applied as delete + create, so the
	// association's history does not mix documents.
	Recreate bool  `json:"recreate,omitempty"`
	desired  *Spec `json:"-"`
}

// Result is the JSON output.
type Result struct {
	Changes []Change `json:"changes"`
	Applied bool     `json:"applied"`
}

// NewCmdAssociate builds the command; runF replaces the run in tests.
func NewCmdAssociate(f *cmdutil.Factory, runF func(context.Context, *AssociateOptions) error) *cli.Command {
	return &cli.Command{
		Name:  "associate",
		Usage: "keep State Manager associations (daily patch scan and software inventory) for every fleet",
		Description: "Desired state: per fleet, amibake-<project>-<fleet>-scan (AWS-RunPatchBaseline\n" +
			"Operation=Scan, " + ScanSchedule + ") and amibake-<project>-<fleet>-inventory\n" +
			"(AWS-GatherSoftwareInventory, " + InventorySchedule + "), targeted by the fleet's targets { tags },\n" +
			"else its ASGs (tag:" + ASGTagKey + "), else its patch group; MaxConcurrency and\n" +
			"MaxErrors from its rollout block. Prints the diff against ListAssociations (create,\n" +
			"update field by field, delete stale amibake-<project>-* associations) in the home\n" +
			"region. Dry-run unless --apply, which takes the project lock and converges; a\n" +
			"second run shows no changes. docs/patch.md.\n\n" +
			"   amibake patch associate            # diff only\n" +
			"   amibake patch associate --apply",
		Flags:  applyflow.Flags(),
		Action: applyflow.Action(f, "patch associate", runF, associateRun),
	}
}

func associateRun(ctx context.Context, opts *AssociateOptions) (err error) {
	f := opts.Factory
	cfg, err := cmdutil.LoadProject(f, opts.LoadOptions)
	if err != nil {
		return err
	}
	desired, err := Desired(cfg)
	if err != nil {
		return err
	}
	awsCfg, err := f.AWSConfig(ctx)
	if err != nil {
		return err
	}
	clients := awsapi.NewClients(awsCfg)
	release, err := applyflow.Lock(ctx, opts, clients.SSM(""), channel.Paths(cfg).Lock(), "patch associate --apply")
	if err != nil {
		return err
	}
	defer release(&err)
	api := clients.SSMAssociations("")
	current, err := Observe(ctx, api, Prefix(cfg.Project.Name))
	if err != nil {
		return err
	}
	res := Result{Changes: Diff(desired, current)}
	confirmed, err := applyflow.Confirm(ctx, opts, cmdutil.ApplyPrompt{Changes: len(res.Changes), Regions: []string{awsCfg.Region}, STS: clients.STS(),
		Preview: func(w io.Writer) error { return printChanges(w, res.Changes) }})
	if err != nil {
		return err
	}
	if confirmed {
		if err := Apply(ctx, api, res.Changes); err != nil {
			return err
		}
		res.Applied = true
	}
	return applyflow.Write(f, res, func(w io.Writer) error { return printDiff(w, res, opts.Apply) })
}

// Prefix is the name prefix of the project's associations.
func Prefix(project string) string { return "amibake-" + project + "-" }

// Desired is the associations the HCL asks for, sorted by name.
func Desired(cfg *config.Config) ([]*Spec, error) {
	var out []*Spec
	for _, name := range sortedKeys(cfg.Fleets) {
		fl := cfg.Fleets[name]
		targets, err := fleetTargets(fl)
		if err != nil {
			return nil, err
		}
		base := Prefix(cfg.Project.Name) + name
		out = append(out,
			&Spec{Name: base + "-scan", Fleet: name, Document: ScanDocument, Targets: targets, Schedule: ScanSchedule,
				Parameters:     map[string][]string{"Operation": {"Scan"}},
				MaxConcurrency: fl.Rollout.MaxConcurrency, MaxErrors: fl.Rollout.MaxErrors},
			&Spec{Name: base + "-inventory", Fleet: name, Document: InventoryDocument, Targets: targets, Schedule: InventorySchedule,
				Parameters:     map[string][]string{"applications": {"Enabled"}},
				MaxConcurrency: fl.Rollout.MaxConcurrency, MaxErrors: fl.Rollout.MaxErrors})
	}
	return out, nil
}

// fleetTargets: targets { tags } (tag:K each), else the ASGs' instances
// (tag:aws:autoscaling:groupName), else the patch group.
func fleetTargets(fl *config.Fleet) ([]Target, error) {
	if out := applyflow.TagTargets(fl.TargetTags); len(out) > 0 {
		return out, nil
	}
	if len(fl.ASGs) > 0 {
		asgs := append([]string(nil), fl.ASGs...)
		sort.Strings(asgs)
		return []Target{{Key: "tag:" + ASGTagKey, Values: asgs}}, nil
	}
	if fl.Patch != nil && fl.Patch.PatchGroup != "" {
		return []Target{{Key: "tag:" + patchGroupTag, Values: []string{fl.Patch.PatchGroup}}}, nil
	}
	return nil, fmt.Errorf("fleet %s: no targets { tags }, ASGs or patch group to target its instances", fl.Name)
}

// Observe reads the associations whose name starts with prefix:
// ListAssociations (paged) for the ids, DescribeAssociation for the
// parameters and rate control ListAssociations does not return.
func Observe(ctx context.Context, api awsapi.SSMAssociations, prefix string) ([]*Spec, error) {
	var out []*Spec
	var token *string
	for {
		page, err := api.ListAssociations(ctx, &ssm.ListAssociationsInput{MaxResults: aws.Int32(50), NextToken: token})
		if err != nil {
			return nil, fmt.Errorf("list associations: %w", err)
		}
		for _, a := range page.Associations {
			name := aws.ToString(a.AssociationName)
			if !strings.HasPrefix(name, prefix) {
				continue
			}
			d, err := api.DescribeAssociation(ctx, &ssm.DescribeAssociationInput{AssociationId: a.AssociationId})
			if err != nil {
				return nil, fmt.Errorf("describe association %s (%s): %w", name, aws.ToString(a.AssociationId), err)
			}
			out = append(out, fromDescription(d.AssociationDescription))
		}
		if aws.ToString(page.NextToken) == "" {
			break
		}
		token = page.NextToken
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func fromDescription(d *ssmtypes.AssociationDescription) *Spec {
	s := &Spec{Name: aws.ToString(d.AssociationName), ID: aws.ToString(d.AssociationId), Document: aws.ToString(d.Name),
		Schedule: aws.ToString(d.ScheduleExpression), Parameters: d.Parameters,
		MaxConcurrency: aws.ToString(d.MaxConcurrency), MaxErrors: aws.ToString(d.MaxErrors)}
	for _, t := range d.Targets {
		s.Targets = append(s.Targets, Target{Key: aws.ToString(t.Key), Values: t.Values})
	}
	return s
}

// Diff compares desired and current: creates, field-by-field updates,
// deletes of stale (or duplicate) associations of the project.
func Diff(desired, current []*Spec) []Change {
	byName := map[string][]*Spec{}
	for _, c := range current {
		byName[c.Name] = append(byName[c.Name], c)
	}
	want := map[string]bool{}
	changes := []Change{}
	for _, d := range desired {
		want[d.Name] = true
		cur := byName[d.Name]
		if len(cur) == 0 {
			changes = append(changes, Change{Action: ActionCreate, Association: d.Name, Fleet: d.Fleet, Fields: specFields(nil, d), desired: d})
			continue
		}
		c := cur[0]
		if fields := specFields(c, d); len(fields) > 0 {
			ch := Change{Action: ActionUpdate, Association: d.Name, AssociationID: c.ID, Fleet: d.Fleet, Fields: fields, desired: d}
			if c.Document != d.Document {
				ch.Recreate = true
			}
			changes = append(changes, ch)
		}
		for _, dup := range cur[1:] {
			changes = append(changes, Change{Action: ActionDelete, Association: dup.Name, AssociationID: dup.ID, Fleet: d.Fleet,
				Reason: "duplicate of " + c.ID})
		}
	}
	for _, c := range current {
		if !want[c.Name] {
			changes = append(changes, Change{Action: ActionDelete, Association: c.Name, AssociationID: c.ID, Reason: "no fleet wants it"})
		}
	}
	return changes
}

// specFields lists the fields that differ (all of them when cur is nil).
func specFields(cur, d *Spec) []FieldChange {
	get := func(s *Spec) []string {
		if s == nil {
			return make([]string, 6)
		}
		return []string{s.Document, applyflow.FormatTargets(s.Targets), s.Schedule, applyflow.FormatParams(s.Parameters), s.MaxConcurrency, s.MaxErrors}
	}
	names := []string{"document", "targets", "schedule", "parameters", "max_concurrency", "max_errors"}
	o, n := get(cur), get(d)
	var out []FieldChange
	for i := range names {
		if o[i] != n[i] {
			out = append(out, FieldChange{Field: names[i], Old: o[i], New: n[i]})
		}
	}
	return out
}

// Apply makes the changes in order.
func Apply(ctx context.Context, api awsapi.SSMAssociations, changes []Change) error {
	for _, ch := range changes {
		if err := ctx.Err(); err != nil {
			return err
		}
		switch {
		case ch.Action == ActionDelete || (ch.Action == ActionUpdate && ch.Recreate):
			if _, err := api.DeleteAssociation(ctx, &ssm.DeleteAssociationInput{AssociationId: aws.String(ch.AssociationID)}); err != nil {
				return fmt.Errorf("delete association %s (%s): %w", ch.Association, ch.AssociationID, err)
			}
			if ch.Action == ActionDelete {
				continue
			}
			fallthrough
		case ch.Action == ActionCreate:
			d := ch.desired
			in := &ssm.CreateAssociationInput{Name: aws.String(d.Document), AssociationName: aws.String(d.Name),
				Targets: sdkTargets(d.Targets), ScheduleExpression: aws.String(d.Schedule), Parameters: d.Parameters}
			if d.MaxConcurrency != "" {
				in.MaxConcurrency = aws.String(d.MaxConcurrency)
			}
			if d.MaxErrors != "" {
				in.MaxErrors = aws.String(d.MaxErrors)
			}
			if _, err := api.CreateAssociation(ctx, in); err != nil {
				return fmt.Errorf("create association %s: %w", d.Name, err)
			}
		case ch.Action == ActionUpdate:
			// UpdateAssociation clears every optional member not given, so
			// the whole association is sent (unset rate control clears it).
			d := ch.desired
			in := &ssm.UpdateAssociationInput{AssociationId: aws.String(ch.AssociationID), AssociationName: aws.String(d.Name),
				Targets: sdkTargets(d.Targets), ScheduleExpression: aws.String(d.Schedule), Parameters: d.Parameters}
			if d.MaxConcurrency != "" {
				in.MaxConcurrency = aws.String(d.MaxConcurrency)
			}
			if d.MaxErrors != "" {
				in.MaxErrors = aws.String(d.MaxErrors)
			}
			if _, err := api.UpdateAssociation(ctx, in); err != nil {
				return fmt.Errorf("update association %s (%s): %w", d.Name, ch.AssociationID, err)
			}
		}
	}
	return nil
}

func sdkTargets(ts []Target) []ssmtypes.Target {
	out := make([]ssmtypes.Target, 0, len(ts))
	for _, t := range ts {
		out = append(out, ssmtypes.Target{Key: aws.String(t.Key), Values: t.Values})
	}
	return out
}

func (c Change) String() string {
	switch c.Action {
	case ActionCreate:
		return "+ create association " + c.Association
	case ActionUpdate:
		s := "~ update association " + c.Association + " (" + c.AssociationID + ")"
		if c.Recreate {
			s += " (delete and create: the document changed)"
		}
		return s
	default:
		return "- delete association " + c.Association + " (" + c.AssociationID + ") (" + c.Reason + ")"
	}
}

func printDiff(w io.Writer, res Result, apply bool) error {
	return applyflow.PrintDiff(w, len(res.Changes), apply, "No changes: State Manager associations match the fleets.",
		func(w io.Writer) error { return printChanges(w, res.Changes) })
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func printChanges(w io.Writer, changes []Change) error {
	for _, c := range changes {
		if _, err := fmt.Fprintln(w, c.String()); err != nil {
			return err
		}
		for _, fc := range c.Fields {
			var err error
			switch {
			case c.Action == ActionCreate:
				_, err = fmt.Fprintf(w, "    %s: %s\n", fc.Field, fc.New)
			case fc.New == "":
				_, err = fmt.Fprintf(w, "    %s: %s → (unset)\n", fc.Field, fc.Old)
			case fc.Old == "":
				_, err = fmt.Fprintf(w, "    %s: (unset) → %s\n", fc.Field, fc.New)
			default:
				_, err = fmt.Fprintf(w, "    %s: %s → %s\n", fc.Field, fc.Old, fc.New)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}
