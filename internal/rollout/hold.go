package rollout

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/smithy-go"
)

// A paused rollout is held in AWS: its refreshes are cancelled (AWS would
// otherwise go on by itself once CheckpointDelay is over, so a pause would
// last only checkpoint_wait) and these tags on each Auto Scaling group say
// what was paused, where and why. Instances already replaced stay on the
// new template version; resume starts a refresh with the checkpoints that
// are left, abort one back to the old version.
const (
	// TagState is paused or aborted; absent while a rollout runs or once
	// it succeeded.
	TagState = "amibake:rollout-state"
	// TagVersion is the rollout's template version: "lt-…:N".
	TagVersion = "amibake:rollout-version"
	// TagCheckpoint is the checkpoint percentage the rollout paused at.
	TagCheckpoint = "amibake:rollout-checkpoint"
	// TagRemaining are the checkpoints resume goes through ("50,100").
	TagRemaining = "amibake:rollout-remaining"
	// TagReason is why: "operator: …" or "canary-marginal score=N: …".
	TagReason = "amibake:rollout-reason"
)

var stateTags = []string{TagState, TagVersion, TagCheckpoint, TagRemaining, TagReason}

// Group states recorded in TagState.
const (
	StatePaused  = "paused"
	StateAborted = "aborted"
)

// Why a rollout paused (the prefix of TagReason).
const (
	PauseOperator       = "operator"
	PauseCanaryMarginal = "canary-marginal"
)

// maxTagValue is Auto Scaling's limit on a tag value.
const maxTagValue = 256

var checkpointRE = regexp.MustCompile(`^Checkpoint (\d+) of (\d+)`)

// checkpointReached is the percentage of the checkpoint a refresh waits at
// (from its status reason and checkpoint list), 0 when not at one.
func checkpointReached(reason string, checkpoints []int) int {
	m := checkpointRE.FindStringSubmatch(reason)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	if n < 1 || n > len(checkpoints) {
		return 0
	}
	return checkpoints[n-1]
}

// remainingCheckpoints: the checkpoints after the one reached, or (not at
// a checkpoint) those above the share of the group already replaced.
func remainingCheckpoints(checkpoints []int, reached, pctOnNew int) []int {
	var out []int
	for i, p := range checkpoints {
		if reached > 0 {
			if p == reached {
				return append([]int(nil), checkpoints[i+1:]...)
			}
			continue
		}
		if p > pctOnNew {
			out = append(out, p)
		}
	}
	if reached > 0 { // reached is not in the list: fall back on the share
		return remainingCheckpoints(checkpoints, 0, pctOnNew)
	}
	return out
}

func formatInts(in []int) string {
	s := make([]string, len(in))
	for i, v := range in {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, ",")
}

