package sandbox

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// asgRefresh returns the newest refresh of a group.
func asgRefresh(t *testing.T, c *autoscaling.Client, group string) types.InstanceRefresh {
	t.Helper()
	out, err := c.DescribeInstanceRefreshes(context.Background(), &autoscaling.DescribeInstanceRefreshesInput{AutoScalingGroupName: aws.String(group)})
	require.NoError(t, err)
	require.NotEmpty(t, out.InstanceRefreshes)
	return out.InstanceRefreshes[0]
}

// asgVersions counts a group's members by lifecycle state and template version.
func asgVersions(g types.AutoScalingGroup) map[string]int {
	out := map[string]int{}
	for _, i := range g.Instances {
		out[string(i.LifecycleState)+":v"+aws.ToString(i.LaunchTemplate.Version)]++
	}
	return out
}

func asgStartRefresh(t *testing.T, c *autoscaling.Client, group string, desiredVersion string, ltID string, prefs *types.RefreshPreferences) string {
	t.Helper()
	in := &autoscaling.StartInstanceRefreshInput{AutoScalingGroupName: aws.String(group), Preferences: prefs}
	if desiredVersion != "" {
		in.DesiredConfiguration = &types.DesiredConfiguration{
			LaunchTemplate: &types.LaunchTemplateSpecification{LaunchTemplateId: aws.String(ltID), Version: aws.String(desiredVersion)},
		}
	}
	out, err := c.StartInstanceRefresh(context.Background(), in)
	require.NoError(t, err)
	require.NotEmpty(t, aws.ToString(out.InstanceRefreshId))
	return aws.ToString(out.InstanceRefreshId)
}

// asgTwoVersions builds a group of n InService instances on version 1 of a
// template whose version 2 launches a second image (bad when asked).
func asgTwoVersions(t *testing.T, sb *Sandbox, c *autoscaling.Client, group string, n int32, badV2 bool) string {
	t.Helper()
	lt := asgTemplate(t, sb, group, asgImage(t, sb, group+"-v1", false))
	asgTemplateVersion(t, sb, lt, asgImage(t, sb, group+"-v2", badV2))
	asgCreate(t, c, group, lt, "1", 0, n*2, n, func(in *autoscaling.CreateAutoScalingGroupInput) {
		in.HealthCheckGracePeriod = aws.Int32(20)
	})
	sb.AdvanceClock(10 * time.Second)
	require.Equal(t, map[string]int{"InService:v1": int(n)}, asgVersions(asgDescribe(t, c, group)))
	return lt
}

var asgRefreshTiming = Timing{InstancePending: 10 * time.Second, InstanceShutdown: 10 * time.Second}

