package rollout

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"

	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/crashpoint"
)

// follow polls DescribeInstanceRefreshes, one call per group per interval,
// backing off while nothing changes, printing a line whenever a group's
// state moves. It ends when every refresh is over, when one waits at a
// checkpoint longer than Wait (paused), or when ctx ends (the refreshes go
// on in AWS; nothing is left half-written by amibake).
type follow struct {
	// abort marks the follow of `rollout abort`: rollbacks are the goal.
	abort bool
	// canary runs the fleet's canary analysis at the first checkpoint.
	canary bool
}

func (follow) String() string { return "follow the instance refreshes" }

func (f follow) Run(ctx context.Context, rc *Context) error {
	interval := rc.Poll
	rolledBack := map[string]bool{}
	for {
		moved := false
		var pausedAt []string
		for _, g := range rc.Report.Groups {
			if g.RefreshID == "" || terminal(astypes.InstanceRefreshStatus(g.Status)) {
				continue
			}
			out, err := rc.AutoScaling.DescribeInstanceRefreshes(ctx, &autoscaling.DescribeInstanceRefreshesInput{
				AutoScalingGroupName: aws.String(g.Name), InstanceRefreshIds: []string{g.RefreshID}})
			if err != nil {
				if ctx.Err() != nil {
					return rc.interrupted(ctx)
				}
				return fmt.Errorf("describe instance refresh %s of %s: %w", g.RefreshID, g.Name, err)
			}
			if len(out.InstanceRefreshes) == 0 {
				return fmt.Errorf("instance refresh %s of %s not found", g.RefreshID, g.Name)
			}
			r := out.InstanceRefreshes[0]
			g.Status, g.StatusReason, g.PercentComplete = string(r.Status), aws.ToString(r.StatusReason), aws.ToInt32(r.PercentageComplete)
			if r.RollbackDetails != nil {
				g.RollbackReason = aws.ToString(r.RollbackDetails.RollbackReason)
			}
			if r.Preferences != nil {
				g.checkpoints = fromInt32s(r.Preferences.CheckpointPercentages)
			}
			line := fmt.Sprintf("  %-20s %-18s %3d%%  %s", g.Name, g.Status, g.PercentComplete, firstLine(g.StatusReason))
			if line != g.lastSeen {
				rc.logf("%s", line)
				g.lastSeen = line
				moved = true
			}
			atCheckpoint := r.Status == astypes.InstanceRefreshStatusInProgress && strings.HasPrefix(g.StatusReason, "Checkpoint ")
			switch {
			case !atCheckpoint:
				g.checkpointSince = 0
			case g.checkpointSince == 0:
				g.checkpointSince = rc.Now().UnixNano()
				crashpoint.Hit("rollout.checkpoint")
			case rc.Wait > 0 && time.Duration(rc.Now().UnixNano()-g.checkpointSince) >= rc.Wait:
				pausedAt = append(pausedAt, fmt.Sprintf("%s %s", g.Name, firstLine(g.StatusReason)))
			}
		}
		if f.canary && !f.abort {
			if err := rc.canaryAtCheckpoint(ctx, rolledBack); err != nil {
				return err
			}
		}
		// One group failing rolls back the others: a fleet runs one AMI.
		var failed []string
		for _, g := range rc.Report.Groups {
			if isFailure(astypes.InstanceRefreshStatus(g.Status)) {
				failed = append(failed, g.Name)
			}
		}
		if len(failed) > 0 && !f.abort {
			for _, g := range rc.Report.Groups {
				st := astypes.InstanceRefreshStatus(g.Status)
				if g.RefreshID == "" || rolledBack[g.Name] || !rollbackable(st) {
					continue
				}
				rolledBack[g.Name] = true
				if _, err := rc.AutoScaling.RollbackInstanceRefresh(context.WithoutCancel(ctx), &autoscaling.RollbackInstanceRefreshInput{
					AutoScalingGroupName: aws.String(g.Name)}); err != nil {
					return fmt.Errorf("roll back %s after %s failed: %w", g.Name, strings.Join(failed, ", "), err)
				}
				rc.changed("rolled back instance refresh %s of %s (%s failed)", g.RefreshID, g.Name, strings.Join(failed, ", "))
				rc.logf("  %-20s rolling back: %s failed", g.Name, strings.Join(failed, ", "))
				g.Status = ""
			}
		}
		done := true
		for _, g := range rc.Report.Groups {
			if g.RefreshID != "" && !terminal(astypes.InstanceRefreshStatus(g.Status)) {
				done = false
			}
		}
		if done {
			return rc.settle(f.abort)
		}
		if len(pausedAt) > 0 && !f.abort {
			// Left alone, AWS would pass the checkpoint once its delay is
			// over: a pause that lasts must cancel the refreshes.
			return rc.hold(ctx, PauseOperator, fmt.Sprintf("--wait %s ran out at a checkpoint (%s)", rc.Wait, strings.Join(pausedAt, "; ")))
		}
		if err := rc.Sleep(ctx, interval); err != nil {
			if ctx.Err() == nil {
				return fmt.Errorf("wait between polls: %w", err)
			}
			return rc.interrupted(ctx)
		}
		if moved {
			interval = rc.Poll
		} else {
			interval = min(interval*2, rc.Poll*maxPollFactor)
		}
	}
}