func parseInts(s string) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// hold pauses the rollout for an operator: it cancels every group's
// active refresh, waits for the cancellations, and records the pause in
// the groups' tags. It returns the *PausedError that ends the run.
func (rc *Context) hold(ctx context.Context, kind, why string) error {
	// The pause must be recorded even when the run is being interrupted:
	// a half-held fleet would go on by itself.
	ctx = context.WithoutCancel(ctx)
	for _, g := range rc.Report.Groups {
		if g.RefreshID == "" || !active(astypes.InstanceRefreshStatus(g.Status)) {
			continue
		}
		g.Checkpoint = checkpointReached(g.StatusReason, g.checkpoints)
		if _, err := rc.AutoScaling.CancelInstanceRefresh(ctx, &autoscaling.CancelInstanceRefreshInput{AutoScalingGroupName: aws.String(g.Name)}); err != nil {
			// The refresh ended between the poll and the cancel: nothing
			// left to hold in this group.
			var ae smithy.APIError
			if errors.As(err, &ae) && ae.ErrorCode() == "ActiveInstanceRefreshNotFound" {
				rc.logf("  %-20s its refresh ended before the pause", g.Name)
				continue
			}
			return fmt.Errorf("pause rollout of %s: cancel instance refresh %s of %s: %w", rc.Fleet.Name, g.RefreshID, g.Name, err)
		}
		rc.changed("cancelled instance refresh %s of %s to hold the pause (replaced instances stay on version %d)", g.RefreshID, g.Name, g.ToVersion)
		g.held = true
	}
	// Cancelling waits for replacements in flight; the percentages below
	// count what they left on the new version.
	if err := rc.waitCancelled(ctx); err != nil {
		return err
	}
	groups, err := rc.describeGroups(ctx)
	if err != nil {
		return err
	}
	reason := kind + ": " + why
	for _, g := range rc.Report.Groups {
		if !g.held {
			continue
		}
		g.countOnNew(groups[g.Name])
		cps := g.checkpoints
		if len(cps) == 0 {
			cps = rc.Fleet.Rollout.Checkpoints
		}
		g.Remaining = remainingCheckpoints(cps, g.Checkpoint, g.OnNewPercent)
		g.State = StatePaused
		tags := map[string]string{
			TagState: StatePaused, TagVersion: fmt.Sprintf("%s:%d", g.TemplateID, g.ToVersion),
			TagCheckpoint: strconv.Itoa(g.Checkpoint), TagRemaining: formatInts(g.Remaining), TagReason: trunc(reason, maxTagValue),
		}
		if err := rc.setStateTags(ctx, g.Name, tags); err != nil {
			return fmt.Errorf("pause rollout of %s: %w", rc.Fleet.Name, err)
		}
	}
	rc.Report.Outcome = OutcomePaused
	rc.Report.Reason = reason
	rc.Report.PauseKind = kind
	var at []string
	for _, g := range rc.Report.Groups {
		if g.held {
			at = append(at, fmt.Sprintf("%s at %d%% (%d of %d on %s)", g.Name, g.Checkpoint, g.OnNew, g.Desired, rc.Report.Target))
		}
	}
	rc.logf("Paused and held: %s", strings.Join(at, "; "))
	return &PausedError{Msg: fmt.Sprintf("rollout of %s paused (%s): %s; held — the instance refreshes are cancelled, so nothing moves until `amibake rollout resume %s` (the remaining checkpoints, then retire) or `amibake rollout abort %s` (everything back to the old AMI)",
		rc.Fleet.Name, reason, strings.Join(at, "; "), rc.Fleet.Name, rc.Fleet.Name)}
}

// waitCancelled polls the groups' cancelled refreshes until they are over
// (a bounded number of polls: the pause is recorded either way).
func (rc *Context) waitCancelled(ctx context.Context) error {
	for range 40 {
		pending := false
		for _, g := range rc.Report.Groups {
			if !g.held {
				continue
			}
			r, err := rc.latestRefresh(ctx, g.Name)
			if err != nil {
				return err
			}
			if r != nil && aws.ToString(r.InstanceRefreshId) == g.RefreshID {
				g.Status = string(r.Status)
				if !terminal(r.Status) {
					pending = true
				}
			}
		}
		if !pending {
			return nil
		}
		if err := rc.Sleep(ctx, rc.Poll); err != nil {
			return nil
		}
	}
	return nil
}

func (rc *Context) setStateTags(ctx context.Context, group string, tags map[string]string) error {
	in := &autoscaling.CreateOrUpdateTagsInput{}
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		in.Tags = append(in.Tags, astypes.Tag{Key: aws.String(k), Value: aws.String(tags[k]), ResourceId: aws.String(group),
			ResourceType: aws.String("auto-scaling-group"), PropagateAtLaunch: aws.Bool(false)})
	}
	if _, err := rc.AutoScaling.CreateOrUpdateTags(ctx, in); err != nil {
		return fmt.Errorf("tag %s %s=%s: %w", group, TagState, tags[TagState], err)
	}
	rc.changed("tagged %s %s=%s", group, TagState, tags[TagState])
	return nil
}

// clearStateTags removes the rollout tags a group carries.
func (rc *Context) clearStateTags(ctx context.Context, g *GroupPlan) error {
	if len(g.tags) == 0 {
		return nil
	}
	in := &autoscaling.DeleteTagsInput{}
	for _, k := range stateTags {
		if _, ok := g.tags[k]; ok {
			in.Tags = append(in.Tags, astypes.Tag{Key: aws.String(k), ResourceId: aws.String(g.Name), ResourceType: aws.String("auto-scaling-group")})
		}
	}
	if len(in.Tags) == 0 {
		return nil
	}
	if _, err := rc.AutoScaling.DeleteTags(ctx, in); err != nil {
		return fmt.Errorf("remove the rollout tags of %s: %w", g.Name, err)
	}
	g.tags = nil
	return nil
}

func groupTags(g astypes.AutoScalingGroup) map[string]string {
	out := map[string]string{}
	for _, t := range g.Tags {
		k := aws.ToString(t.Key)
		if strings.HasPrefix(k, "amibake:rollout-") {
			out[k] = aws.ToString(t.Value)
		}
	}
	return out
}