func TestRefreshCheckpointsStepByStep(t *testing.T) {
	sb := Start(t, asgManual(asgRefreshTiming))
	c := autoscaling.NewFromConfig(sb.Config)
	lt := asgTwoVersions(t, sb, c, "web", 4, false)

	id := asgStartRefresh(t, c, "web", "2", lt, &types.RefreshPreferences{
		MinHealthyPercentage: aws.Int32(50), InstanceWarmup: aws.Int32(30),
		CheckpointPercentages: []int32{50, 100}, CheckpointDelay: aws.Int32(600),
	})
	r := asgRefresh(t, c, "web")
	assert.Equal(t, id, aws.ToString(r.InstanceRefreshId))
	assert.Equal(t, types.InstanceRefreshStatusInProgress, r.Status)
	assert.Equal(t, int32(0), aws.ToInt32(r.PercentageComplete))
	assert.Equal(t, int32(4), aws.ToInt32(r.InstancesToUpdate))
	assert.Equal(t, types.RefreshStrategyRolling, r.Strategy)
	assert.Equal(t, "2", aws.ToString(r.DesiredConfiguration.LaunchTemplate.Version))
	p := r.Preferences
	assert.Equal(t, int32(50), aws.ToInt32(p.MinHealthyPercentage))
	assert.Equal(t, int32(30), aws.ToInt32(p.InstanceWarmup))
	assert.Equal(t, []int32{50, 100}, p.CheckpointPercentages)
	assert.Equal(t, int32(600), aws.ToInt32(p.CheckpointDelay))
	assert.False(t, aws.ToBool(p.SkipMatching))
	assert.False(t, aws.ToBool(p.AutoRollback))
	assert.Equal(t, types.ScaleInProtectedInstancesWait, p.ScaleInProtectedInstances)
	// The first batch: MinHealthyPercentage 50 of 4 lets two go at once.
	assert.Equal(t, map[string]int{"InService:v1": 2, "Terminating:v1": 2, "Pending:v2": 2}, asgVersions(asgDescribe(t, c, "web")))

	sb.AdvanceClock(10 * time.Second)
	assert.Equal(t, map[string]int{"InService:v1": 2, "InService:v2": 2}, asgVersions(asgDescribe(t, c, "web")))
	r = asgRefresh(t, c, "web")
	assert.Equal(t, int32(0), aws.ToInt32(r.PercentageComplete), "new instances count once warmed up")
	assert.Contains(t, aws.ToString(r.StatusReason), "Waiting for instances to warm up")

	sb.AdvanceClock(30 * time.Second)
	r = asgRefresh(t, c, "web")
	assert.Equal(t, types.InstanceRefreshStatusInProgress, r.Status, "a checkpoint pauses without changing the status")
	assert.Equal(t, int32(50), aws.ToInt32(r.PercentageComplete))
	assert.Equal(t, int32(2), aws.ToInt32(r.InstancesToUpdate))
	assert.Equal(t, int32(50), aws.ToInt32(r.ProgressDetails.LivePoolProgress.PercentageComplete))
	assert.Contains(t, aws.ToString(r.StatusReason), "Checkpoint 1 of 2 reached")

	sb.AdvanceClock(599 * time.Second)
	assert.Equal(t, map[string]int{"InService:v1": 2, "InService:v2": 2}, asgVersions(asgDescribe(t, c, "web")), "still waiting at the checkpoint")
	assert.Contains(t, aws.ToString(asgRefresh(t, c, "web").StatusReason), "Checkpoint 1 of 2 reached")

	sb.AdvanceClock(time.Second)
	assert.Equal(t, map[string]int{"InService:v2": 2, "Terminating:v1": 2, "Pending:v2": 2}, asgVersions(asgDescribe(t, c, "web")), "continues after CheckpointDelay")
	assert.NotContains(t, aws.ToString(asgRefresh(t, c, "web").StatusReason), "Checkpoint")
	sb.AdvanceClock(10 * time.Second)
	assert.Equal(t, types.InstanceRefreshStatusInProgress, asgRefresh(t, c, "web").Status)
	sb.AdvanceClock(30 * time.Second)

	r = asgRefresh(t, c, "web")
	assert.Equal(t, types.InstanceRefreshStatusSuccessful, r.Status)
	assert.Equal(t, int32(100), aws.ToInt32(r.PercentageComplete))
	assert.Equal(t, int32(0), aws.ToInt32(r.InstancesToUpdate))
	require.NotNil(t, r.EndTime)
	assert.Equal(t, 680*time.Second, r.EndTime.Sub(aws.ToTime(r.StartTime)))
	g := asgDescribe(t, c, "web")
	assert.Equal(t, map[string]int{"InService:v2": 4}, asgVersions(g))
	assert.Equal(t, "2", aws.ToString(g.LaunchTemplate.Version), "the desired configuration is applied on success")

	// The refresh's replacements show up as scaling activities.
	acts, err := c.DescribeScalingActivities(context.Background(), &autoscaling.DescribeScalingActivitiesInput{AutoScalingGroupName: aws.String("web")})
	require.NoError(t, err)
	refreshCauses := 0
	for _, a := range acts.Activities {
		if bytes.Contains([]byte(aws.ToString(a.Cause)), []byte("in response to an instance refresh")) {
			refreshCauses++
		}
	}
	assert.Equal(t, 8, refreshCauses, "4 terminations and 4 launches")
}

func TestRefreshSkipMatchingAndLatestVersion(t *testing.T) {
	sb := Start(t)
	ctx := context.Background()
	c := autoscaling.NewFromConfig(sb.Config)
	lt := asgTemplate(t, sb, "s", asgImage(t, sb, "s1", false))
	asgCreate(t, c, "s", lt, "$Latest", 0, 8, 2)
	asgTemplateVersion(t, sb, lt, asgImage(t, sb, "s2", false))
	// New instances follow $Latest; the two old ones stay on version 1.
	_, err := c.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String("s"), DesiredCapacity: aws.Int32(4)})
	require.NoError(t, err)
	g := asgDescribe(t, c, "s")
	require.Equal(t, map[string]int{"InService:v1": 2, "InService:v2": 2}, asgVersions(g))
	var keep []string
	for _, i := range g.Instances {
		if aws.ToString(i.LaunchTemplate.Version) == "2" {
			keep = append(keep, aws.ToString(i.InstanceId))
		}
	}

	// No desired configuration: the group's own ($Latest = 2) is the target.
	asgStartRefresh(t, c, "s", "", "", &types.RefreshPreferences{SkipMatching: aws.Bool(true), InstanceWarmup: aws.Int32(0)})
	r := asgRefresh(t, c, "s")
	assert.Equal(t, types.InstanceRefreshStatusSuccessful, r.Status)
	assert.Nil(t, r.DesiredConfiguration)
	g = asgDescribe(t, c, "s")
	assert.Equal(t, map[string]int{"InService:v2": 4}, asgVersions(g))
	for _, id := range keep {
		assert.Contains(t, asgIDs(g), id, "matching instances were skipped")
	}
	assert.Equal(t, "$Latest", aws.ToString(g.LaunchTemplate.Version))

	// Without SkipMatching every instance is replaced, matching or not.
	before := asgIDs(g)
	asgStartRefresh(t, c, "s", "", "", &types.RefreshPreferences{InstanceWarmup: aws.Int32(0), MinHealthyPercentage: aws.Int32(0)})
	assert.Equal(t, types.InstanceRefreshStatusSuccessful, asgRefresh(t, c, "s").Status)
	after := asgIDs(asgDescribe(t, c, "s"))
	assert.Len(t, after, 4)
	for _, id := range before {
		assert.NotContains(t, after, id)
	}
}

