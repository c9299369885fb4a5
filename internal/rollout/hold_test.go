package rollout_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/rollout"
	"github.com/amibake/amibake/internal/sandbox"
)

// letTimePass moves the sandbox clock on by d in 30 s ticks, so every
// state machine gets its turns (a refresh left running would finish).
func letTimePass(sb *sandbox.Sandbox, d time.Duration) {
	for left := d; left > 0; left -= 30 * time.Second {
		sb.AdvanceClock(30 * time.Second)
		sb.Do(func(*sandbox.World) {})
	}
}

func asgTags(t *testing.T, sb *sandbox.Sandbox, name string) map[string]string {
	t.Helper()
	out, err := autoscaling.NewFromConfig(sb.Config).DescribeAutoScalingGroups(context.Background(),
		&autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}})
	require.NoError(t, err)
	require.Len(t, out.AutoScalingGroups, 1)
	tags := map[string]string{}
	for _, tg := range out.AutoScalingGroups[0].Tags {
		tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	return tags
}

func latestRefresh(t *testing.T, sb *sandbox.Sandbox, name string) astypes.InstanceRefresh {
	t.Helper()
	out, err := autoscaling.NewFromConfig(sb.Config).DescribeInstanceRefreshes(context.Background(),
		&autoscaling.DescribeInstanceRefreshesInput{AutoScalingGroupName: aws.String(name)})
	require.NoError(t, err)
	require.NotEmpty(t, out.InstanceRefreshes)
	return out.InstanceRefreshes[0]
}

// pause runs the world's rollout with a --wait shorter than the
// checkpoint wait: it pauses at the 50% checkpoint.
func pause(t *testing.T, r *rollout.Rollout) *rollout.Report {
	t.Helper()
	r.Wait = time.Minute
	rep, err := r.Replace(context.Background())
	var pe *rollout.PausedError
	require.True(t, errors.As(err, &pe), "%v", err)
	assert.Equal(t, 5, pe.ExitCode())
	assert.Equal(t, rollout.OutcomePaused, rep.Outcome)
	assert.Equal(t, rollout.PauseOperator, rep.PauseKind)
	r.Wait = 0
	return rep
}

func TestPauseHoldsAndResumeFinishes(t *testing.T) {
	sb, r, old, newAMI := replaceWorld(t)
	rep := pause(t, r)
	for _, g := range rep.Groups {
		assert.Equal(t, 50, g.Checkpoint, g.Name)
		assert.Equal(t, []int{100}, g.Remaining, g.Name)
		assert.Equal(t, 2, g.OnNew, g.Name)
	}
	assert.Contains(t, rep.Reason, "operator: --wait 1m0s ran out at a checkpoint")

	// Held: far beyond checkpoint_wait (10m) nothing more is replaced.
	letTimePass(sb, 3*time.Hour)
	for _, name := range []string{"web-a", "web-b"} {
		assert.Equal(t, map[string]int{old: 2, newAMI: 2}, groupImages(sb, name), name)
		assert.Equal(t, astypes.InstanceRefreshStatusCancelled, latestRefresh(t, sb, name).Status)
		tags := asgTags(t, sb, name)
		assert.Equal(t, rollout.StatePaused, tags[rollout.TagState])
		assert.Equal(t, "50", tags[rollout.TagCheckpoint])
		assert.Equal(t, "100", tags[rollout.TagRemaining])
		assert.Contains(t, tags[rollout.TagReason], "operator: ")
	}

	// Status reads the pause from AWS alone, and only reads: one
	// DescribeAutoScalingGroups for the fleet, per group one
	// DescribeInstanceRefreshes and one DescribeLaunchTemplateVersions.
	sb.ResetLog()
	st, err := r.Status(context.Background())
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"autoscaling:DescribeAutoScalingGroups": 1, "autoscaling:DescribeInstanceRefreshes": 2,
		"ec2:DescribeLaunchTemplateVersions": 2}, sb.FirstAttemptCounts())
	assert.Equal(t, rollout.OutcomePaused, st.Outcome)
	assert.Equal(t, rollout.PauseOperator, st.PauseKind)
	assert.Equal(t, newAMI, st.Target)
	for _, g := range st.Groups {
		assert.Equal(t, rollout.StatePaused, g.State)
		assert.Equal(t, 50, g.Checkpoint)
		assert.Equal(t, 2, g.OnNew)
		assert.Equal(t, 50, g.OnNewPercent)
		assert.Equal(t, old, g.FromAMI)
	}

	// A new rollout refuses while one is paused.
	_, err = r.Replace(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "holds a paused rollout")

	// Resume: a refresh with the checkpoints left, to the end.
	rep, err = r.Resume(context.Background())
	require.NoError(t, err)
	assert.Equal(t, rollout.OutcomeSucceeded, rep.Outcome)
	for _, name := range []string{"web-a", "web-b"} {
		assert.Equal(t, map[string]int{newAMI: 4}, groupImages(sb, name), name)
		ref := latestRefresh(t, sb, name)
		assert.Equal(t, astypes.InstanceRefreshStatusSuccessful, ref.Status)
		assert.Equal(t, []int32{100}, ref.Preferences.CheckpointPercentages, "only the remaining checkpoints")
		assert.True(t, aws.ToBool(ref.Preferences.SkipMatching))
		assert.NotContains(t, asgTags(t, sb, name), rollout.TagState, "the pause is over")
	}
	st, err = r.Status(context.Background())
	require.NoError(t, err)
	assert.Equal(t, rollout.OutcomeSucceeded, st.Outcome)

	// Safe to re-run.
	rep, err = r.Resume(context.Background())
	require.NoError(t, err)
	assert.Equal(t, rollout.OutcomeSucceeded, rep.Outcome)
}