func (rc *Context) interrupted(ctx context.Context) error {
	rc.Report.Outcome = OutcomeInterrupted
	var refs []string
	for _, g := range rc.Report.Groups {
		if g.RefreshID != "" {
			refs = append(refs, fmt.Sprintf("%s (%s %d%%)", g.RefreshID, g.Name, g.PercentComplete))
		}
	}
	rc.Report.Reason = "interrupted while following the refreshes; they go on in AWS: " + strings.Join(refs, ", ")
	return fmt.Errorf("rollout of %s interrupted; changed so far: %s; the refreshes go on in AWS (see `amibake rollout status %s`, resume or abort): %w",
		rc.Fleet.Name, orNone(rc.Report.Changed), rc.Fleet.Name, ctx.Err())
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "nothing"
	}
	return strings.Join(s, "; ")
}

// settle turns the refreshes' end states into the outcome. In an abort a
// rollback, or a refresh back to the old version, is the goal.
func (rc *Context) settle(abort bool) error {
	var why, backs []string
	outcome := OutcomeSucceeded
	for _, g := range rc.Report.Groups {
		if g.RefreshID == "" {
			continue
		}
		switch astypes.InstanceRefreshStatus(g.Status) {
		case astypes.InstanceRefreshStatusSuccessful:
			if g.back {
				backs = append(backs, fmt.Sprintf("%s back on %s (%s version %d)", g.Name, g.FromAMI, g.TemplateName, g.FromVersion))
			}
		case astypes.InstanceRefreshStatusRollbackSuccessful:
			if outcome == OutcomeSucceeded {
				outcome = OutcomeRolledBack
			}
			why = append(why, fmt.Sprintf("%s rolled back to %s: %s", g.Name, g.FromAMI, orText(g.RollbackReason, g.StatusReason)))
		default:
			outcome = OutcomeFailed
			why = append(why, fmt.Sprintf("%s %s: %s", g.Name, g.Status, orText(g.RollbackReason, g.StatusReason)))
		}
	}
	if abort {
		if outcome != OutcomeFailed && len(why)+len(backs) > 0 {
			rc.Report.Outcome = OutcomeAborted
			rc.Report.Reason = strings.Join(append(backs, why...), "; ") + "; every instance runs the old AMI, which stays (nothing retired)"
			rc.logf("Aborted: %s", rc.Report.Reason)
			return errStop
		}
		if outcome == OutcomeSucceeded {
			rc.Report.Outcome = OutcomeSucceeded
			return fmt.Errorf("nothing to abort: the refreshes of %s had already finished", rc.Fleet.Name)
		}
	}
	if outcome == OutcomeSucceeded {
		return nil
	}
	rc.Report.Reason = strings.Join(why, "; ")
	rc.Report.Outcome = outcome
	return &FailedError{Msg: fmt.Sprintf("rollout of %s %s: %s", rc.Fleet.Name, outcome, rc.Report.Reason)}
}

