package rollout

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"

	"github.com/amibake/amibake/internal/config"
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
			case rc.Wait > 0 && time.Duration(rc.Now().UnixNano()-g.checkpointSince) >= rc.Wait:
				pausedAt = append(pausedAt, fmt.Sprintf("%s at %d%% (%s)", g.Name, g.PercentComplete, firstLine(g.StatusReason)))
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
		if len(pausedAt) > 0 {
			rc.Report.Outcome = OutcomePaused
			rc.Report.Reason = "waiting at a checkpoint: " + strings.Join(pausedAt, "; ")
			return &PausedError{Msg: fmt.Sprintf("rollout of %s paused %s; the refresh goes on in AWS after checkpoint_wait (%s). `amibake rollout resume %s` follows it to the end and retires the replaced AMI; `amibake rollout abort %s` rolls back",
				rc.Fleet.Name, strings.Join(pausedAt, "; "), rc.Fleet.Rollout.CheckpointWait, rc.Fleet.Name, rc.Fleet.Name)}
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

// settle turns the refreshes' end states into the outcome.
func (rc *Context) settle(abort bool) error {
	var why []string
	outcome := OutcomeSucceeded
	for _, g := range rc.Report.Groups {
		if g.RefreshID == "" {
			continue
		}
		switch astypes.InstanceRefreshStatus(g.Status) {
		case astypes.InstanceRefreshStatusSuccessful:
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
	if outcome == OutcomeSucceeded {
		if abort {
			rc.Report.Outcome = OutcomeSucceeded
			return fmt.Errorf("nothing to abort: the refreshes of %s had already finished", rc.Fleet.Name)
		}
		return nil
	}
	rc.Report.Reason = strings.Join(why, "; ")
	if abort && outcome == OutcomeRolledBack {
		rc.Report.Outcome = OutcomeAborted
		rc.logf("Aborted: %s", rc.Report.Reason)
		return errStop
	}
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

// attach finds the fleet's latest refreshes that amibake started (their
// desired template version says so in its description) and rebuilds the
// group plans from AWS.
type attach struct{}

func (attach) String() string { return "find the fleet's refreshes" }

func (attach) Run(ctx context.Context, rc *Context) error {
	if rc.Fleet.Strategy != config.StrategyReplace {
		return fmt.Errorf("fleet %s is %s: status, resume and abort follow the instance refreshes of replace fleets; an in-place rollout's commands are in SSM (aws ssm list-commands)", rc.Fleet.Name, rc.Fleet.Strategy)
	}
	groups, err := rc.describeGroups(ctx)
	if err != nil {
		return err
	}
	for _, name := range rc.Fleet.ASGs {
		if _, ok := groups[name]; !ok {
			return fmt.Errorf("fleet %s: Auto Scaling group %s not found in %s", rc.Fleet.Name, name, rc.Region)
		}
		gp := &GroupPlan{Name: name, Desired: aws.ToInt32(groups[name].DesiredCapacity)}
		rc.Report.Groups = append(rc.Report.Groups, gp)
		r, err := rc.latestRefresh(ctx, name)
		if err != nil {
			return err
		}
		if r == nil || r.DesiredConfiguration == nil || r.DesiredConfiguration.LaunchTemplate == nil {
			gp.Status = "none"
			continue
		}
		lt := r.DesiredConfiguration.LaunchTemplate
		v, err := rc.templateVersion(ctx, aws.ToString(lt.LaunchTemplateId), aws.ToString(lt.LaunchTemplateName), aws.ToString(lt.Version))
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
		gp.RefreshID, gp.Status, gp.StatusReason = aws.ToString(r.InstanceRefreshId), string(r.Status), aws.ToString(r.StatusReason)
		gp.PercentComplete = aws.ToInt32(r.PercentageComplete)
		if r.RollbackDetails != nil {
			gp.RollbackReason = aws.ToString(r.RollbackDetails.RollbackReason)
		}
		gp.Batches = batches(rc.Fleet.Rollout.Checkpoints, int(gp.Desired))
		if rc.Report.Target == "" {
			rc.Report.Target = to
		}
	}
	return nil
}

// Status reads the fleet's rollout state from AWS (no lock, no change).
func (r *Rollout) Status(ctx context.Context) (*Report, error) {
	rep := r.newReport()
	rep.DryRun = false
	err := r.run(ctx, rep, []Step{attach{}, statusView{}})
	return rep, err
}

type statusView struct{}

func (statusView) String() string { return "show the status" }

func (statusView) Run(ctx context.Context, rc *Context) error {
	outcome := OutcomeNothing
	for _, g := range rc.Report.Groups {
		st := astypes.InstanceRefreshStatus(g.Status)
		switch {
		case g.RefreshID == "":
			rc.logf("  %-20s no amibake rollout", g.Name)
			continue
		case active(st) && strings.HasPrefix(g.StatusReason, "Checkpoint "):
			outcome = OutcomePaused
		case active(st):
			if outcome != OutcomePaused {
				outcome = "in-progress"
			}
		case st == astypes.InstanceRefreshStatusSuccessful && outcome == OutcomeNothing:
			outcome = OutcomeSucceeded
		case isFailure(st) && !active(st):
			outcome = OutcomeRolledBack
		}
		rc.logf("  %-20s %-18s %3d%%  %s → %s (%s v%d → v%d) refresh %s  %s", g.Name, g.Status, g.PercentComplete,
			g.FromAMI, rc.Report.Target, g.TemplateName, g.FromVersion, g.ToVersion, g.RefreshID, firstLine(orText(g.RollbackReason, g.StatusReason)))
	}
	rc.Report.Outcome = outcome
	return nil
}

// Resume follows the fleet's refreshes again to the end (after a pause or
// an interrupt) and finishes the rollout: default version, retire.
func (r *Rollout) Resume(ctx context.Context) (*Report, error) {
	rep := r.newReport()
	rep.DryRun = false
	err := r.run(ctx, rep, []Step{attach{}, resumable{}, lockStep{}, follow{}, finish{}})
	return rep, err
}

type resumable struct{}

func (resumable) String() string { return "check there is a rollout to resume" }

func (resumable) Run(ctx context.Context, rc *Context) error {
	n := 0
	for _, g := range rc.Report.Groups {
		if g.RefreshID == "" {
			continue
		}
		st := astypes.InstanceRefreshStatus(g.Status)
		if isFailure(st) && !active(st) {
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

// Abort rolls the fleet's active refreshes back and follows the rollback.
func (r *Rollout) Abort(ctx context.Context) (*Report, error) {
	rep := r.newReport()
	rep.DryRun = false
	err := r.run(ctx, rep, []Step{attach{}, lockStep{}, rollback{}, follow{abort: true}})
	return rep, err
}

type rollback struct{}

func (rollback) String() string { return "roll back the refreshes" }

func (rollback) Run(ctx context.Context, rc *Context) error {
	n := 0
	for _, g := range rc.Report.Groups {
		if g.RefreshID == "" || !rollbackable(astypes.InstanceRefreshStatus(g.Status)) {
			continue
		}
		if _, err := rc.AutoScaling.RollbackInstanceRefresh(ctx, &autoscaling.RollbackInstanceRefreshInput{AutoScalingGroupName: aws.String(g.Name)}); err != nil {
			return fmt.Errorf("roll back instance refresh %s of %s: %w", g.RefreshID, g.Name, err)
		}
		rc.changed("rolled back instance refresh %s of %s", g.RefreshID, g.Name)
		g.Status = ""
		n++
	}
	if n == 0 {
		return fmt.Errorf("nothing to abort: fleet %s has no instance refresh in progress", rc.Fleet.Name)
	}
	return nil
}