func TestAbortAfterPauseBringsTheOldAMIBack(t *testing.T) {
	sb, r, old, newAMI := replaceWorld(t)
	pause(t, r)
	rep, err := r.Abort(context.Background())
	require.NoError(t, err)
	assert.Equal(t, rollout.OutcomeAborted, rep.Outcome)
	assert.Contains(t, rep.Reason, "web-a back on "+old)
	for _, name := range []string{"web-a", "web-b"} {
		assert.Equal(t, map[string]int{old: 4}, groupImages(sb, name), name)
		assert.Equal(t, rollout.StateAborted, asgTags(t, sb, name)[rollout.TagState])
	}
	// Held too: time passing brings nothing back to the new AMI.
	letTimePass(sb, time.Hour)
	assert.Equal(t, map[string]int{old: 4}, groupImages(sb, "web-a"))
	sb.Do(func(sw *sandbox.World) {
		assert.True(t, sw.EC2.Images[old].DeprecationTime.IsZero(), "the old AMI is not retired")
	})

	st, err := r.Status(context.Background())
	require.NoError(t, err)
	assert.Equal(t, rollout.OutcomeAborted, st.Outcome)

	// Re-running abort is safe; resume refuses an aborted rollout.
	rep, err = r.Abort(context.Background())
	require.NoError(t, err)
	assert.Equal(t, rollout.OutcomeAborted, rep.Outcome)
	_, err = r.Resume(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "was aborted")

	// A new rollout starts over and clears the aborted state.
	rep, err = r.Replace(context.Background())
	require.NoError(t, err)
	assert.Equal(t, rollout.OutcomeSucceeded, rep.Outcome)
	assert.Equal(t, map[string]int{newAMI: 4}, groupImages(sb, "web-a"))
	assert.NotContains(t, asgTags(t, sb, "web-a"), rollout.TagState)
}

// A refresh followed (no pause) is rolled back by abort too.
func TestAbortWhileRunning(t *testing.T) {
	sb, r, old, _ := replaceWorld(t)
	ctx, cancel := context.WithCancel(context.Background())
	polls := 0
	r.Sleep = func(c context.Context, d time.Duration) error {
		polls++
		if polls == 2 {
			cancel()
		}
		sb.AdvanceClock(d)
		return c.Err()
	}
	_, err := r.Replace(ctx)
	require.Error(t, err)
	r.Sleep = func(c context.Context, d time.Duration) error { sb.AdvanceClock(d); return c.Err() }
	rep, err := r.Abort(context.Background())
	require.NoError(t, err)
	assert.Equal(t, rollout.OutcomeAborted, rep.Outcome)
	assert.Equal(t, map[string]int{old: 4}, groupImages(sb, "web-a"))
	assert.Equal(t, map[string]int{old: 4}, groupImages(sb, "web-b"))
}