func TestRefreshBadImageAutoRollback(t *testing.T) {
	sb := Start(t, asgManual(asgRefreshTiming))
	c := autoscaling.NewFromConfig(sb.Config)
	lt := asgTwoVersions(t, sb, c, "web", 2, true)
	asgStartRefresh(t, c, "web", "2", lt, &types.RefreshPreferences{
		MinHealthyPercentage: aws.Int32(50), InstanceWarmup: aws.Int32(60), AutoRollback: aws.Bool(true),
	})
	assert.Equal(t, map[string]int{"InService:v1": 1, "Terminating:v1": 1, "Pending:v2": 1}, asgVersions(asgDescribe(t, c, "web")))
	sb.AdvanceClock(10 * time.Second)
	assert.Equal(t, types.InstanceRefreshStatusInProgress, asgRefresh(t, c, "web").Status, "healthy until the grace period ends")

	// 20s grace since launch: the bad instance fails its health check.
	sb.AdvanceClock(11 * time.Second)
	r := asgRefresh(t, c, "web")
	assert.Equal(t, types.InstanceRefreshStatusRollbackInProgress, r.Status)
	require.NotNil(t, r.RollbackDetails)
	assert.Contains(t, aws.ToString(r.RollbackDetails.RollbackReason), "failed its health check")
	assert.NotNil(t, r.RollbackDetails.RollbackStartTime)
	assert.Equal(t, int32(1), aws.ToInt32(r.RollbackDetails.InstancesToUpdateOnRollback))
	assert.Equal(t, int32(0), aws.ToInt32(r.RollbackDetails.PercentageCompleteOnRollback))
	assert.Equal(t, map[string]int{"InService:v1": 1, "Terminating:v2": 1, "Pending:v1": 1}, asgVersions(asgDescribe(t, c, "web")))

	sb.AdvanceClock(10 * time.Second)
	assert.Equal(t, types.InstanceRefreshStatusRollbackInProgress, asgRefresh(t, c, "web").Status, "the replacement warms up")
	sb.AdvanceClock(60 * time.Second)
	r = asgRefresh(t, c, "web")
	assert.Equal(t, types.InstanceRefreshStatusRollbackSuccessful, r.Status)
	assert.Equal(t, int32(100), aws.ToInt32(r.RollbackDetails.PercentageCompleteOnRollback))
	assert.Equal(t, int32(0), aws.ToInt32(r.RollbackDetails.InstancesToUpdateOnRollback))
	assert.NotNil(t, r.EndTime)
	g := asgDescribe(t, c, "web")
	assert.Equal(t, map[string]int{"InService:v1": 2}, asgVersions(g), "the old configuration is restored")
	assert.Equal(t, "1", aws.ToString(g.LaunchTemplate.Version))
}

func TestRefreshBadImageFailsWithoutAutoRollback(t *testing.T) {
	sb := Start(t, asgManual(asgRefreshTiming))
	c := autoscaling.NewFromConfig(sb.Config)
	lt := asgTwoVersions(t, sb, c, "web", 2, true)
	asgStartRefresh(t, c, "web", "2", lt, &types.RefreshPreferences{MinHealthyPercentage: aws.Int32(50), InstanceWarmup: aws.Int32(60)})
	sb.AdvanceClock(21 * time.Second)
	r := asgRefresh(t, c, "web")
	assert.Equal(t, types.InstanceRefreshStatusFailed, r.Status)
	assert.Contains(t, aws.ToString(r.StatusReason), "failed its health check")
	assert.Nil(t, r.RollbackDetails)
	assert.NotNil(t, r.EndTime)
	// The group keeps its configuration; the reconciler replaces the bad
	// instance from it.
	sb.AdvanceClock(10 * time.Second)
	g := asgDescribe(t, c, "web")
	assert.Equal(t, "1", aws.ToString(g.LaunchTemplate.Version))
	assert.Equal(t, map[string]int{"InService:v1": 2}, asgVersions(g))
}

