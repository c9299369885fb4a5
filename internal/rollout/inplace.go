package rollout

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/crashpoint"
	"github.com/amibake/amibake/internal/lineage"
)

// PatchDocument is what an in-place rollout runs.
const PatchDocument = "AWS-RunPatchBaseline"

// InPlace is the report of an in-place rollout.
type InPlace struct {
	Targets        []string         `json:"targets"`
	Canary         []string         `json:"canary"`
	MaxConcurrency string           `json:"max_concurrency"`
	MaxErrors      string           `json:"max_errors"`
	RebootOption   string           `json:"reboot_option"`
	PatchLevel     string           `json:"patch_level"`
	Commands       []*CommandResult `json:"commands"`
	Succeeded      []string         `json:"succeeded"`
	Failed         []string         `json:"failed"`
	NotRun         []string         `json:"not_run"`
	Tagged         []string         `json:"tagged"`
	// PatchLevels is each target's amibake:patch-level tag (status).
	PatchLevels map[string]string `json:"patch_levels,omitempty"`
	// Behind are the targets not on PatchLevel (status, resume).
	Behind []string `json:"behind,omitempty"`
	// Last is the fleet's newest patch command (status, abort).
	Last *CommandResult `json:"last_command,omitempty"`
	// Delta is the recipe delta run before the patch (nil: the target's
	// lineage has no recipes).
	Delta *Delta `json:"delta,omitempty"`

	instances map[string]ec2types.Instance // the targets as DescribeInstances saw them
}

// CommandResult is one SendCommand and its per-instance results.
type CommandResult struct {
	Batch         string             `json:"batch"` // canary | fleet
	CommandID     string             `json:"command_id"`
	Status        string             `json:"status"`
	StatusDetails string             `json:"status_details"`
	Invocations   []InvocationResult `json:"invocations"`
}

// InvocationResult is one instance's result.
type InvocationResult struct {
	InstanceID    string `json:"instance_id"`
	Status        string `json:"status"`
	StatusDetails string `json:"status_details"`
}

// InPlace patches an in-place fleet.
func (r *Rollout) InPlace(ctx context.Context) (*Report, error) {
	rep := r.newReport()
	rep.InPlace = &InPlace{}
	steps := []Step{
		inPlacePreflight{},      // an in-place fleet with target tags
		resolveTarget{},         // the AMI (and so the patch level) the channel holds
		findTargets{},           // running instances with the fleet's tags; the canary batch
		deltaFind{},             // the recipes each instance lacks, rendered as the bake does (delta.go)
		upToDate{},              // nothing to do when every instance is on the target already
		deltaPlan{},             // dry-run: the delta per group and its API calls
		inPlacePlan{},           // dry-run: targets, batches, API calls
		confirmStep{},           // a person at a terminal says yes (--yes skips)
		lockStep{},              // the project lock
		applyDelta{},            // the delta's canary batches, then the rest (AWS-RunShellScript)
		deltaTag{},              // tag what ran it with the recipes it now carries
		deltaVerdict{},          // a stopped delta stops the rollout before any patch
		sendBatch{canary: true}, // the canary batch by instance id
		sendBatch{},             // the rest by tag
		tagPatchLevel{},         // tag what succeeded with the patch level it now carries
		deltaVerdict{final: true},
		inPlaceVerdict{}, // succeeded, or stopped at the error threshold
	}
	err := r.run(ctx, rep, steps)
	return rep, err
}

type inPlacePreflight struct{}

func (inPlacePreflight) String() string { return "preflight" }

func (inPlacePreflight) Run(ctx context.Context, rc *Context) error {
	if rc.Fleet.Strategy != config.StrategyInPlace {
		return fmt.Errorf("fleet %s is %s, not in-place", rc.Fleet.Name, rc.Fleet.Strategy)
	}
	if len(rc.Fleet.TargetTags) == 0 {
		return fmt.Errorf("fleet %s has no target tags", rc.Fleet.Name)
	}
	ip := rc.Report.InPlace
	ip.MaxConcurrency, ip.MaxErrors = rc.Fleet.Rollout.MaxConcurrency, rc.Fleet.Rollout.MaxErrors
	if ip.MaxConcurrency == "" {
		ip.MaxConcurrency = "10%"
	}
	if ip.MaxErrors == "" {
		ip.MaxErrors = "0"
	}
	ip.RebootOption = "RebootIfNeeded"
	if rc.Fleet.Rollout.Reboot == "never" {
		ip.RebootOption = "NoReboot"
	}
	if w := rc.Fleet.Rollout.MaintenanceWindow; w != "" && rc.Apply && !rc.IgnoreWindow {
		in, next, err := InWindow(w, rc.Now())
		if err != nil {
			return err
		}
		if !in {
			rc.Report.Outcome = OutcomeNothing
			rc.Report.Reason = "outside the maintenance window " + w
			return fmt.Errorf("fleet %s: outside its maintenance window %s (UTC; it next opens %s): run it then, or pass --ignore-window",
				rc.Fleet.Name, w, next.Format(time.RFC3339))
		}
	}
	return nil
}

