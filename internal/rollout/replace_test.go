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
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/lock"
	"github.com/amibake/amibake/internal/rollout"
	"github.com/amibake/amibake/internal/sandbox"
)

// replaceWorld: two ASGs of 4 instances on the old AMI, the channel on
// the new one, a manual clock.
func replaceWorld(t *testing.T) (*sandbox.Sandbox, *rollout.Rollout, string, string) {
	t.Helper()
	// A fixed start: canary metrics are synthesised from the virtual time.
	sb := sandbox.Start(t, func(o *sandbox.Options) {
		o.Mode = sandbox.ClockManual
		o.Start = time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)
	})
	var old, newAMI string
	sb.Do(func(sw *sandbox.World) {
		now := sb.Clock().Now()
		for i, p := range []*string{&old, &newAMI} {
			*p = sw.NewID("ami")
			bt := lineage.BuildTags{Project: paths.Project, Layer: "app-web", Fingerprint: "fp", BuildID: []string{"b1", "b2"}[i]}
			sw.EC2.Images[*p] = &sandbox.Image{ID: *p, Account: sandbox.DefaultAccount, Region: "us-east-1", Name: "web-" + bt.BuildID,
				State: "available", StateSince: now, CreationDate: now.Add(time.Duration(i) * time.Hour), AvailableAt: now,
				Architecture: "x86_64", RootDeviceName: "/dev/xvda", Tags: sandbox.Tags(bt.Map())}
		}
	})
	ctx := context.Background()
	_, err := ssm.NewFromConfig(sb.Config).PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(paths.Channel("app-web", "stable")),
		Value: aws.String(newAMI), Type: ssmtypes.ParameterTypeString})
	require.NoError(t, err)
	for _, g := range []string{"web-a", "web-b"} {
		lt, err := ec2.NewFromConfig(sb.Config).CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String(g),
			LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(old), InstanceType: ec2types.InstanceTypeT3Micro}})
		require.NoError(t, err)
		_, err = autoscaling.NewFromConfig(sb.Config).CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
			AutoScalingGroupName: aws.String(g), MinSize: aws.Int32(0), MaxSize: aws.Int32(8), DesiredCapacity: aws.Int32(4),
			LaunchTemplate:    &astypes.LaunchTemplateSpecification{LaunchTemplateId: lt.LaunchTemplate.LaunchTemplateId, Version: aws.String("1")},
			AvailabilityZones: []string{"us-east-1a"}, HealthCheckGracePeriod: aws.Int32(30)})
		require.NoError(t, err)
	}
	sb.AdvanceClock(time.Minute)
	c := awsapi.NewClients(sb.Config)
	r := &rollout.Rollout{
		Fleet: &config.Fleet{Name: "web", Layer: "app-web", Channel: "stable", Strategy: config.StrategyReplace, ASGs: []string{"web-a", "web-b"},
			Rollout: config.Rollout{Checkpoints: []int{50, 100}, CheckpointWait: 10 * time.Minute, MinHealthyPercent: 50}, Retire: config.Retire{Keep: 1}},
		Region: "us-east-1", EC2: c.EC2("us-east-1"), AutoScaling: c.AutoScaling("us-east-1"), SSM: c.SSM("us-east-1"), Paths: paths,
		Apply: true, Poll: 15 * time.Second, Now: sb.Clock().Now,
		Sleep: func(ctx context.Context, d time.Duration) error { sb.AdvanceClock(d); return ctx.Err() },
	}
	return sb, r, old, newAMI
}

func groupImages(sb *sandbox.Sandbox, name string) map[string]int {
	out := map[string]int{}
	sb.Do(func(sw *sandbox.World) {
		for _, m := range sw.AutoScalingGroup(sandbox.DefaultAccount, "us-east-1", name).Instances {
			if m.LifecycleState == sandbox.ASGInService {
				out[m.ImageID]++
			}
		}
	})
	return out
}

func TestReplaceTwoGroupsOnVirtualTime(t *testing.T) {
	sb, r, _, newAMI := replaceWorld(t)
	rep, err := r.Replace(context.Background())
	require.NoError(t, err)
	assert.Equal(t, rollout.OutcomeSucceeded, rep.Outcome)
	require.Len(t, rep.Groups, 2)
	for _, g := range rep.Groups {
		assert.Equal(t, "Successful", g.Status, g.Name)
		assert.Equal(t, int64(2), g.ToVersion)
		assert.Equal(t, []rollout.Batch{{Percent: 50, Instances: 2}, {Percent: 100, Instances: 4}}, g.Batches)
		assert.Equal(t, map[string]int{newAMI: 4}, groupImages(sb, g.Name))
	}
}

func TestReplaceInterruptedReportsWhatChanged(t *testing.T) {
	sb, r, old, newAMI := replaceWorld(t)
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
	rep, err := r.Replace(ctx)
	require.Error(t, err)
	assert.True(t, errors.Is(err, context.Canceled), "exit 130: %v", err)
	assert.Equal(t, rollout.OutcomeInterrupted, rep.Outcome)
	assert.Contains(t, err.Error(), "the refreshes go on in AWS")
	require.Len(t, rep.Changed, 4, "two template versions and two refreshes: %v", rep.Changed)
	// Nothing was retired and the refreshes are still there to resume.
	sb.Do(func(sw *sandbox.World) { assert.True(t, sw.EC2.Images[old].DeprecationTime.IsZero()) })
	r.Sleep = func(c context.Context, d time.Duration) error { sb.AdvanceClock(d); return c.Err() }
	rep, err = r.Resume(context.Background())
	require.NoError(t, err)
	assert.Equal(t, rollout.OutcomeSucceeded, rep.Outcome)
	assert.Equal(t, map[string]int{newAMI: 4}, groupImages(sb, "web-a"))
	assert.Equal(t, map[string]int{newAMI: 4}, groupImages(sb, "web-b"))
}

func TestReplaceStopsWhenTheLockIsLost(t *testing.T) {
	sb, r, old, _ := replaceWorld(t)
	c := awsapi.NewClients(sb.Config)
	r.Locker = &lock.Locker{SSM: c.SSM(""), Name: paths.Lock(), TTL: 30 * time.Millisecond, Holder: "me", Command: "rollout web"}
	polls := 0
	r.Sleep = func(ctx context.Context, d time.Duration) error {
		polls++
		if polls > 200 {
			return errors.New("the rollout never noticed the lost lock")
		}
		// Another run takes the lock over (again each poll: a renewal
		// racing the first delete may write the lease back).
		_, _ = c.SSM("").DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String(paths.Lock())})
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		return nil
	}
	rep, err := r.Replace(context.Background())
	require.Error(t, err)
	assert.ErrorIs(t, err, lock.ErrLost)
	assert.Equal(t, rollout.OutcomeInterrupted, rep.Outcome)
	sb.Do(func(sw *sandbox.World) { assert.True(t, sw.EC2.Images[old].DeprecationTime.IsZero()) })
}