func TestRefreshLaunchFailureFailsRefresh(t *testing.T) {
	sb := Start(t, asgManual(asgRefreshTiming))
	c := autoscaling.NewFromConfig(sb.Config)
	lt := asgTwoVersions(t, sb, c, "web", 2, false)
	asgTemplateVersion(t, sb, lt, "ami-0000000000000gone") // version 3: missing image
	asgStartRefresh(t, c, "web", "3", lt, &types.RefreshPreferences{MinHealthyPercentage: aws.Int32(50)})
	r := asgRefresh(t, c, "web")
	assert.Equal(t, types.InstanceRefreshStatusFailed, r.Status)
	assert.Contains(t, aws.ToString(r.StatusReason), "could not be launched")
	assert.Contains(t, aws.ToString(r.StatusReason), "ami-0000000000000gone")
}

func TestRefreshCancel(t *testing.T) {
	sb := Start(t, asgManual(asgRefreshTiming))
	ctx := context.Background()
	c := autoscaling.NewFromConfig(sb.Config)
	lt := asgTwoVersions(t, sb, c, "web", 4, false)
	asgStartRefresh(t, c, "web", "2", lt, &types.RefreshPreferences{MinHealthyPercentage: aws.Int32(50), InstanceWarmup: aws.Int32(0)})
	asgDescribe(t, c, "web")

	// Cancelling waits for the replacements in flight.
	out, err := c.CancelInstanceRefresh(ctx, &autoscaling.CancelInstanceRefreshInput{AutoScalingGroupName: aws.String("web")})
	require.NoError(t, err)
	r := asgRefresh(t, c, "web")
	assert.Equal(t, aws.ToString(out.InstanceRefreshId), aws.ToString(r.InstanceRefreshId))
	assert.Equal(t, types.InstanceRefreshStatusCancelling, r.Status)
	sb.AdvanceClock(10 * time.Second)
	r = asgRefresh(t, c, "web")
	assert.Equal(t, types.InstanceRefreshStatusCancelled, r.Status)
	assert.NotNil(t, r.EndTime)
	sb.AdvanceClock(time.Hour)
	g := asgDescribe(t, c, "web")
	assert.Equal(t, map[string]int{"InService:v1": 2, "InService:v2": 2}, asgVersions(g), "a cancel does not roll back")
	assert.Equal(t, "1", aws.ToString(g.LaunchTemplate.Version))

	_, err = c.CancelInstanceRefresh(ctx, &autoscaling.CancelInstanceRefreshInput{AutoScalingGroupName: aws.String("web")})
	var none *types.ActiveInstanceRefreshNotFoundFault
	require.ErrorAs(t, err, &none)
	assert.Contains(t, none.ErrorMessage(), "No in progress or pending Instance Refresh found")
}

func TestRefreshManualRollbackAndErrors(t *testing.T) {
	sb := Start(t, asgManual(asgRefreshTiming))
	ctx := context.Background()
	c := autoscaling.NewFromConfig(sb.Config)
	lt := asgTwoVersions(t, sb, c, "web", 4, false)

	_, err := c.RollbackInstanceRefresh(ctx, &autoscaling.RollbackInstanceRefreshInput{AutoScalingGroupName: aws.String("web")})
	var none *types.ActiveInstanceRefreshNotFoundFault
	require.ErrorAs(t, err, &none)

	asgStartRefresh(t, c, "web", "2", lt, &types.RefreshPreferences{
		MinHealthyPercentage: aws.Int32(50), InstanceWarmup: aws.Int32(0), CheckpointPercentages: []int32{50, 100},
	})
	_, err = c.StartInstanceRefresh(ctx, &autoscaling.StartInstanceRefreshInput{AutoScalingGroupName: aws.String("web")})
	var busy *types.InstanceRefreshInProgressFault
	require.ErrorAs(t, err, &busy)

	sb.AdvanceClock(10 * time.Second) // first batch in service: paused at 50% for the default hour
	r := asgRefresh(t, c, "web")
	require.Equal(t, int32(50), aws.ToInt32(r.PercentageComplete))
	assert.Equal(t, int32(3600), aws.ToInt32(r.Preferences.CheckpointDelay), "CheckpointDelay defaults to one hour")

	out, err := c.RollbackInstanceRefresh(ctx, &autoscaling.RollbackInstanceRefreshInput{AutoScalingGroupName: aws.String("web")})
	require.NoError(t, err)
	assert.Equal(t, aws.ToString(r.InstanceRefreshId), aws.ToString(out.InstanceRefreshId))
	r = asgRefresh(t, c, "web")
	assert.Equal(t, types.InstanceRefreshStatusRollbackInProgress, r.Status)
	assert.Equal(t, "Rollback started by user request.", aws.ToString(r.RollbackDetails.RollbackReason))
	assert.Equal(t, int32(2), aws.ToInt32(r.InstancesToUpdate), "InstancesToUpdate keeps what the refresh had left")
	assert.Equal(t, map[string]int{"InService:v1": 2, "Terminating:v2": 2, "Pending:v1": 2}, asgVersions(asgDescribe(t, c, "web")))
	sb.AdvanceClock(10 * time.Second)
	r = asgRefresh(t, c, "web")
	assert.Equal(t, types.InstanceRefreshStatusRollbackSuccessful, r.Status)
	assert.Equal(t, map[string]int{"InService:v1": 4}, asgVersions(asgDescribe(t, c, "web")))

	// A refresh without a desired configuration cannot be rolled back.
	asgStartRefresh(t, c, "web", "", "", &types.RefreshPreferences{CheckpointPercentages: []int32{25, 100}, InstanceWarmup: aws.Int32(0)})
	_, err = c.RollbackInstanceRefresh(ctx, &autoscaling.RollbackInstanceRefreshInput{AutoScalingGroupName: aws.String("web")})
	var irreversible *types.IrreversibleInstanceRefreshFault
	require.ErrorAs(t, err, &irreversible)
	assert.Contains(t, irreversible.ErrorMessage(), "without a desired configuration")
	_, err = c.CancelInstanceRefresh(ctx, &autoscaling.CancelInstanceRefreshInput{AutoScalingGroupName: aws.String("web"), WaitForTransitioningInstances: aws.Bool(false)})
	require.NoError(t, err)
	assert.Equal(t, types.InstanceRefreshStatusCancelled, asgRefresh(t, c, "web").Status)

	// Nor one whose group runs $Latest.
	_, err = c.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String("web"),
		LaunchTemplate: &types.LaunchTemplateSpecification{LaunchTemplateId: aws.String(lt), Version: aws.String("$Latest")}})
	require.NoError(t, err)
	asgStartRefresh(t, c, "web", "1", lt, &types.RefreshPreferences{CheckpointPercentages: []int32{25, 100}, InstanceWarmup: aws.Int32(0)})
	_, err = c.RollbackInstanceRefresh(ctx, &autoscaling.RollbackInstanceRefreshInput{AutoScalingGroupName: aws.String("web")})
	require.ErrorAs(t, err, &irreversible)
	assert.Contains(t, irreversible.ErrorMessage(), "$Latest or $Default")
}