func (rc *Context) tagKeys() []string {
	keys := make([]string, 0, len(rc.Fleet.TargetTags))
	for k := range rc.Fleet.TargetTags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

type findTargets struct{}

func (findTargets) String() string { return "find the target instances" }

func (findTargets) Run(ctx context.Context, rc *Context) error {
	ip := rc.Report.InPlace
	if err := rc.findInstances(ctx); err != nil {
		return err
	}
	if len(ip.Targets) == 0 {
		rc.Report.Outcome = OutcomeNothing
		rc.logf("Nothing to do: no running instance has the tags of fleet %s.", rc.Fleet.Name)
		return errStop
	}
	if err := rc.targetPatchLevel(ctx); err != nil {
		return err
	}
	if cps := rc.Fleet.Rollout.Checkpoints; len(cps) > 1 && cps[0] < 100 {
		n := int(math.Ceil(float64(len(ip.Targets)) * float64(cps[0]) / 100))
		ip.Canary = ip.Targets[:min(n, len(ip.Targets))]
	}
	return nil
}

// findInstances lists the running instances with the fleet's tags into
// ip.Targets (sorted), each kept for the delta (noteInstance).
func (rc *Context) findInstances(ctx context.Context) error {
	ip := rc.Report.InPlace
	filters := []ec2types.Filter{{Name: aws.String("instance-state-name"), Values: []string{"running"}}}
	for _, k := range rc.tagKeys() {
		filters = append(filters, lineage.TagFilter(k, rc.Fleet.TargetTags[k]))
	}
	p := ec2.NewDescribeInstancesPaginator(rc.EC2, &ec2.DescribeInstancesInput{Filters: filters, MaxResults: aws.Int32(1000)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("find instances of fleet %s: %w", rc.Fleet.Name, err)
		}
		for _, res := range page.Reservations {
			for _, i := range res.Instances {
				ip.Targets = append(ip.Targets, aws.ToString(i.InstanceId))
				ip.noteInstance(i)
			}
		}
	}
	sort.Strings(ip.Targets)
	return nil
}

// targetPatchLevel sets ip.PatchLevel to the target AMI's
// amibake:patch-level (the AMI id when it has none).
func (rc *Context) targetPatchLevel(ctx context.Context) error {
	ip := rc.Report.InPlace
	img, err := lineage.DescribeIDs(ctx, rc.EC2, rc.Region, []string{rc.Report.Target})
	if err != nil {
		return err
	}
	ip.PatchLevel = img[rc.Report.Target].PatchLevel
	if ip.PatchLevel == "" {
		ip.PatchLevel = rc.Report.Target
	}
	return nil
}

type inPlacePlan struct{}

func (inPlacePlan) String() string { return "show the plan" }

func (inPlacePlan) Run(ctx context.Context, rc *Context) error {
	ip := rc.Report.InPlace
	var sel []string
	for _, k := range rc.tagKeys() {
		sel = append(sel, k+"="+rc.Fleet.TargetTags[k])
	}
	rc.logf("Fleet %s (in-place): %d instances tagged %s → patch level %s (%s %s = %s)", rc.Fleet.Name, len(ip.Targets),
		strings.Join(sel, ","), ip.PatchLevel, rc.Fleet.Layer, rc.Fleet.Channel, rc.Report.Target)
	params := fmt.Sprintf("Operation=Install RebootOption=%s MaxConcurrency=%s MaxErrors=%s", ip.RebootOption, ip.MaxConcurrency, ip.MaxErrors)
	if len(ip.Canary) > 0 {
		rc.logf("  canary: %d instances (%d%%): %s", len(ip.Canary), rc.Fleet.Rollout.Checkpoints[0], strings.Join(ip.Canary, ", "))
		rc.call("ssm:SendCommand %s InstanceIds=%s %s", PatchDocument, strings.Join(ip.Canary, ","), params)
	}
	rc.logf("  fleet: every instance by tag, %s at a time, stop after %s errors", ip.MaxConcurrency, ip.MaxErrors)
	if w := rc.Fleet.Rollout.MaintenanceWindow; w != "" {
		rc.logf("  maintenance window: %s (UTC)", w)
	}
	rc.call("ssm:SendCommand %s Targets=tag:%s %s", PatchDocument, strings.Join(sel, ",tag:"), params)
	rc.call("ssm:ListCommands CommandId=… (every %s) then ssm:ListCommandInvocations CommandId=… (paged)", rc.Poll)
	rc.call("ec2:CreateTags %s=%s on the instances that succeeded", lineage.TagPatchLevel, ip.PatchLevel)
	if !rc.Apply {
		for _, c := range rc.Report.Calls {
			rc.logf("    %s", c)
		}
		rc.Report.Outcome = OutcomePlanned
		rc.logf("Dry run: nothing changed. Run with --apply to roll out.")
		return errStop
	}
	return nil
}

type sendBatch struct{ canary bool }

func (s sendBatch) String() string {
	if s.canary {
		return "patch the canary batch"
	}
	return "patch the fleet by tag"
}

// Skip: no canary batch when the first checkpoint is the whole fleet; no
// fleet batch after a canary that did not succeed.
func (s sendBatch) Skip(rc *Context) (bool, string) {
	ip := rc.Report.InPlace
	if s.canary {
		return len(ip.Canary) == 0, ""
	}
	for _, c := range ip.Commands {
		if c.Status != string(ssmtypes.CommandStatusSuccess) {
			return true, "the canary batch did not succeed"
		}
	}
	return false, ""
}

func (s sendBatch) Run(ctx context.Context, rc *Context) error {
	ip := rc.Report.InPlace
	in := rc.patchCommand()
	batch := "fleet"
	if s.canary {
		batch = "canary"
		in.InstanceIds = ip.Canary
		if len(ip.Canary) > 50 {
			return fmt.Errorf("canary batch of %d instances: SendCommand takes at most 50 instance ids; lower the first checkpoint", len(ip.Canary))
		}
	} else {
		for _, k := range rc.tagKeys() {
			in.Targets = append(in.Targets, ssmtypes.Target{Key: aws.String("tag:" + k), Values: []string{rc.Fleet.TargetTags[k]}})
		}
	}
	in.Comment = commandComment("amibake rollout %s %s → %s", rc.Fleet.Name, batch, ip.PatchLevel)
	out, err := rc.SSM.SendCommand(ctx, in)
	if err != nil {
		return fmt.Errorf("send %s to the %s batch of %s: %w", PatchDocument, batch, rc.Fleet.Name, err)
	}
	cr := &CommandResult{Batch: batch, CommandID: aws.ToString(out.Command.CommandId)}
	ip.Commands = append(ip.Commands, cr)
	rc.changed("%s command %s (%s batch)", PatchDocument, cr.CommandID, batch)
	rc.logf("  %s batch: command %s sent", batch, cr.CommandID)
	crashpoint.Hit("rollout.command-sent")
	if err := rc.waitCommand(ctx, cr); err != nil {
		return err
	}
	return rc.invocations(ctx, cr)
}

// patchCommand is the fleet's AWS-RunPatchBaseline Install under its
// rate and error limits; the caller names the instances and the comment.
func (rc *Context) patchCommand() *ssm.SendCommandInput {
	ip := rc.Report.InPlace
	return &ssm.SendCommandInput{
		DocumentName:   aws.String(PatchDocument),
		Parameters:     map[string][]string{"Operation": {"Install"}, "RebootOption": {ip.RebootOption}},
		MaxConcurrency: aws.String(ip.MaxConcurrency),
		MaxErrors:      aws.String(ip.MaxErrors),
	}
}

// commandComment is a SendCommand comment, cut to SSM's 100 bytes (not
// characters: "→" is three). lastCommand finds the fleet's commands by its
// "amibake rollout FLEET " prefix.
func commandComment(format string, args ...any) *string {
	return aws.String(truncBytes(fmt.Sprintf(format, args...), 100))
}

func trunc(s string, n int) string {
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// waitCommand polls ListCommands until the command is over.
func (rc *Context) waitCommand(ctx context.Context, cr *CommandResult) error {
	interval := rc.Poll
	last := ""
	for {
		out, err := rc.SSM.ListCommands(ctx, &ssm.ListCommandsInput{CommandId: aws.String(cr.CommandID)})
		if err != nil {
			if ctx.Err() != nil {
				return rc.interruptedCommand(ctx, cr)
			}
			return fmt.Errorf("status of command %s: %w", cr.CommandID, err)
		}
		if len(out.Commands) > 0 {
			c := out.Commands[0]
			cr.Status, cr.StatusDetails = string(c.Status), aws.ToString(c.StatusDetails)
			line := fmt.Sprintf("  %s batch: %s (%d of %d done, %d errors)", cr.Batch, cr.StatusDetails, c.CompletedCount, c.TargetCount, c.ErrorCount)
			moved := line != last
			if moved {
				rc.logf("%s", line)
				last = line
			}
			switch c.Status {
			case ssmtypes.CommandStatusSuccess, ssmtypes.CommandStatusFailed, ssmtypes.CommandStatusTimedOut, ssmtypes.CommandStatusCancelled:
				return nil
			}
			if moved {
				interval = rc.Poll
			} else {
				interval = min(interval*2, rc.Poll*maxPollFactor)
			}
		}
		if err := rc.Sleep(ctx, interval); err != nil {
			if ctx.Err() == nil {
				return fmt.Errorf("wait between polls: %w", err)
			}
			return rc.interruptedCommand(ctx, cr)
		}
	}
}

func (rc *Context) interruptedCommand(ctx context.Context, cr *CommandResult) error {
	rc.Report.Outcome = OutcomeInterrupted
	rc.Report.Reason = fmt.Sprintf("interrupted while command %s (%s batch) ran; it goes on in SSM", cr.CommandID, cr.Batch)
	return fmt.Errorf("rollout of %s interrupted; changed so far: %s; command %s goes on in SSM: %w", rc.Fleet.Name, orNone(rc.Report.Changed), cr.CommandID, ctx.Err())
}

// invocations reads the per-instance results, one paged ListCommandInvocations.
func (rc *Context) invocations(ctx context.Context, cr *CommandResult) error {
	p := ssm.NewListCommandInvocationsPaginator(rc.SSM, &ssm.ListCommandInvocationsInput{CommandId: aws.String(cr.CommandID), MaxResults: aws.Int32(50)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("results of command %s: %w", cr.CommandID, err)
		}
		for _, inv := range page.CommandInvocations {
			cr.Invocations = append(cr.Invocations, InvocationResult{InstanceID: aws.ToString(inv.InstanceId),
				Status: string(inv.Status), StatusDetails: aws.ToString(inv.StatusDetails)})
		}
	}
	sort.Slice(cr.Invocations, func(i, j int) bool { return cr.Invocations[i].InstanceID < cr.Invocations[j].InstanceID })
	return nil
}

type tagPatchLevel struct{}

func (tagPatchLevel) String() string { return "tag the patched instances" }

func (tagPatchLevel) Run(ctx context.Context, rc *Context) error {
	ip := rc.Report.InPlace
	// An instance's result is its last invocation (the fleet batch runs on
	// the canary again, as a no-op).
	last := map[string]InvocationResult{}
	for _, c := range ip.Commands {
		for _, inv := range c.Invocations {
			last[inv.InstanceID] = inv
		}
	}
	ip.Succeeded, ip.Failed, ip.NotRun = []string{}, []string{}, []string{}
	for _, id := range ip.Targets {
		inv, ok := last[id]
		switch {
		case ok && inv.Status == string(ssmtypes.CommandInvocationStatusSuccess):
			ip.Succeeded = append(ip.Succeeded, id)
		case ok && (inv.StatusDetails == "Failed" || inv.StatusDetails == "ExecutionTimedOut"):
			ip.Failed = append(ip.Failed, id)
		default:
			ip.NotRun = append(ip.NotRun, id)
		}
	}
	for ids := range slices.Chunk(ip.Succeeded, 500) {
		_, err := rc.EC2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: ids,
			Tags: []ec2types.Tag{{Key: aws.String(lineage.TagPatchLevel), Value: aws.String(ip.PatchLevel)}}})
		if err != nil {
			return fmt.Errorf("tag %d patched instances of %s: %w", len(ids), rc.Fleet.Name, err)
		}
		ip.Tagged = append(ip.Tagged, ids...)
		crashpoint.Hit("rollout.instances-tagged")
	}
	if len(ip.Tagged) > 0 {
		rc.changed("tagged %d instances %s=%s", len(ip.Tagged), lineage.TagPatchLevel, ip.PatchLevel)
	}
	return nil
}

type inPlaceVerdict struct{}

func (inPlaceVerdict) String() string { return "report" }

func (inPlaceVerdict) Run(ctx context.Context, rc *Context) error {
	ip := rc.Report.InPlace
	if len(ip.Failed) == 0 && len(ip.NotRun) == 0 {
		rc.Report.Outcome = OutcomeSucceeded
		return nil
	}
	rc.Report.Outcome = OutcomeStopped
	var parts []string
	for _, c := range ip.Commands {
		parts = append(parts, fmt.Sprintf("%s batch %s %s", c.Batch, c.CommandID, c.StatusDetails))
	}
	rc.Report.Reason = fmt.Sprintf("%d patched, %d failed (%s), %d not patched; max_errors %s: %s",
		len(ip.Succeeded), len(ip.Failed), strings.Join(ip.Failed, ", "), len(ip.NotRun), ip.MaxErrors, strings.Join(parts, "; "))
	return &FailedError{Msg: fmt.Sprintf("rollout of %s stopped: %s", rc.Fleet.Name, rc.Report.Reason)}
}