func orText(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

func terminal(s astypes.InstanceRefreshStatus) bool {
	switch s {
	case astypes.InstanceRefreshStatusSuccessful, astypes.InstanceRefreshStatusFailed, astypes.InstanceRefreshStatusCancelled,
		astypes.InstanceRefreshStatusRollbackSuccessful, astypes.InstanceRefreshStatusRollbackFailed:
		return true
	}
	return false
}

func isFailure(s astypes.InstanceRefreshStatus) bool {
	switch s {
	case astypes.InstanceRefreshStatusFailed, astypes.InstanceRefreshStatusCancelled, astypes.InstanceRefreshStatusRollbackInProgress,
		astypes.InstanceRefreshStatusRollbackSuccessful, astypes.InstanceRefreshStatusRollbackFailed:
		return true
	}
	return false
}

func rollbackable(s astypes.InstanceRefreshStatus) bool {
	switch s {
	case astypes.InstanceRefreshStatusPending, astypes.InstanceRefreshStatusInProgress, astypes.InstanceRefreshStatusBaking:
		return true
	}
	return false
}

// ---- status, resume, abort ----

// attach rebuilds the fleet's rollout from AWS: each group's
// amibake:rollout-* tags (a paused or aborted rollout) or else its latest
// refresh, and the template version it names, whose description says
// which AMI it replaces.
type attach struct{}

func (attach) String() string { return "find the fleet's rollout" }

func (attach) Run(ctx context.Context, rc *Context) error {
	if rc.Fleet.Strategy != config.StrategyReplace {
		return fmt.Errorf("fleet %s is %s, not replace", rc.Fleet.Name, rc.Fleet.Strategy)
	}
	groups, err := rc.describeGroups(ctx)
	if err != nil {
		return err
	}
	for _, name := range rc.Fleet.ASGs {
		asg, ok := groups[name]
		if !ok {
			return fmt.Errorf("fleet %s: Auto Scaling group %s not found in %s", rc.Fleet.Name, name, rc.Region)
		}
		_, mixed := groupTemplate(asg)
		gp := &GroupPlan{Name: name, Desired: aws.ToInt32(asg.DesiredCapacity), Mixed: mixed != nil, mixed: mixed, tags: groupTags(asg)}
		rc.Report.Groups = append(rc.Report.Groups, gp)
		r, err := rc.latestRefresh(ctx, name)
		if err != nil {
			return err
		}
		ltID, version := "", ""
		if tv := gp.tags[TagVersion]; tv != "" {
			if i := strings.LastIndex(tv, ":"); i > 0 {
				ltID, version = tv[:i], tv[i+1:]
			}
		} else if r != nil && r.DesiredConfiguration != nil {
			if lt, _ := launchTemplate(r.DesiredConfiguration.LaunchTemplate, r.DesiredConfiguration.MixedInstancesPolicy); lt != nil {
				ltID, version = aws.ToString(lt.LaunchTemplateId), aws.ToString(lt.Version)
			}
		}
		if ltID == "" || version == "" {
			gp.Status = "none"
			continue
		}
		// Every version of the template, not just the rollout's: the same
		// one DescribeLaunchTemplateVersions call below 200 versions, and it
		// tells whether the default is this rollout's (rolloutUnfinished)
		// and whether the prune is left (statusView).
		v, def, all, err := rc.templateVersions(ctx, ltID, "", version)
		if err != nil {
			return err
		}
		fleet, from, to, fromV, ok := parseDescription(aws.ToString(v.VersionDescription))
		if !ok || fleet != rc.Fleet.Name {
			gp.Status = "none"
			continue
		}
		gp.TemplateID, gp.TemplateName = aws.ToString(v.LaunchTemplateId), aws.ToString(v.LaunchTemplateName)
		gp.FromAMI, gp.FromVersion, gp.ToVersion = from, fromV, aws.ToInt64(v.VersionNumber)
		gp.versions = all
		gp.unfinished = rolloutUnfinished(rc.Fleet.Name, to, v, def)
		gp.defaultSet = aws.ToBool(v.DefaultVersion)
		if r != nil {
			gp.RefreshID, gp.Status, gp.StatusReason = aws.ToString(r.InstanceRefreshId), string(r.Status), aws.ToString(r.StatusReason)
			gp.PercentComplete = aws.ToInt32(r.PercentageComplete)
			if r.RollbackDetails != nil {
				gp.RollbackReason = aws.ToString(r.RollbackDetails.RollbackReason)
			}
			if r.Preferences != nil {
				gp.checkpoints = fromInt32s(r.Preferences.CheckpointPercentages)
			}
		}
		gp.countOnNew(asg)
		gp.State = gp.tags[TagState]
		switch {
		case gp.State == StatePaused && r != nil && active(r.Status):
			// A resume started the refresh but could not clear the tags:
			// the rollout runs again (finish clears them).
			gp.State = ""
		case gp.State == StatePaused:
			gp.Checkpoint, _ = strconv.Atoi(gp.tags[TagCheckpoint])
			gp.Remaining = parseInts(gp.tags[TagRemaining])
		case gp.State == StateAborted:
			gp.back = true
		case r != nil && r.Status == astypes.InstanceRefreshStatusCancelled:
			// Cancelled by a pause whose tags were never written (or by
			// hand): the fleet is held all the same.
			gp.State = StatePaused
			gp.Remaining = remainingCheckpoints(orFleet(gp.checkpoints, rc.Fleet.Rollout.Checkpoints), 0, gp.OnNewPercent)
			gp.tags[TagReason] = "unknown: the refresh was cancelled"
		}
		if rc.Report.Reason == "" && gp.tags[TagReason] != "" {
			rc.Report.Reason = gp.tags[TagReason]
			rc.Report.PauseKind, _, _ = strings.Cut(rc.Report.Reason, ":")
		}
		gp.Batches = batches(rc.Fleet.Rollout.Checkpoints, int(gp.Desired))
		if rc.Report.Target == "" {
			rc.Report.Target = to
		}
	}
	if rc.Report.PauseKind != PauseOperator && rc.Report.PauseKind != PauseCanaryMarginal {
		rc.Report.PauseKind = ""
	}
	return nil
}

func orFleet(a, b []int) []int {
	if len(a) > 0 {
		return a
	}
	return b
}

func fromInt32s(in []int32) []int {
	out := make([]int, len(in))
	for i, v := range in {
		out[i] = int(v)
	}
	return out
}

// Status reads the fleet's rollout state from AWS (no lock, no change).
func (r *Rollout) Status(ctx context.Context) (*Report, error) {
	rep := r.newReport()
	rep.DryRun = false
	if r.Fleet.Strategy == config.StrategyInPlace {
		return r.inPlaceStatus(ctx, rep)
	}
	err := r.run(ctx, rep, []Step{attach{}, statusView{}})
	return rep, err
}

// statusRank orders the group outcomes: the fleet shows the one that most
// needs an operator.
var statusRank = map[string]int{
	OutcomeNothing: 0, OutcomeSucceeded: 1, OutcomeAborted: 2, OutcomeRolledBack: 3, OutcomeInProgress: 4,
	OutcomePaused: 5, OutcomeAborting: 6, OutcomeFailed: 7,
}

type statusView struct{}

func (statusView) String() string { return "show the status" }

func (statusView) Run(ctx context.Context, rc *Context) error {
	outcome := OutcomeNothing
	pending, err := rc.finishPending(ctx)
	if err != nil {
		return err
	}
	for _, g := range rc.Report.Groups {
		st := astypes.InstanceRefreshStatus(g.Status)
		var o string
		switch {
		case g.ToVersion == 0:
			rc.logf("  %-20s no amibake rollout", g.Name)
			continue
		case g.State == StatePaused:
			o = OutcomePaused
		case g.State == StateAborted && (active(st) || st == astypes.InstanceRefreshStatusCancelled):
			// Cancelled: the way back has not started (re-run abort).
			o = OutcomeAborting
		case g.State == StateAborted && (st == astypes.InstanceRefreshStatusSuccessful || st == astypes.InstanceRefreshStatusRollbackSuccessful):
			o = OutcomeAborted
		case active(st):
			o = OutcomeInProgress
		case st == astypes.InstanceRefreshStatusSuccessful && g.unfinished:
			// Refreshed, but the run died before finish: not done.
			o = OutcomeInProgress
		case st == astypes.InstanceRefreshStatusSuccessful:
			o = OutcomeSucceeded
		case st == astypes.InstanceRefreshStatusRollbackSuccessful:
			o = OutcomeRolledBack
		default:
			o = OutcomeFailed
		}
		if statusRank[o] > statusRank[outcome] {
			outcome = o
		}
		what := fmt.Sprintf("%s → %s (%s v%d → v%d)", g.FromAMI, rc.Report.Target, g.TemplateName, g.FromVersion, g.ToVersion)
		if o == OutcomePaused {
			rc.logf("  %-20s paused at checkpoint %d%%: %d of %d instances (%d%%) on the new AMI; resume goes through %v  %s",
				g.Name, g.Checkpoint, g.OnNew, g.Desired, g.OnNewPercent, g.Remaining, what)
			continue
		}
		rc.logf("  %-20s %-12s %-18s %3d%%  %d of %d on the new AMI  %s refresh %s  %s", g.Name, o, g.Status, g.PercentComplete,
			g.OnNew, g.Desired, what, g.RefreshID, firstLine(orText(g.RollbackReason, g.StatusReason)))
		if g.unfinished && st == astypes.InstanceRefreshStatusSuccessful {
			rc.logf("  %-20s not finished: the default version, the old versions and the retire of %s are left; `amibake rollout resume %s` finishes them", g.Name, g.FromAMI, rc.Fleet.Name)
		}
		if o == OutcomeSucceeded && pending[g] != "" {
			rc.logf("  %-20s finish pending: %s", g.Name, pending[g])
		}
	}
	rc.Report.Outcome = outcome
	if outcome != OutcomePaused && outcome != OutcomeAborted && outcome != OutcomeAborting {
		rc.Report.Reason, rc.Report.PauseKind = "", ""
	}
	if outcome == OutcomeSucceeded && len(pending) > 0 {
		rc.Report.Reason = fmt.Sprintf("finish pending: `amibake rollout %s --apply` prunes and retires", rc.Fleet.Name)
	}
	return nil
}

// finishPending finds the succeeded groups whose finish was cut short
// after the default moved (the prune or the retire left, as the re-run of
// readGroups/findLeftovers finds them) and says what is left of each.
//
// The prune costs nothing: attach read every version of the template. The
// retire costs one DescribeImages of the layer per project region
// (retirePending), and only when a finished group has no prune left and
// status was given a Retirer.
func (rc *Context) finishPending(ctx context.Context) (map[*GroupPlan]string, error) {
	keep := max(rc.Fleet.Retire.Keep, 1)
	// A version another group of the fleet runs is not the prune's.
	running := map[string]map[int64]bool{}
	var done []*GroupPlan
	for _, g := range rc.Report.Groups {
		if g.ToVersion == 0 {
			continue
		}
		st := astypes.InstanceRefreshStatus(g.Status)
		// Not unfinished: the default is this version, or another version
		// of the same rollout (rolloutUnfinished).
		finished := st == astypes.InstanceRefreshStatusSuccessful && !g.unfinished && g.State == ""
		markVersion(running, g.TemplateID, g.ToVersion)
		if !finished {
			markVersion(running, g.TemplateID, g.FromVersion)
			continue
		}
		done = append(done, g)
	}
	out := map[*GroupPlan]string{}
	var amis []string
	for _, g := range done {
		if drop := prunable(g.versions, g.ToVersion, keep, running[g.TemplateID]); len(drop) > 0 {
			out[g] = fmt.Sprintf("%s versions %v not pruned, %s not retired", g.TemplateName, drop, g.FromAMI)
		} else if !slices.Contains(amis, g.FromAMI) {
			amis = append(amis, g.FromAMI)
		}
	}
	if rc.Retirer == nil || len(amis) == 0 {
		return out, nil
	}
	left, err := rc.retirePending(ctx, amis)
	if err != nil {
		return nil, err
	}
	for _, g := range done {
		if out[g] == "" && left[g.FromAMI] {
			out[g] = fmt.Sprintf("%s not retired", g.FromAMI)
		}
	}
	return out, nil
}

// Resume continues a paused rollout (a refresh per group with the
// checkpoints left, SkipMatching) or follows an interrupted one, to the
// end, and finishes it: default version, retire. In-place fleets patch
// the instances not yet on the target patch level.
func (r *Rollout) Resume(ctx context.Context) (*Report, error) {
	rep := r.newReport()
	rep.DryRun = false
	if r.Fleet.Strategy == config.StrategyInPlace {
		return r.inPlaceResume(ctx, rep)
	}
	err := r.run(ctx, rep, []Step{attach{}, resumable{}, lockStep{}, restart{}, follow{}, finish{}})
	return rep, err
}

type resumable struct{}

func (resumable) String() string { return "check there is a rollout to resume" }

func (resumable) Run(ctx context.Context, rc *Context) error {
	n := 0
	for _, g := range rc.Report.Groups {
		if g.ToVersion == 0 {
			continue
		}
		st := astypes.InstanceRefreshStatus(g.Status)
		switch {
		case g.State == StateAborted:
			rc.Report.Outcome = OutcomeAborted
			return &FailedError{Msg: fmt.Sprintf("rollout of %s was aborted (%s is back on %s): start a new one with `amibake rollout %s --apply`", rc.Fleet.Name, g.Name, g.FromAMI, rc.Fleet.Name)}
		case g.State == StatePaused:
		case isFailure(st) && !active(st):
			rc.Report.Outcome = OutcomeRolledBack
			return &FailedError{Msg: fmt.Sprintf("rollout of %s cannot be resumed: %s is %s (%s)", rc.Fleet.Name, g.Name, g.Status, orText(g.RollbackReason, g.StatusReason))}
		}
		n++
	}
	if n == 0 {
		return errors.New("no amibake rollout of fleet " + rc.Fleet.Name + " to resume")
	}
	return nil
}

// Abort rolls the fleet back to the AMI it ran before: a running refresh
// by RollbackInstanceRefresh, a paused one by a refresh back to the old
// template version; it follows that to the end. Re-running it is safe. An
// in-place fleet's running patch command is cancelled (patches cannot be
// uninstalled).
func (r *Rollout) Abort(ctx context.Context) (*Report, error) {
	rep := r.newReport()
	rep.DryRun = false
	if r.Fleet.Strategy == config.StrategyInPlace {
		return r.inPlaceAbort(ctx, rep)
	}
	err := r.run(ctx, rep, []Step{attach{}, lockStep{}, back{}, follow{abort: true}})
	return rep, err
}