func TestRefreshAlarmTriggersRollback(t *testing.T) {
	sb := Start(t, asgManual(asgRefreshTiming))
	c := autoscaling.NewFromConfig(sb.Config)
	lt := asgTwoVersions(t, sb, c, "web", 4, false)
	asgStartRefresh(t, c, "web", "2", lt, &types.RefreshPreferences{
		MinHealthyPercentage: aws.Int32(50), InstanceWarmup: aws.Int32(0), CheckpointPercentages: []int32{50, 100},
		AutoRollback: aws.Bool(true), AlarmSpecification: &types.AlarmSpecification{Alarms: []string{"web-5xx-high"}},
	})
	sb.AdvanceClock(10 * time.Second)
	r := asgRefresh(t, c, "web")
	require.Equal(t, types.InstanceRefreshStatusInProgress, r.Status)
	assert.Equal(t, []string{"web-5xx-high"}, r.Preferences.AlarmSpecification.Alarms)

	// OK and INSUFFICIENT_DATA change nothing; ALARM rolls back (through the admin API).
	sb.SetAlarmState(DefaultAccount, DefaultRegion, "web-5xx-high", "OK")
	assert.Equal(t, types.InstanceRefreshStatusInProgress, asgRefresh(t, c, "web").Status)
	req, err := http.NewRequest(http.MethodPut, sb.URL()+"/_sandbox/alarms/web-5xx-high",
		bytes.NewReader([]byte(`{"state":"ALARM","region":"us-east-1","account":"`+DefaultAccount+`"}`)))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	r = asgRefresh(t, c, "web")
	assert.Equal(t, types.InstanceRefreshStatusRollbackInProgress, r.Status)
	assert.Contains(t, aws.ToString(r.RollbackDetails.RollbackReason), "alarm web-5xx-high is in ALARM state")
	sb.AdvanceClock(10 * time.Second)
	assert.Equal(t, types.InstanceRefreshStatusRollbackSuccessful, asgRefresh(t, c, "web").Status)
	assert.Equal(t, map[string]int{"InService:v1": 4}, asgVersions(asgDescribe(t, c, "web")))

	// Bad requests to the admin API.
	req, _ = http.NewRequest(http.MethodPut, sb.URL()+"/_sandbox/alarms/x", bytes.NewReader([]byte(`{"state":"RED"}`)))
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	alarms := sb.Alarms()
	require.Len(t, alarms, 1)
	assert.Equal(t, AlarmStateAlarm, alarms[0].State)
}

