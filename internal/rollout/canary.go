package rollout

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/canary"
	"github.com/amibake/amibake/internal/config"
)

// CanaryFunc judges the target AMI against the baseline (the AMI the
// groups ran before). A replace rollout of a fleet with a canary block
// calls it when the refreshes first wait at a checkpoint: pass → the
// rollout goes on, marginal → paused (exit 5), fail → rolled back.
type CanaryFunc func(ctx context.Context, target, baseline string) (*canary.Report, error)

// NewCanary returns the CanaryFunc of a fleet: canary.Analysis with the
// given clients. noWait reads the window ending now (sandbox); now and
// sleep may be nil (the wall clock).
func NewCanary(ec2 awsapi.EC2, cw awsapi.CloudWatch, asg awsapi.AutoScaling, project string, fleet *config.Fleet,
	noWait bool, now func() time.Time, sleep func(context.Context, time.Duration) error, out io.Writer) CanaryFunc {
	return func(ctx context.Context, target, baseline string) (*canary.Report, error) {
		a := &canary.Analysis{EC2: ec2, CloudWatch: cw, AutoScaling: asg, Project: project, Fleet: fleet,
			AMI: target, BaselineAMI: baseline, NoWait: noWait, Now: now, Sleep: sleep, Out: out, Poll: 5 * time.Second}
		return a.Run(ctx)
	}
}

// canaryFollow is the replace rollout's follow: with the canary analysis.
var canaryFollow = follow{canary: true}

// canaryAtCheckpoint runs the analysis once, the first time a group waits
// at a checkpoint. A fail rolls every active refresh back (recorded in
// rolledBack); the follow loop then settles the outcome.
func (rc *Context) canaryAtCheckpoint(ctx context.Context, rolledBack map[string]bool) error {
	if rc.Canary == nil || rc.Fleet.Canary == nil || rc.Report.Canary != nil {
		return nil
	}
	baseline := ""
	at := false
	for _, g := range rc.Report.Groups {
		if baseline == "" {
			baseline = g.FromAMI
		}
		if astypes.InstanceRefreshStatus(g.Status) == astypes.InstanceRefreshStatusInProgress && strings.HasPrefix(g.StatusReason, "Checkpoint ") {
			at = true
		}
	}
	if !at {
		return nil
	}
	rc.logf("Canary analysis at the first checkpoint: %s vs %s", rc.Report.Target, baseline)
	rep, err := rc.Canary(ctx, rc.Report.Target, baseline)
	if err != nil {
		if ctx.Err() != nil {
			return rc.interrupted(ctx)
		}
		// No verdict is not a pass: left alone, the refresh goes on by
		// itself once the checkpoint delay is over. Roll back instead.
		rc.Report.CanaryError = err.Error()
		rc.logf("Canary analysis could not give a verdict (%v); rolling back", err)
		return rc.rollBackForCanary(ctx, rolledBack, "canary analysis failed")
	}
	rc.Report.Canary = rep
	var why []string
	for _, m := range rep.Metrics {
		if m.Verdict != canary.Pass {
			why = append(why, fmt.Sprintf("%s %s (%s)", m.Name, m.Verdict, m.Reason))
		}
	}
	switch rep.Verdict {
	case canary.Pass:
		rc.logf("Canary passed (score %.0f): the rollout goes on", rep.Score)
		return nil
	case canary.Marginal:
		rc.Report.Outcome = OutcomePaused
		rc.Report.Reason = "canary marginal: " + strings.Join(why, "; ")
		return &PausedError{Msg: fmt.Sprintf("rollout of %s paused: canary analysis is marginal (%s); `amibake rollout resume %s` accepts it and follows the refresh to the end, `amibake rollout abort %s` rolls back",
			rc.Fleet.Name, strings.Join(why, "; "), rc.Fleet.Name, rc.Fleet.Name)}
	}
	rc.logf("Canary failed: %s; rolling back", strings.Join(why, "; "))
	return rc.rollBackForCanary(ctx, rolledBack, "canary failed")
}

// rollBackForCanary rolls back every group's refresh that can be; the
// follow loop then sees the rollbacks through to the end.
func (rc *Context) rollBackForCanary(ctx context.Context, rolledBack map[string]bool, why string) error {
	for _, g := range rc.Report.Groups {
		st := astypes.InstanceRefreshStatus(g.Status)
		if g.RefreshID == "" || rolledBack[g.Name] || !rollbackable(st) {
			continue
		}
		rolledBack[g.Name] = true
		if _, err := rc.AutoScaling.RollbackInstanceRefresh(context.WithoutCancel(ctx), &autoscaling.RollbackInstanceRefreshInput{
			AutoScalingGroupName: aws.String(g.Name)}); err != nil {
			return fmt.Errorf("roll back %s after the %s: %w", g.Name, why, err)
		}
		rc.changed("rolled back instance refresh %s of %s (%s)", g.RefreshID, g.Name, why)
		g.Status = ""
	}
	return nil
}

// canaryOutcome names the failed canary in a rolled-back rollout's reason.
func canaryOutcome(rep *Report, err error) error {
	if err != nil && rep.CanaryError != "" {
		rep.Reason = "canary analysis failed (" + rep.CanaryError + "); " + rep.Reason
		return &FailedError{Msg: fmt.Sprintf("rollout of %s %s: %s", rep.Fleet, rep.Outcome, rep.Reason)}
	}
	if err == nil || rep.Canary == nil || rep.Canary.Verdict != canary.Fail {
		return err
	}
	var why []string
	for _, m := range rep.Canary.Metrics {
		if m.Verdict == canary.Fail {
			why = append(why, fmt.Sprintf("%s: %s", m.Name, m.Reason))
		}
	}
	rep.Reason = "canary failed (" + strings.Join(why, "; ") + "); " + rep.Reason
	return &FailedError{Msg: fmt.Sprintf("rollout of %s %s: %s", rep.Fleet, rep.Outcome, rep.Reason)}
}