// mixedWorld turns web-b into a mixed instances group on its template.
func mixedWorld(t *testing.T) (*sandbox.Sandbox, *rollout.Rollout, string, string) {
	t.Helper()
	sb, r, old, newAMI := replaceWorld(t)
	ctx := context.Background()
	as := autoscaling.NewFromConfig(sb.Config)
	lt, err := ec2.NewFromConfig(sb.Config).CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("web-mixed"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(old), InstanceType: ec2types.InstanceTypeT3Micro}})
	require.NoError(t, err)
	_, err = as.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String("web-m"), MinSize: aws.Int32(0), MaxSize: aws.Int32(8), DesiredCapacity: aws.Int32(4),
		MixedInstancesPolicy: &astypes.MixedInstancesPolicy{
			LaunchTemplate: &astypes.LaunchTemplate{
				LaunchTemplateSpecification: &astypes.LaunchTemplateSpecification{LaunchTemplateId: lt.LaunchTemplate.LaunchTemplateId, Version: aws.String("1")},
				Overrides:                   []astypes.LaunchTemplateOverrides{{InstanceType: aws.String("t3.micro")}, {InstanceType: aws.String("t3a.micro")}},
			},
			InstancesDistribution: &astypes.InstancesDistribution{OnDemandBaseCapacity: aws.Int32(1)},
		},
		AvailabilityZones: []string{"us-east-1a"}, HealthCheckGracePeriod: aws.Int32(30)})
	require.NoError(t, err)
	letTimePass(sb, time.Minute)
	r.Fleet.ASGs = []string{"web-m"}
	return sb, r, old, newAMI
}

func mixedPolicy(t *testing.T, sb *sandbox.Sandbox) *astypes.MixedInstancesPolicy {
	t.Helper()
	out, err := autoscaling.NewFromConfig(sb.Config).DescribeAutoScalingGroups(context.Background(),
		&autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{"web-m"}})
	require.NoError(t, err)
	require.NotNil(t, out.AutoScalingGroups[0].MixedInstancesPolicy)
	return out.AutoScalingGroups[0].MixedInstancesPolicy
}

func TestMixedInstancesGroupRollsOut(t *testing.T) {
	sb, r, old, newAMI := mixedWorld(t)
	require.Equal(t, map[string]int{old: 4}, groupImages(sb, "web-m"))
	r.Apply = false
	plan, err := r.Replace(context.Background())
	require.NoError(t, err)
	assert.Contains(t, plan.Calls[1], "DesiredConfiguration.MixedInstancesPolicy.LaunchTemplate.LaunchTemplateSpecification=")
	r.Apply = true
	rep, err := r.Replace(context.Background())
	require.NoError(t, err)
	assert.Equal(t, rollout.OutcomeSucceeded, rep.Outcome)
	require.Len(t, rep.Groups, 1)
	assert.True(t, rep.Groups[0].Mixed)
	assert.Equal(t, map[string]int{newAMI: 4}, groupImages(sb, "web-m"))
	// The group's policy names the new version, overrides and
	// distribution kept.
	m := mixedPolicy(t, sb)
	assert.Equal(t, "2", aws.ToString(m.LaunchTemplate.LaunchTemplateSpecification.Version))
	assert.Len(t, m.LaunchTemplate.Overrides, 2)
	assert.Equal(t, int32(1), aws.ToInt32(m.InstancesDistribution.OnDemandBaseCapacity))
}

func TestMixedInstancesGroupPauseAndAbort(t *testing.T) {
	sb, r, old, newAMI := mixedWorld(t)
	pause(t, r)
	letTimePass(sb, time.Hour)
	assert.Equal(t, map[string]int{old: 2, newAMI: 2}, groupImages(sb, "web-m"), "held")
	rep, err := r.Abort(context.Background())
	require.NoError(t, err)
	assert.Equal(t, rollout.OutcomeAborted, rep.Outcome)
	assert.Equal(t, map[string]int{old: 4}, groupImages(sb, "web-m"))
	m := mixedPolicy(t, sb)
	assert.Equal(t, "1", aws.ToString(m.LaunchTemplate.LaunchTemplateSpecification.Version))
	assert.Len(t, m.LaunchTemplate.Overrides, 2)
}

// An abort that crashed after tagging the group aborted but before the
// refresh back started is finished by the next abort.
func TestAbortRecoversAHalfDoneAbort(t *testing.T) {
	sb, r, old, _ := replaceWorld(t)
	pause(t, r)
	_, err := autoscaling.NewFromConfig(sb.Config).CreateOrUpdateTags(context.Background(), &autoscaling.CreateOrUpdateTagsInput{Tags: []astypes.Tag{{
		Key: aws.String(rollout.TagState), Value: aws.String(rollout.StateAborted), ResourceId: aws.String("web-a"),
		ResourceType: aws.String("auto-scaling-group"), PropagateAtLaunch: aws.Bool(false)}}})
	require.NoError(t, err)
	st, err := r.Status(context.Background())
	require.NoError(t, err)
	assert.Equal(t, rollout.OutcomeAborting, st.Outcome, "web-a's abort is not done")
	rep, err := r.Abort(context.Background())
	require.NoError(t, err)
	assert.Equal(t, rollout.OutcomeAborted, rep.Outcome)
	assert.Equal(t, map[string]int{old: 4}, groupImages(sb, "web-a"))
	assert.Equal(t, map[string]int{old: 4}, groupImages(sb, "web-b"))
}