func TestRefreshAlarmFailsWithoutAutoRollback(t *testing.T) {
	sb := Start(t, asgManual(asgRefreshTiming))
	c := autoscaling.NewFromConfig(sb.Config)
	lt := asgTwoVersions(t, sb, c, "web", 2, false)
	asgStartRefresh(t, c, "web", "2", lt, &types.RefreshPreferences{
		MinHealthyPercentage: aws.Int32(50), InstanceWarmup: aws.Int32(30),
		AlarmSpecification: &types.AlarmSpecification{Alarms: []string{"quiet", "loud"}},
	})
	// Another region's alarm of the same name does not count.
	sb.SetAlarmState(DefaultAccount, "eu-west-1", "loud", "ALARM")
	assert.Equal(t, types.InstanceRefreshStatusInProgress, asgRefresh(t, c, "web").Status)
	sb.SetAlarmState("", "", "loud", "alarm")
	r := asgRefresh(t, c, "web")
	assert.Equal(t, types.InstanceRefreshStatusFailed, r.Status)
	assert.Contains(t, aws.ToString(r.StatusReason), "loud")
}

func TestRefreshMaxHealthyLaunchesBeforeTerminating(t *testing.T) {
	sb := Start(t, asgManual(asgRefreshTiming))
	c := autoscaling.NewFromConfig(sb.Config)
	lt := asgTwoVersions(t, sb, c, "web", 2, false)
	asgStartRefresh(t, c, "web", "2", lt, &types.RefreshPreferences{
		MinHealthyPercentage: aws.Int32(100), MaxHealthyPercentage: aws.Int32(200), InstanceWarmup: aws.Int32(5),
	})
	assert.Equal(t, map[string]int{"InService:v1": 2, "Pending:v2": 2}, asgVersions(asgDescribe(t, c, "web")), "new capacity first")
	sb.AdvanceClock(10 * time.Second)
	assert.Equal(t, map[string]int{"InService:v1": 2, "InService:v2": 2}, asgVersions(asgDescribe(t, c, "web")))
	sb.AdvanceClock(5 * time.Second)
	assert.Equal(t, map[string]int{"Terminating:v1": 2, "InService:v2": 2}, asgVersions(asgDescribe(t, c, "web")), "then the old ones go")
	r := asgRefresh(t, c, "web")
	assert.Equal(t, types.InstanceRefreshStatusSuccessful, r.Status)
	assert.Equal(t, int32(200), aws.ToInt32(r.Preferences.MaxHealthyPercentage))
	sb.AdvanceClock(10 * time.Second)
	assert.Equal(t, map[string]int{"InService:v2": 2}, asgVersions(asgDescribe(t, c, "web")))
}

func TestRefreshBakeTimeAndProtectedInstances(t *testing.T) {
	sb := Start(t, asgManual(asgRefreshTiming))
	ctx := context.Background()
	c := autoscaling.NewFromConfig(sb.Config)
	lt := asgTwoVersions(t, sb, c, "web", 3, false)
	protected := asgIDs(asgDescribe(t, c, "web"))[0]
	_, err := c.SetInstanceProtection(ctx, &autoscaling.SetInstanceProtectionInput{AutoScalingGroupName: aws.String("web"),
		InstanceIds: []string{protected}, ProtectedFromScaleIn: aws.Bool(true)})
	require.NoError(t, err)

	asgStartRefresh(t, c, "web", "2", lt, &types.RefreshPreferences{
		MinHealthyPercentage: aws.Int32(0), InstanceWarmup: aws.Int32(0), BakeTime: aws.Int32(300),
		ScaleInProtectedInstances: types.ScaleInProtectedInstancesIgnore,
	})
	sb.AdvanceClock(10 * time.Second)
	r := asgRefresh(t, c, "web")
	assert.Equal(t, types.InstanceRefreshStatusBaking, r.Status)
	assert.Equal(t, int32(300), aws.ToInt32(r.Preferences.BakeTime))
	sb.AdvanceClock(299 * time.Second)
	assert.Equal(t, types.InstanceRefreshStatusBaking, asgRefresh(t, c, "web").Status)
	sb.AdvanceClock(time.Second)
	assert.Equal(t, types.InstanceRefreshStatusSuccessful, asgRefresh(t, c, "web").Status)
	g := asgDescribe(t, c, "web")
	assert.Equal(t, map[string]int{"InService:v1": 1, "InService:v2": 2}, asgVersions(g))
	assert.Contains(t, asgIDs(g), protected, "ScaleInProtectedInstances=Ignore leaves protected instances alone")
}