// groupTemplate is the launch template a group launches from: its own, or
// its mixed instances policy's.
func groupTemplate(g astypes.AutoScalingGroup) (*astypes.LaunchTemplateSpecification, *astypes.MixedInstancesPolicy) {
	return launchTemplate(g.LaunchTemplate, g.MixedInstancesPolicy)
}

// launchTemplate is lt, or else the mixed instances policy m's template
// (a group's, or a refresh's desired configuration); m is returned only
// when its template is the one.
func launchTemplate(lt *astypes.LaunchTemplateSpecification, m *astypes.MixedInstancesPolicy) (*astypes.LaunchTemplateSpecification, *astypes.MixedInstancesPolicy) {
	if lt != nil {
		return lt, nil
	}
	if m != nil && m.LaunchTemplate != nil && m.LaunchTemplate.LaunchTemplateSpecification != nil {
		return m.LaunchTemplate.LaunchTemplateSpecification, m
	}
	return nil, nil
}

// desired is the configuration that launches version of the group's
// template: a plain launch template, or the group's mixed instances policy
// (overrides and distribution kept) around that version.
func (g *GroupPlan) desired(version int64) *astypes.DesiredConfiguration {
	spec := &astypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(g.TemplateID), Version: aws.String(strconv.FormatInt(version, 10))}
	if g.mixed == nil {
		return &astypes.DesiredConfiguration{LaunchTemplate: spec}
	}
	m := *g.mixed
	lt := *m.LaunchTemplate
	lt.LaunchTemplateSpecification = spec
	m.LaunchTemplate = &lt
	return &astypes.DesiredConfiguration{MixedInstancesPolicy: &m}
}

// countOnNew counts the group's members launched from the rollout's version.
func (g *GroupPlan) countOnNew(asg astypes.AutoScalingGroup) {
	g.OnNew = 0
	want := strconv.FormatInt(g.ToVersion, 10)
	for _, i := range asg.Instances {
		if i.LaunchTemplate != nil && aws.ToString(i.LaunchTemplate.LaunchTemplateId) == g.TemplateID && aws.ToString(i.LaunchTemplate.Version) == want {
			g.OnNew++
		}
	}
	g.OnNewPercent = 0
	if g.Desired > 0 {
		g.OnNewPercent = min(100, g.OnNew*100/int(g.Desired))
	}
}

// refreshPrefs are the fleet's refresh preferences with these checkpoints.
func (rc *Context) refreshPrefs(checkpoints []int, rollback bool) *astypes.RefreshPreferences {
	ro := rc.Fleet.Rollout
	prefs := &astypes.RefreshPreferences{
		MinHealthyPercentage: aws.Int32(int32(ro.MinHealthyPercent)),
		SkipMatching:         aws.Bool(true),
		AutoRollback:         aws.Bool(rollback),
	}
	if len(checkpoints) > 0 {
		prefs.CheckpointPercentages = toInt32s(checkpoints)
		prefs.CheckpointDelay = aws.Int32(int32(ro.CheckpointWait.Seconds()))
	}
	if len(ro.AbortOnAlarms) > 0 {
		prefs.AlarmSpecification = &astypes.AlarmSpecification{Alarms: ro.AbortOnAlarms}
	}
	return prefs
}

// ---- resume ----

// restart starts, for every paused group, a refresh to the rollout's
// version through the checkpoints left; SkipMatching keeps the instances
// already replaced.
type restart struct{}

func (restart) String() string { return "restart the paused refreshes" }

func (restart) Run(ctx context.Context, rc *Context) error {
	for _, g := range rc.Report.Groups {
		if g.State != StatePaused {
			continue
		}
		out, err := rc.AutoScaling.StartInstanceRefresh(ctx, &autoscaling.StartInstanceRefreshInput{
			AutoScalingGroupName: aws.String(g.Name),
			Strategy:             astypes.RefreshStrategyRolling,
			DesiredConfiguration: g.desired(g.ToVersion),
			Preferences:          rc.refreshPrefs(g.Remaining, true),
		})
		if err != nil {
			return fmt.Errorf("resume %s: start instance refresh of %s: %w", rc.Fleet.Name, g.Name, err)
		}
		g.RefreshID, g.Status, g.StatusReason, g.State = aws.ToString(out.InstanceRefreshId), string(astypes.InstanceRefreshStatusPending), "", ""
		g.checkpoints = g.Remaining
		rc.changed("instance refresh %s of %s to version %d, checkpoints %v (resumed after %d%%)", g.RefreshID, g.Name, g.ToVersion, g.Remaining, g.Checkpoint)
		// The refresh now carries the rollout: were resume interrupted, the
		// next one follows it like any running rollout.
		if err := rc.clearStateTags(ctx, g); err != nil {
			return err
		}
	}
	return nil
}

