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
	"github.com/amibake/amibake/internal/lineage"
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
		// resume accepts the verdict and goes on; abort rolls back.
		return rc.hold(ctx, PauseCanaryMarginal, fmt.Sprintf("score %.0f; %s", rep.Score, strings.Join(why, "; ")))
	}
	rc.logf("Canary failed: %s; rolling back", strings.Join(why, "; "))
	if err := rc.rollBackForCanary(ctx, rolledBack, "canary failed"); err != nil {
		return err
	}
	rc.revokeTarget(ctx, fmt.Sprintf("canary failed in fleet %s (score %.0f): %s", rc.Fleet.Name, rep.Score, strings.Join(why, "; ")))
	return nil
}

// revokeTarget revokes the AMI a failed canary judged, so the next
// rollout or plan does not pick it again. A revoke that fails does not
// stop the rollback: the report says so.
func (rc *Context) revokeTarget(ctx context.Context, reason string) {
	if rc.Revoke == nil {
		return
	}
	ids, err := rc.Revoke(context.WithoutCancel(ctx), rc.Report.Target, trunc(reason, maxTagValue))
	if err != nil {
		rc.Report.RevokeError = err.Error()
		rc.logf("Revoking %s failed: %v", rc.Report.Target, err)
		return
	}
	rc.Report.Revoked = ids
	rc.changed("revoked %s (%s)", strings.Join(ids, ", "), reason)
	rc.logf("Revoked %s: %s", strings.Join(ids, ", "), reason)
}

// NewRevoke returns the RevokeFunc of a project: the AMI and its copies
// (same amibake:build-id) in every region get amibake:revoked = reason
// and are deprecated, as `amibake revoke` does. now may be nil (the wall
// clock).
func NewRevoke(ec2For func(region string) awsapi.EC2, region string, regions []string, project string, now func() time.Time) RevokeFunc {
	if now == nil {
		now = time.Now
	}
	return func(ctx context.Context, ami, reason string) ([]string, error) {
		imgs, err := lineage.DescribeIDs(ctx, ec2For(region), region, []string{ami})
		if err != nil {
			return nil, fmt.Errorf("revoke %s: %w", ami, err)
		}
		img, ok := imgs[ami]
		if !ok {
			return nil, fmt.Errorf("revoke %s: not found in %s", ami, region)
		}
		if img.Project != project {
			return nil, fmt.Errorf("revoke %s: not an AMI of project %q (amibake:project=%q)", ami, project, img.Project)
		}
		images := []lineage.Image{img}
		if img.BuildID != "" {
			for _, r := range regions {
				if r == region {
					continue
				}
				copies, err := lineage.DescribeIn(ctx, ec2For(r), r, nil, "tag:"+lineage.TagBuildID, []string{img.BuildID},
					lineage.TagFilter(lineage.TagProject, project), lineage.TagFilter(lineage.TagLayer, img.Layer))
				if err != nil {
					return nil, fmt.Errorf("revoke %s: copies in %s: %w", ami, r, err)
				}
				images = append(images, copies...)
			}
		}
		actions := lineage.PlanRevoke(images, reason, now())
		if err := lineage.ApplyRevoke(ctx, ec2For, actions, reason); err != nil {
			return nil, fmt.Errorf("revoke %s: %w", ami, err)
		}
		ids := make([]string, 0, len(images))
		for _, i := range images {
			ids = append(ids, i.ID)
		}
		return ids, nil
	}
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
	switch {
	case len(rep.Revoked) > 0:
		rep.Reason += "; revoked " + strings.Join(rep.Revoked, ", ")
	case rep.RevokeError != "":
		rep.Reason += "; revoking " + rep.Target + " failed: " + rep.RevokeError
	}
	return &FailedError{Msg: fmt.Sprintf("rollout of %s %s: %s", rep.Fleet, rep.Outcome, rep.Reason)}
}