func TestRefreshValidation(t *testing.T) {
	sb := Start(t)
	ctx := context.Background()
	c := autoscaling.NewFromConfig(sb.Config)
	lt := asgTemplate(t, sb, "v", asgImage(t, sb, "v1", false))
	asgCreate(t, c, "v", lt, "1", 0, 2, 1)
	asgCreate(t, c, "latest", lt, "$Latest", 0, 2, 1)
	desired := &types.DesiredConfiguration{LaunchTemplate: &types.LaunchTemplateSpecification{LaunchTemplateId: aws.String(lt), Version: aws.String("1")}}
	cases := []struct {
		in   autoscaling.StartInstanceRefreshInput
		want string
	}{
		{autoscaling.StartInstanceRefreshInput{AutoScalingGroupName: aws.String("nope")}, "AutoScalingGroup name not found"},
		{autoscaling.StartInstanceRefreshInput{Preferences: &types.RefreshPreferences{CheckpointDelay: aws.Int32(60)}}, "CheckpointDelay can only be specified together with CheckpointPercentages"},
		{autoscaling.StartInstanceRefreshInput{Preferences: &types.RefreshPreferences{CheckpointPercentages: []int32{50, 20}}}, "ascending"},
		{autoscaling.StartInstanceRefreshInput{Preferences: &types.RefreshPreferences{CheckpointPercentages: []int32{0}}}, "between 1 and 100"},
		{autoscaling.StartInstanceRefreshInput{Preferences: &types.RefreshPreferences{MinHealthyPercentage: aws.Int32(101)}}, "minHealthyPercentage"},
		{autoscaling.StartInstanceRefreshInput{Preferences: &types.RefreshPreferences{MinHealthyPercentage: aws.Int32(50), MaxHealthyPercentage: aws.Int32(160)}}, "cannot be greater than 100"},
		{autoscaling.StartInstanceRefreshInput{Preferences: &types.RefreshPreferences{AutoRollback: aws.Bool(true)}}, "AutoRollback requires a DesiredConfiguration"},
		{autoscaling.StartInstanceRefreshInput{AutoScalingGroupName: aws.String("latest"), DesiredConfiguration: desired, Preferences: &types.RefreshPreferences{AutoRollback: aws.Bool(true)}}, "$Latest or $Default"},
		{autoscaling.StartInstanceRefreshInput{Strategy: types.RefreshStrategyReplaceRootVolume}, "Rolling strategy only"},
		{autoscaling.StartInstanceRefreshInput{DesiredConfiguration: &types.DesiredConfiguration{LaunchTemplate: &types.LaunchTemplateSpecification{LaunchTemplateName: aws.String("ghost")}}}, "template name ghost, does not exist"},
	}
	for _, tc := range cases {
		in := tc.in
		if in.AutoScalingGroupName == nil {
			in.AutoScalingGroupName = aws.String("v")
		}
		_, err := c.StartInstanceRefresh(ctx, &in)
		assert.Equal(t, "ValidationError", asgAPIErrorCode(t, err), tc.want)
		assert.Contains(t, err.Error(), tc.want)
	}
	_, err := c.DescribeInstanceRefreshes(ctx, &autoscaling.DescribeInstanceRefreshesInput{AutoScalingGroupName: aws.String("v")})
	require.NoError(t, err, "no refresh was created by the failed starts")
}

func TestDescribeInstanceRefreshesPaginator(t *testing.T) {
	sb := Start(t, asgManual(Timing{}))
	ctx := context.Background()
	c := autoscaling.NewFromConfig(sb.Config)
	lt := asgTemplate(t, sb, "p", asgImage(t, sb, "p", false))
	asgCreate(t, c, "p", lt, "1", 0, 2, 2)
	var ids []string
	for i := 0; i < 3; i++ {
		ids = append(ids, asgStartRefresh(t, c, "p", "1", lt, &types.RefreshPreferences{CheckpointPercentages: []int32{50, 100}, InstanceWarmup: aws.Int32(0)}))
		_, err := c.CancelInstanceRefresh(ctx, &autoscaling.CancelInstanceRefreshInput{AutoScalingGroupName: aws.String("p")})
		require.NoError(t, err)
		sb.AdvanceClock(time.Second)
	}
	p := autoscaling.NewDescribeInstanceRefreshesPaginator(c, &autoscaling.DescribeInstanceRefreshesInput{AutoScalingGroupName: aws.String("p"), MaxRecords: aws.Int32(1)})
	var got []string
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		require.NoError(t, err)
		require.Len(t, page.InstanceRefreshes, 1)
		assert.Equal(t, types.InstanceRefreshStatusCancelled, page.InstanceRefreshes[0].Status)
		got = append(got, aws.ToString(page.InstanceRefreshes[0].InstanceRefreshId))
	}
	assert.Equal(t, []string{ids[2], ids[1], ids[0]}, got, "newest first")

	out, err := c.DescribeInstanceRefreshes(ctx, &autoscaling.DescribeInstanceRefreshesInput{AutoScalingGroupName: aws.String("p"), InstanceRefreshIds: []string{ids[1]}})
	require.NoError(t, err)
	require.Len(t, out.InstanceRefreshes, 1)
	assert.Equal(t, ids[1], aws.ToString(out.InstanceRefreshes[0].InstanceRefreshId))
	out, err = c.DescribeInstanceRefreshes(ctx, &autoscaling.DescribeInstanceRefreshesInput{AutoScalingGroupName: aws.String("unknown")})
	require.NoError(t, err)
	assert.Empty(t, out.InstanceRefreshes)
}

func TestRefreshStatePersistsAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	opts := func(o *Options) {
		o.StateFile = dir + "/state.json"
		o.Mode = ClockManual
		tm := asgRefreshTiming
		o.Timing = &tm
	}
	sb := Start(t, opts)
	c := autoscaling.NewFromConfig(sb.Config)
	lt := asgTwoVersions(t, sb, c, "web", 2, false)
	id := asgStartRefresh(t, c, "web", "2", lt, &types.RefreshPreferences{MinHealthyPercentage: aws.Int32(50), InstanceWarmup: aws.Int32(0)})
	asgDescribe(t, c, "web")
	require.NoError(t, sb.Close())

	sb2 := Start(t, opts)
	c2 := autoscaling.NewFromConfig(sb2.Config)
	r := asgRefresh(t, c2, "web")
	assert.Equal(t, id, aws.ToString(r.InstanceRefreshId))
	assert.Equal(t, types.InstanceRefreshStatusInProgress, r.Status)
	sb2.AdvanceClock(40 * time.Second)
	assert.Equal(t, types.InstanceRefreshStatusSuccessful, asgRefresh(t, c2, "web").Status)
	assert.Equal(t, map[string]int{"InService:v2": 2}, asgVersions(asgDescribe(t, c2, "web")))
}

func TestRefreshOneBigClockJumpPlaysOutTheRollout(t *testing.T) {
	sb := Start(t, asgManual(asgRefreshTiming))
	c := autoscaling.NewFromConfig(sb.Config)
	lt := asgTwoVersions(t, sb, c, "web", 10, false)
	asgStartRefresh(t, c, "web", "2", lt, &types.RefreshPreferences{
		InstanceWarmup: aws.Int32(60), CheckpointPercentages: []int32{20, 100}, CheckpointDelay: aws.Int32(900),
	})
	// MinHealthyPercentage 90 of 10: one instance at a time, each taking
	// 10s pending + 60s warm-up; the checkpoint at 20% waits 15 minutes.
	sb.AdvanceClock(139 * time.Second)
	r := asgRefresh(t, c, "web")
	assert.Equal(t, int32(10), aws.ToInt32(r.PercentageComplete))
	sb.AdvanceClock(time.Second)
	r = asgRefresh(t, c, "web")
	assert.Equal(t, int32(20), aws.ToInt32(r.PercentageComplete))
	assert.Contains(t, aws.ToString(r.StatusReason), "Checkpoint 1 of 2 reached")

	sb.AdvanceClock(2 * time.Hour)
	r = asgRefresh(t, c, "web")
	assert.Equal(t, types.InstanceRefreshStatusSuccessful, r.Status)
	// 2 batches before the checkpoint, 900s pause, 8 more batches of 70s.
	assert.Equal(t, (2*70+900+8*70)*time.Second, r.EndTime.Sub(aws.ToTime(r.StartTime)))
	assert.Equal(t, map[string]int{"InService:v2": 10}, asgVersions(asgDescribe(t, c, "web")))
}

func TestRefreshPausedWhileInstanceRefreshProcessSuspended(t *testing.T) {
	sb := Start(t, asgManual(asgRefreshTiming))
	ctx := context.Background()
	c := autoscaling.NewFromConfig(sb.Config)
	lt := asgTwoVersions(t, sb, c, "web", 2, false)
	_, err := c.SuspendProcesses(ctx, &autoscaling.SuspendProcessesInput{AutoScalingGroupName: aws.String("web"), ScalingProcesses: []string{"InstanceRefresh"}})
	require.NoError(t, err)
	asgStartRefresh(t, c, "web", "2", lt, &types.RefreshPreferences{MinHealthyPercentage: aws.Int32(50), InstanceWarmup: aws.Int32(0)})
	sb.AdvanceClock(time.Hour)
	r := asgRefresh(t, c, "web")
	assert.Equal(t, types.InstanceRefreshStatusInProgress, r.Status)
	assert.Contains(t, aws.ToString(r.StatusReason), "InstanceRefresh process is suspended")
	assert.Equal(t, map[string]int{"InService:v1": 2}, asgVersions(asgDescribe(t, c, "web")))
	_, err = c.ResumeProcesses(ctx, &autoscaling.ResumeProcessesInput{AutoScalingGroupName: aws.String("web"), ScalingProcesses: []string{"InstanceRefresh"}})
	require.NoError(t, err)
	sb.AdvanceClock(time.Minute)
	assert.Equal(t, types.InstanceRefreshStatusSuccessful, asgRefresh(t, c, "web").Status)
}