// ---- abort ----

// back aborts each group's rollout: a running refresh is rolled back by
// AWS; a paused one (cancelled) gets the old version restored on the
// group and a refresh back to it, so every instance runs the old AMI.
type back struct{}

func (back) String() string { return "roll the fleet back" }

func (back) Run(ctx context.Context, rc *Context) error {
	n := 0
	for _, g := range rc.Report.Groups {
		st := astypes.InstanceRefreshStatus(g.Status)
		switch {
		case g.RefreshID == "":
			continue
		case g.State == StateAborted && (active(st) || st == astypes.InstanceRefreshStatusSuccessful || st == astypes.InstanceRefreshStatusRollbackSuccessful):
			// A re-run: the way back is under way or done; follow it (again).
			n++
			continue
		case g.State == StateAborted:
			// The way back never started or did not finish: start it again.
			if err := rc.refreshBack(ctx, g); err != nil {
				return err
			}
			n++
		case g.State == "" && rollbackable(st):
			if _, err := rc.AutoScaling.RollbackInstanceRefresh(ctx, &autoscaling.RollbackInstanceRefreshInput{AutoScalingGroupName: aws.String(g.Name)}); err != nil {
				return fmt.Errorf("roll back instance refresh %s of %s: %w", g.RefreshID, g.Name, err)
			}
			rc.changed("rolled back instance refresh %s of %s", g.RefreshID, g.Name)
			g.Status, g.back = "", true
			if err := rc.setStateTags(ctx, g.Name, map[string]string{TagState: StateAborted, TagVersion: fmt.Sprintf("%s:%d", g.TemplateID, g.ToVersion),
				TagReason: "aborted by an operator while the refresh ran"}); err != nil {
				return err
			}
			n++
		case g.State == StatePaused:
			if err := rc.refreshBack(ctx, g); err != nil {
				return err
			}
			n++
		}
	}
	if n == 0 {
		return fmt.Errorf("nothing to abort: fleet %s has no paused or running rollout", rc.Fleet.Name)
	}
	return nil
}

func (rc *Context) refreshBack(ctx context.Context, g *GroupPlan) error {
	d := g.desired(g.FromVersion)
	// The group normally still names the old version (a cancelled refresh
	// leaves it alone); set it anyway, so new launches use the old AMI.
	up := &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String(g.Name)}
	if d.MixedInstancesPolicy != nil {
		up.MixedInstancesPolicy = d.MixedInstancesPolicy
	} else {
		up.LaunchTemplate = d.LaunchTemplate
	}
	if _, err := rc.AutoScaling.UpdateAutoScalingGroup(ctx, up); err != nil {
		return fmt.Errorf("abort %s: restore version %d on %s: %w", rc.Fleet.Name, g.FromVersion, g.Name, err)
	}
	rc.changed("%s launches from %s version %d (%s) again", g.Name, g.TemplateName, g.FromVersion, g.FromAMI)
	// Tag first: a refresh back without the tag would read as a rollout
	// to the old version.
	tags := map[string]string{TagState: StateAborted, TagVersion: fmt.Sprintf("%s:%d", g.TemplateID, g.ToVersion),
		TagReason: "aborted by an operator"}
	if g.Checkpoint > 0 {
		tags[TagReason] += " at " + strconv.Itoa(g.Checkpoint) + "%"
	}
	if err := rc.setStateTags(ctx, g.Name, tags); err != nil {
		return err
	}
	out, err := rc.AutoScaling.StartInstanceRefresh(ctx, &autoscaling.StartInstanceRefreshInput{
		AutoScalingGroupName: aws.String(g.Name),
		Strategy:             astypes.RefreshStrategyRolling,
		DesiredConfiguration: d,
		Preferences:          rc.refreshPrefs(nil, false),
	})
	if err != nil {
		return fmt.Errorf("abort %s: start the refresh of %s back to version %d: %w", rc.Fleet.Name, g.Name, g.FromVersion, err)
	}
	g.RefreshID, g.Status, g.StatusReason, g.State, g.back = aws.ToString(out.InstanceRefreshId), string(astypes.InstanceRefreshStatusPending), "", StateAborted, true
	rc.changed("instance refresh %s of %s back to version %d (%s)", g.RefreshID, g.Name, g.FromVersion, g.FromAMI)
	return nil
}
