package sandbox

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ---- fixtures: images and launch templates arranged directly in the world ----

// asgImage registers an available image owned by DefaultAccount.
func asgImage(t *testing.T, sb *Sandbox, name string, bad bool) string {
	t.Helper()
	var id string
	sb.Do(func(w *World) {
		img := &Image{
			ID: w.NewID("ami"), Account: DefaultAccount, Region: DefaultRegion, Name: name, State: "available",
			Architecture: "x86_64", RootDeviceName: "/dev/xvda", ImdsSupport: "v2.0", Bad: bad,
			Content: Content{Packages: map[string]string{"bash": "5.2"}},
		}
		w.EC2.Images[img.ID] = img
		id = img.ID
	})
	return id
}

// asgTemplate creates a launch template whose version N launches images[N-1].
func asgTemplate(t *testing.T, sb *Sandbox, name string, images ...string) string {
	t.Helper()
	var id string
	sb.Do(func(w *World) {
		lt := &LaunchTemplate{ID: w.NewID("lt"), Account: DefaultAccount, Region: DefaultRegion, Name: name, DefaultVersion: 1}
		w.EC2.LaunchTemplates[lt.ID] = lt
		id = lt.ID
	})
	for _, img := range images {
		asgTemplateVersion(t, sb, id, img)
	}
	return id
}

// asgTemplateVersion adds a version launching image and returns its number.
func asgTemplateVersion(t *testing.T, sb *Sandbox, ltID, image string) int {
	t.Helper()
	var n int
	sb.Do(func(w *World) {
		lt := w.EC2.LaunchTemplates[ltID]
		require.NotNil(t, lt)
		lt.LatestVersion++
		n = lt.LatestVersion
		lt.Versions = append(lt.Versions, &LaunchTemplateVersion{
			Number: n, ImageID: image, InstanceType: "t3.micro",
			TagSpecifications: []TagSpec{{ResourceType: "instance", Tags: Tags{"from-lt": "yes"}}},
		})
	})
	return n
}

func asgAPIErrorCode(t *testing.T, err error) string {
	t.Helper()
	require.Error(t, err)
	var ae smithy.APIError
	require.True(t, errors.As(err, &ae), "not an API error: %v", err)
	return ae.ErrorCode()
}

func asgDescribe(t *testing.T, c *autoscaling.Client, name string) types.AutoScalingGroup {
	t.Helper()
	out, err := c.DescribeAutoScalingGroups(context.Background(), &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}})
	require.NoError(t, err)
	require.Len(t, out.AutoScalingGroups, 1)
	return out.AutoScalingGroups[0]
}

func asgCreate(t *testing.T, c *autoscaling.Client, name, ltID, version string, min, max, desired int32, mut ...func(*autoscaling.CreateAutoScalingGroupInput)) {
	t.Helper()
	in := &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(name),
		LaunchTemplate:       &types.LaunchTemplateSpecification{LaunchTemplateId: aws.String(ltID), Version: aws.String(version)},
		MinSize:              aws.Int32(min), MaxSize: aws.Int32(max), DesiredCapacity: aws.Int32(desired),
		AvailabilityZones: []string{"us-east-1a", "us-east-1b", "us-east-1c"},
	}
	for _, m := range mut {
		m(in)
	}
	_, err := c.CreateAutoScalingGroup(context.Background(), in)
	require.NoError(t, err)
}

func asgCountStates(g types.AutoScalingGroup) map[string]int {
	out := map[string]int{}
	for _, i := range g.Instances {
		out[string(i.LifecycleState)]++
	}
	return out
}

func asgIDs(g types.AutoScalingGroup) []string {
	var ids []string
	for _, i := range g.Instances {
		ids = append(ids, aws.ToString(i.InstanceId))
	}
	sort.Strings(ids)
	return ids
}

func asgManual(timing Timing) func(*Options) {
	return func(o *Options) {
		o.Mode = ClockManual
		o.Timing = &timing
	}
}

// ---- groups and the reconciler ----

func TestASGCreateLaunchesFromTemplateAcrossZones(t *testing.T) {
	sb := Start(t)
	ctx := context.Background()
	c := autoscaling.NewFromConfig(sb.Config)
	img := asgImage(t, sb, "web-v1", false)
	lt := asgTemplate(t, sb, "web", img)

	asgCreate(t, c, "web", lt, "$Latest", 1, 6, 3, func(in *autoscaling.CreateAutoScalingGroupInput) {
		in.Tags = []types.Tag{
			{Key: aws.String("team"), Value: aws.String("platform"), PropagateAtLaunch: aws.Bool(true)},
			{Key: aws.String("cost"), Value: aws.String("cc-1"), PropagateAtLaunch: aws.Bool(false)},
		}
		in.HealthCheckGracePeriod = aws.Int32(0)
	})

	g := asgDescribe(t, c, "web")
	assert.Equal(t, int32(3), aws.ToInt32(g.DesiredCapacity))
	assert.Equal(t, lt, aws.ToString(g.LaunchTemplate.LaunchTemplateId))
	assert.Equal(t, "web", aws.ToString(g.LaunchTemplate.LaunchTemplateName))
	assert.Equal(t, "$Latest", aws.ToString(g.LaunchTemplate.Version))
	assert.Contains(t, aws.ToString(g.AutoScalingGroupARN), "arn:aws:autoscaling:us-east-1:"+DefaultAccount+":autoScalingGroup:")
	assert.Equal(t, "EC2", aws.ToString(g.HealthCheckType))
	assert.Equal(t, []string{"Default"}, g.TerminationPolicies)
	require.Len(t, g.Instances, 3, "the reconciler launched the desired capacity")
	zones := map[string]bool{}
	for _, i := range g.Instances {
		assert.Equal(t, types.LifecycleStateInService, i.LifecycleState)
		assert.Equal(t, "Healthy", aws.ToString(i.HealthStatus))
		assert.Equal(t, "1", aws.ToString(i.LaunchTemplate.Version), "instances record the resolved version")
		assert.Equal(t, lt, aws.ToString(i.LaunchTemplate.LaunchTemplateId))
		assert.Equal(t, img, aws.ToString(i.ImageId))
		assert.Equal(t, "t3.micro", aws.ToString(i.InstanceType))
		zones[aws.ToString(i.AvailabilityZone)] = true
	}
	assert.Len(t, zones, 3, "spread over the three zones")

	// The EC2 side: running instances from the template's image with the
	// propagated tags.
	sb.Do(func(w *World) {
		for _, i := range g.Instances {
			inst := w.EC2.Instances[aws.ToString(i.InstanceId)]
			require.NotNil(t, inst)
			assert.Equal(t, StateRunning, inst.State)
			assert.Equal(t, img, inst.ImageID)
			assert.Equal(t, "web", inst.Tags["aws:autoscaling:groupName"])
			assert.Equal(t, "platform", inst.Tags["team"])
			assert.Equal(t, "yes", inst.Tags["from-lt"])
			assert.Equal(t, lt, inst.Tags["aws:ec2launchtemplate:id"])
			assert.NotContains(t, inst.Tags, "cost")
			assert.Equal(t, lt, inst.LaunchTemplateID)
			assert.Equal(t, "1", inst.LaunchTemplateVersion)
		}
	})

	// DescribeAutoScalingInstances sees the same members.
	di, err := c.DescribeAutoScalingInstances(ctx, &autoscaling.DescribeAutoScalingInstancesInput{})
	require.NoError(t, err)
	require.Len(t, di.AutoScalingInstances, 3)
	for _, i := range di.AutoScalingInstances {
		assert.Equal(t, "web", aws.ToString(i.AutoScalingGroupName))
		assert.Equal(t, "InService", aws.ToString(i.LifecycleState))
	}
	one, err := c.DescribeAutoScalingInstances(ctx, &autoscaling.DescribeAutoScalingInstancesInput{InstanceIds: []string{aws.ToString(g.Instances[1].InstanceId), "i-nope"}})
	require.NoError(t, err)
	require.Len(t, one.AutoScalingInstances, 1)

	// Scaling activities log the launches, newest first.
	acts, err := c.DescribeScalingActivities(ctx, &autoscaling.DescribeScalingActivitiesInput{AutoScalingGroupName: aws.String("web")})
	require.NoError(t, err)
	require.Len(t, acts.Activities, 3)
	for _, a := range acts.Activities {
		assert.Equal(t, types.ScalingActivityStatusCodeSuccessful, a.StatusCode)
		assert.Contains(t, aws.ToString(a.Description), "Launching a new EC2 instance: i-")
		assert.Contains(t, aws.ToString(a.Cause), "a user request created an AutoScalingGroup changing the desired capacity from 0 to 3")
		assert.Equal(t, int32(100), aws.ToInt32(a.Progress))
	}
}

func TestASGPendingThenInServiceWithManualClock(t *testing.T) {
	sb := Start(t, asgManual(Timing{InstancePending: 20 * time.Second, InstanceShutdown: 10 * time.Second}))
	c := autoscaling.NewFromConfig(sb.Config)
	lt := asgTemplate(t, sb, "app", asgImage(t, sb, "app", false))
	asgCreate(t, c, "app", lt, "1", 0, 4, 2)

	g := asgDescribe(t, c, "app")
	assert.Equal(t, map[string]int{"Pending": 2}, asgCountStates(g))
	acts, err := c.DescribeScalingActivities(context.Background(), &autoscaling.DescribeScalingActivitiesInput{AutoScalingGroupName: aws.String("app")})
	require.NoError(t, err)
	for _, a := range acts.Activities {
		assert.Equal(t, types.ScalingActivityStatusCodeInProgress, a.StatusCode)
		assert.Nil(t, a.EndTime)
	}

	sb.AdvanceClock(19 * time.Second)
	assert.Equal(t, map[string]int{"Pending": 2}, asgCountStates(asgDescribe(t, c, "app")))
	sb.AdvanceClock(time.Second)
	assert.Equal(t, map[string]int{"InService": 2}, asgCountStates(asgDescribe(t, c, "app")))

	// Scale in: one member Terminating until EC2 finishes, then gone.
	_, err = c.SetDesiredCapacity(context.Background(), &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String("app"), DesiredCapacity: aws.Int32(1)})
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"InService": 1, "Terminating": 1}, asgCountStates(asgDescribe(t, c, "app")))
	sb.AdvanceClock(10 * time.Second)
	assert.Equal(t, map[string]int{"InService": 1}, asgCountStates(asgDescribe(t, c, "app")))
}

func TestASGReplacesTerminatedAndUnhealthyInstances(t *testing.T) {
	sb := Start(t)
	ctx := context.Background()
	c := autoscaling.NewFromConfig(sb.Config)
	lt := asgTemplate(t, sb, "web", asgImage(t, sb, "web", false))
	asgCreate(t, c, "web", lt, "1", 3, 3, 3, func(in *autoscaling.CreateAutoScalingGroupInput) { in.HealthCheckGracePeriod = aws.Int32(0) })
	before := asgIDs(asgDescribe(t, c, "web"))
	require.Len(t, before, 3)

	// Terminated outside the group (as EC2 TerminateInstances does).
	victim := before[0]
	sb.Do(func(w *World) { w.TerminateInstance(w.EC2.Instances[victim], sb.Clock().Now()) })
	after := asgIDs(asgDescribe(t, c, "web"))
	require.Len(t, after, 3)
	assert.NotContains(t, after, victim, "replaced")
	acts, err := c.DescribeScalingActivities(ctx, &autoscaling.DescribeScalingActivitiesInput{AutoScalingGroupName: aws.String("web"), MaxRecords: aws.Int32(2)})
	require.NoError(t, err)
	require.Len(t, acts.Activities, 2)
	assert.Contains(t, aws.ToString(acts.Activities[0].Description), "Launching a new EC2 instance")
	assert.Contains(t, aws.ToString(acts.Activities[1].Description), "Terminating EC2 instance: "+victim)
	assert.Contains(t, aws.ToString(acts.Activities[1].Cause), "EC2 health check indicating it has been terminated or stopped")

	// SetInstanceHealth Unhealthy → replaced.
	sick := after[1]
	_, err = c.SetInstanceHealth(ctx, &autoscaling.SetInstanceHealthInput{InstanceId: aws.String(sick), HealthStatus: aws.String("Unhealthy"), ShouldRespectGracePeriod: aws.Bool(false)})
	require.NoError(t, err)
	final := asgIDs(asgDescribe(t, c, "web"))
	require.Len(t, final, 3)
	assert.NotContains(t, final, sick)
	sb.Do(func(w *World) { assert.Equal(t, StateTerminated, w.EC2.Instances[sick].State) })

	_, err = c.SetInstanceHealth(ctx, &autoscaling.SetInstanceHealthInput{InstanceId: aws.String("i-0000000000000dead"), HealthStatus: aws.String("Unhealthy")})
	assert.Equal(t, "ValidationError", asgAPIErrorCode(t, err))
	_, err = c.SetInstanceHealth(ctx, &autoscaling.SetInstanceHealthInput{InstanceId: aws.String(final[0]), HealthStatus: aws.String("Sick")})
	assert.Equal(t, "ValidationError", asgAPIErrorCode(t, err))
}

func TestASGBadImageInstancesFailHealthAfterGracePeriod(t *testing.T) {
	sb := Start(t, asgManual(Timing{}))
	c := autoscaling.NewFromConfig(sb.Config)
	lt := asgTemplate(t, sb, "bad", asgImage(t, sb, "bad", true))
	asgCreate(t, c, "bad", lt, "1", 1, 1, 1, func(in *autoscaling.CreateAutoScalingGroupInput) { in.HealthCheckGracePeriod = aws.Int32(60) })
	g := asgDescribe(t, c, "bad")
	first := aws.ToString(g.Instances[0].InstanceId)
	assert.Equal(t, "Healthy", aws.ToString(g.Instances[0].HealthStatus), "within the grace period")
	sb.AdvanceClock(60 * time.Second)
	assert.Equal(t, "Healthy", aws.ToString(asgDescribe(t, c, "bad").Instances[0].HealthStatus), "grace period not over yet")
	sb.AdvanceClock(time.Second)
	g = asgDescribe(t, c, "bad")
	require.Len(t, g.Instances, 1)
	assert.NotEqual(t, first, aws.ToString(g.Instances[0].InstanceId), "the unhealthy instance was replaced")
	acts, err := c.DescribeScalingActivities(context.Background(), &autoscaling.DescribeScalingActivitiesInput{AutoScalingGroupName: aws.String("bad")})
	require.NoError(t, err)
	var causes []string
	for _, a := range acts.Activities {
		causes = append(causes, aws.ToString(a.Cause))
	}
	assert.Contains(t, fmt.Sprint(causes), "EC2 instance status check failure")
}

func TestASGCapacityChangesAndValidation(t *testing.T) {
	sb := Start(t)
	ctx := context.Background()
	c := autoscaling.NewFromConfig(sb.Config)
	img1, img2 := asgImage(t, sb, "v1", false), asgImage(t, sb, "v2", false)
	lt := asgTemplate(t, sb, "svc", img1, img2)
	asgCreate(t, c, "svc", lt, "1", 1, 5, 2)

	_, err := c.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String("svc"), DesiredCapacity: aws.Int32(6)})
	assert.Equal(t, "ValidationError", asgAPIErrorCode(t, err))
	assert.Contains(t, err.Error(), "New SetDesiredCapacity value 6 is above max value 5")
	_, err = c.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String("svc"), DesiredCapacity: aws.Int32(0)})
	assert.Contains(t, err.Error(), "below min value 1")
	_, err = c.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String("nope"), DesiredCapacity: aws.Int32(1)})
	assert.Equal(t, "ValidationError", asgAPIErrorCode(t, err))
	assert.Contains(t, err.Error(), "AutoScalingGroup name not found")

	// Switch the group to version 2: existing instances stay on 1, new ones use 2.
	_, err = c.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String("svc"),
		LaunchTemplate:       &types.LaunchTemplateSpecification{LaunchTemplateName: aws.String("svc"), Version: aws.String("2")},
	})
	require.NoError(t, err)
	_, err = c.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String("svc"), DesiredCapacity: aws.Int32(4)})
	require.NoError(t, err)
	g := asgDescribe(t, c, "svc")
	versions := map[string]int{}
	for _, i := range g.Instances {
		versions[aws.ToString(i.LaunchTemplate.Version)]++
	}
	assert.Equal(t, map[string]int{"1": 2, "2": 2}, versions)
	assert.Equal(t, "2", aws.ToString(g.LaunchTemplate.Version))
	assert.Equal(t, lt, aws.ToString(g.LaunchTemplate.LaunchTemplateId), "the id is filled in when the name was given")

	// Scale in removes instances on the old version first (default policy).
	_, err = c.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String("svc"), DesiredCapacity: aws.Int32(2)})
	require.NoError(t, err)
	g = asgDescribe(t, c, "svc")
	require.Len(t, g.Instances, 2)
	for _, i := range g.Instances {
		assert.Equal(t, "2", aws.ToString(i.LaunchTemplate.Version))
	}

	// Raising MinSize drags the desired capacity up; lowering MaxSize pulls it down.
	_, err = c.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String("svc"), MinSize: aws.Int32(3)})
	require.NoError(t, err)
	g = asgDescribe(t, c, "svc")
	assert.Equal(t, int32(3), aws.ToInt32(g.DesiredCapacity))
	assert.Len(t, g.Instances, 3)
	_, err = c.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String("svc"), MinSize: aws.Int32(1), MaxSize: aws.Int32(1)})
	require.NoError(t, err)
	assert.Len(t, asgDescribe(t, c, "svc").Instances, 1)

	_, err = c.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String("svc"), MinSize: aws.Int32(4), MaxSize: aws.Int32(2)})
	assert.Contains(t, err.Error(), "Max bound, 2, must be greater than or equal to min bound, 4")
	_, err = c.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String("svc"), DesiredCapacity: aws.Int32(9)})
	assert.Contains(t, err.Error(), "Desired capacity:9 must be between the specified min size:1 and max size:1")
	_, err = c.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String("svc"),
		LaunchTemplate: &types.LaunchTemplateSpecification{LaunchTemplateId: aws.String(lt), Version: aws.String("7")}})
	assert.Equal(t, "ValidationError", asgAPIErrorCode(t, err))
	_, err = c.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String("ghost"), MinSize: aws.Int32(0)})
	assert.Contains(t, err.Error(), "AutoScalingGroup name not found - AutoScalingGroup 'ghost' not found")
}

func TestASGCreateErrors(t *testing.T) {
	sb := Start(t)
	ctx := context.Background()
	c := autoscaling.NewFromConfig(sb.Config)
	lt := asgTemplate(t, sb, "x", asgImage(t, sb, "x", false))
	asgCreate(t, c, "dup", lt, "1", 0, 1, 0)

	_, err := c.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String("dup"), LaunchTemplate: &types.LaunchTemplateSpecification{LaunchTemplateId: aws.String(lt)},
		MinSize: aws.Int32(0), MaxSize: aws.Int32(1), AvailabilityZones: []string{"us-east-1a"},
	})
	var exists *types.AlreadyExistsFault
	require.ErrorAs(t, err, &exists)
	assert.Contains(t, exists.ErrorMessage(), "AutoScalingGroup by this name already exists")

	cases := map[string]*autoscaling.CreateAutoScalingGroupInput{
		"does not exist":                                           {LaunchTemplate: &types.LaunchTemplateSpecification{LaunchTemplateId: aws.String("lt-0000000000000000f")}},
		"version, version 9, does not exist":                       {LaunchTemplate: &types.LaunchTemplateSpecification{LaunchTemplateId: aws.String(lt), Version: aws.String("9")}},
		"Valid requests must contain either LaunchTemplate":        {},
		"At least one Availability Zone or VPC Subnet is required": {LaunchTemplate: &types.LaunchTemplateSpecification{LaunchTemplateId: aws.String(lt)}, AvailabilityZones: []string{}},
		"The subnet ID 'subnet-nope' does not exist":               {LaunchTemplate: &types.LaunchTemplateSpecification{LaunchTemplateId: aws.String(lt)}, VPCZoneIdentifier: aws.String("subnet-nope")},
		"Desired capacity:5 must be between":                       {LaunchTemplate: &types.LaunchTemplateSpecification{LaunchTemplateId: aws.String(lt)}, DesiredCapacity: aws.Int32(5)},
		"exceeds the sandbox's limit":                              {LaunchTemplate: &types.LaunchTemplateSpecification{LaunchTemplateId: aws.String(lt)}, MaxSize: aws.Int32(1000000)},
		"reserved for internal use": {LaunchTemplate: &types.LaunchTemplateSpecification{LaunchTemplateId: aws.String(lt)},
			Tags: []types.Tag{{Key: aws.String("aws:x"), Value: aws.String("y")}}},
	}
	for want, in := range cases {
		in.AutoScalingGroupName = aws.String("bad")
		in.MinSize = aws.Int32(0)
		if in.MaxSize == nil {
			in.MaxSize = aws.Int32(2)
		}
		if in.AvailabilityZones == nil && in.VPCZoneIdentifier == nil {
			in.AvailabilityZones = []string{"us-east-1a"}
		}
		_, err := c.CreateAutoScalingGroup(ctx, in)
		assert.Equal(t, "ValidationError", asgAPIErrorCode(t, err), want)
		assert.Contains(t, err.Error(), want)
	}

	// Subnets: VPCZoneIdentifier picks the zones.
	var subnets []string
	sb.Do(func(w *World) {
		for _, id := range sortedKeys(w.EC2.Subnets) {
			if s := w.EC2.Subnets[id]; s.Account == DefaultAccount && s.Region == DefaultRegion && s.AZ != "us-east-1c" {
				subnets = append(subnets, id)
			}
		}
	})
	require.Len(t, subnets, 2)
	_, err = c.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String("vpc"), LaunchTemplate: &types.LaunchTemplateSpecification{LaunchTemplateId: aws.String(lt)},
		MinSize: aws.Int32(4), MaxSize: aws.Int32(4), VPCZoneIdentifier: aws.String(subnets[0] + "," + subnets[1]),
	})
	require.NoError(t, err)
	g := asgDescribe(t, c, "vpc")
	assert.Equal(t, []string{"us-east-1a", "us-east-1b"}, g.AvailabilityZones)
	assert.Equal(t, subnets[0]+","+subnets[1], aws.ToString(g.VPCZoneIdentifier))
	perZone := map[string]int{}
	for _, i := range g.Instances {
		perZone[aws.ToString(i.AvailabilityZone)]++
	}
	assert.Equal(t, map[string]int{"us-east-1a": 2, "us-east-1b": 2}, perZone)
}

func TestASGTemplateWithMissingImageLogsFailedLaunch(t *testing.T) {
	sb := Start(t)
	c := autoscaling.NewFromConfig(sb.Config)
	lt := asgTemplate(t, sb, "broken", "ami-0000000000000dead")
	asgCreate(t, c, "broken", lt, "1", 1, 1, 1)
	g := asgDescribe(t, c, "broken")
	assert.Empty(t, g.Instances)
	asgDescribe(t, c, "broken") // more ticks do not repeat the same failure
	acts, err := c.DescribeScalingActivities(context.Background(), &autoscaling.DescribeScalingActivitiesInput{AutoScalingGroupName: aws.String("broken")})
	require.NoError(t, err)
	require.Len(t, acts.Activities, 1)
	a := acts.Activities[0]
	assert.Equal(t, types.ScalingActivityStatusCodeFailed, a.StatusCode)
	assert.Contains(t, aws.ToString(a.StatusMessage), "The image id '[ami-0000000000000dead]' does not exist")
	assert.Contains(t, aws.ToString(a.StatusMessage), "Launching EC2 instance failed.")
}

func TestASGDeleteGroup(t *testing.T) {
	sb := Start(t, asgManual(Timing{InstanceShutdown: 10 * time.Second}))
	ctx := context.Background()
	c := autoscaling.NewFromConfig(sb.Config)
	lt := asgTemplate(t, sb, "d", asgImage(t, sb, "d", false))
	asgCreate(t, c, "d", lt, "1", 0, 2, 2)

	_, err := c.DeleteAutoScalingGroup(ctx, &autoscaling.DeleteAutoScalingGroupInput{AutoScalingGroupName: aws.String("d")})
	var inUse *types.ResourceInUseFault
	require.ErrorAs(t, err, &inUse)
	assert.Contains(t, inUse.ErrorMessage(), "while there are instances")

	_, err = c.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String("d"), DesiredCapacity: aws.Int32(0)})
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"Terminating": 2}, asgCountStates(asgDescribe(t, c, "d")))
	_, err = c.DeleteAutoScalingGroup(ctx, &autoscaling.DeleteAutoScalingGroupInput{AutoScalingGroupName: aws.String("d")})
	var busy *types.ScalingActivityInProgressFault
	require.ErrorAs(t, err, &busy)
	sb.AdvanceClock(10 * time.Second)
	_, err = c.DeleteAutoScalingGroup(ctx, &autoscaling.DeleteAutoScalingGroupInput{AutoScalingGroupName: aws.String("d")})
	require.NoError(t, err)
	out, err := c.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{"d"}})
	require.NoError(t, err)
	assert.Empty(t, out.AutoScalingGroups)

	// ForceDelete: the group shows "Delete in progress" until its instances are gone.
	asgCreate(t, c, "f", lt, "1", 1, 2, 2)
	_, err = c.DeleteAutoScalingGroup(ctx, &autoscaling.DeleteAutoScalingGroupInput{AutoScalingGroupName: aws.String("f"), ForceDelete: aws.Bool(true)})
	require.NoError(t, err)
	g := asgDescribe(t, c, "f")
	assert.Equal(t, "Delete in progress", aws.ToString(g.Status))
	assert.Equal(t, map[string]int{"Terminating": 2}, asgCountStates(g))
	_, err = c.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String("f"), DesiredCapacity: aws.Int32(1)})
	assert.Equal(t, "ScalingActivityInProgress", asgAPIErrorCode(t, err))
	sb.AdvanceClock(10 * time.Second)
	out, err = c.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{"f"}})
	require.NoError(t, err)
	assert.Empty(t, out.AutoScalingGroups)
	_, err = c.DeleteAutoScalingGroup(ctx, &autoscaling.DeleteAutoScalingGroupInput{AutoScalingGroupName: aws.String("f")})
	assert.Contains(t, err.Error(), "AutoScalingGroup name not found")

	// Deleted groups' activities stay readable with IncludeDeletedGroups.
	acts, err := c.DescribeScalingActivities(ctx, &autoscaling.DescribeScalingActivitiesInput{AutoScalingGroupName: aws.String("f"), IncludeDeletedGroups: aws.Bool(true)})
	require.NoError(t, err)
	assert.NotEmpty(t, acts.Activities)
	acts, err = c.DescribeScalingActivities(ctx, &autoscaling.DescribeScalingActivitiesInput{AutoScalingGroupName: aws.String("f")})
	require.NoError(t, err)
	assert.Empty(t, acts.Activities)
}

func TestASGWaiters(t *testing.T) {
	// A scaled clock with realistic delays: the waiters really poll.
	sb := Start(t, func(o *Options) { o.Mode, o.Scale = ClockScaled, 600 })
	ctx := context.Background()
	c := autoscaling.NewFromConfig(sb.Config)
	lt := asgTemplate(t, sb, "w", asgImage(t, sb, "w", false))
	asgCreate(t, c, "w", lt, "1", 2, 2, 2)
	in := &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{"w"}}
	fast := func(min, max time.Duration) (time.Duration, time.Duration) { return min, max }
	minD, maxD := fast(10*time.Millisecond, 50*time.Millisecond)

	require.NoError(t, autoscaling.NewGroupExistsWaiter(c, func(o *autoscaling.GroupExistsWaiterOptions) { o.MinDelay, o.MaxDelay = minD, maxD }).Wait(ctx, in, 10*time.Second))
	g := asgDescribe(t, c, "w")
	assert.Equal(t, 2, asgCountStates(g)["Pending"], "20 virtual seconds of pending have not passed yet")
	require.NoError(t, autoscaling.NewGroupInServiceWaiter(c, func(o *autoscaling.GroupInServiceWaiterOptions) { o.MinDelay, o.MaxDelay = minD, maxD }).Wait(ctx, in, 10*time.Second))
	assert.Equal(t, map[string]int{"InService": 2}, asgCountStates(asgDescribe(t, c, "w")))

	_, err := c.DeleteAutoScalingGroup(ctx, &autoscaling.DeleteAutoScalingGroupInput{AutoScalingGroupName: aws.String("w"), ForceDelete: aws.Bool(true)})
	require.NoError(t, err)
	require.NoError(t, autoscaling.NewGroupNotExistsWaiter(c, func(o *autoscaling.GroupNotExistsWaiterOptions) { o.MinDelay, o.MaxDelay = minD, maxD }).Wait(ctx, in, 10*time.Second))
	assert.Greater(t, sb.CountCalls("autoscaling", "DescribeAutoScalingGroups"), 4)
}

func TestASGDescribeGroupsPaginationAndFilters(t *testing.T) {
	sb := Start(t)
	ctx := context.Background()
	c := autoscaling.NewFromConfig(sb.Config)
	lt := asgTemplate(t, sb, "p", asgImage(t, sb, "p", false))
	for i := 0; i < 7; i++ {
		team := "a"
		if i%2 == 1 {
			team = "b"
		}
		asgCreate(t, c, fmt.Sprintf("grp-%02d", i), lt, "1", 0, 1, 0, func(in *autoscaling.CreateAutoScalingGroupInput) {
			in.Tags = []types.Tag{{Key: aws.String("team"), Value: aws.String(team)}}
			if i == 6 {
				in.Tags = append(in.Tags, types.Tag{Key: aws.String("special"), Value: aws.String("yes")})
			}
		})
	}
	// Another account and region see nothing.
	other := autoscaling.NewFromConfig(sb.ConfigFor("210987654321", "us-east-1"))
	o, err := other.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{})
	require.NoError(t, err)
	assert.Empty(t, o.AutoScalingGroups)

	p := autoscaling.NewDescribeAutoScalingGroupsPaginator(c, &autoscaling.DescribeAutoScalingGroupsInput{MaxRecords: aws.Int32(3)})
	var names []string
	pages := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		require.NoError(t, err)
		pages++
		assert.LessOrEqual(t, len(page.AutoScalingGroups), 3)
		for _, g := range page.AutoScalingGroups {
			names = append(names, aws.ToString(g.AutoScalingGroupName))
		}
	}
	assert.Equal(t, 3, pages)
	assert.Equal(t, []string{"grp-00", "grp-01", "grp-02", "grp-03", "grp-04", "grp-05", "grp-06"}, names)

	filter := func(fs ...types.Filter) []string {
		out, err := c.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{Filters: fs})
		require.NoError(t, err)
		var n []string
		for _, g := range out.AutoScalingGroups {
			n = append(n, aws.ToString(g.AutoScalingGroupName))
		}
		return n
	}
	assert.Equal(t, []string{"grp-01", "grp-03", "grp-05"}, filter(types.Filter{Name: aws.String("tag:team"), Values: []string{"b"}}))
	assert.Equal(t, []string{"grp-06"}, filter(types.Filter{Name: aws.String("tag-key"), Values: []string{"special"}}))
	assert.Equal(t, []string{"grp-06"}, filter(types.Filter{Name: aws.String("tag:team"), Values: []string{"a", "b"}}, types.Filter{Name: aws.String("tag-value"), Values: []string{"yes"}}))
	assert.Len(t, filter(types.Filter{Name: aws.String("tag-value"), Values: []string{"a"}}), 4)

	_, err = c.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{Filters: []types.Filter{{Name: aws.String("bogus"), Values: []string{"x"}}}})
	assert.Equal(t, "ValidationError", asgAPIErrorCode(t, err))
	_, err = c.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{MaxRecords: aws.Int32(101)})
	assert.Equal(t, "ValidationError", asgAPIErrorCode(t, err))
	_, err = c.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{NextToken: aws.String("garbage")})
	var bad *types.InvalidNextToken
	require.ErrorAs(t, err, &bad)

	out, err := c.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{"grp-02", "none"}})
	require.NoError(t, err)
	require.Len(t, out.AutoScalingGroups, 1)
	assert.Equal(t, "grp-02", aws.ToString(out.AutoScalingGroups[0].AutoScalingGroupName))
}

func TestASGTerminateInstanceInGroup(t *testing.T) {
	sb := Start(t)
	ctx := context.Background()
	c := autoscaling.NewFromConfig(sb.Config)
	lt := asgTemplate(t, sb, "t", asgImage(t, sb, "t", false))
	asgCreate(t, c, "t", lt, "1", 1, 4, 3)
	ids := asgIDs(asgDescribe(t, c, "t"))

	out, err := c.TerminateInstanceInAutoScalingGroup(ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{
		InstanceId: aws.String(ids[0]), ShouldDecrementDesiredCapacity: aws.Bool(true)})
	require.NoError(t, err)
	require.NotNil(t, out.Activity)
	assert.Equal(t, "Terminating EC2 instance: "+ids[0], aws.ToString(out.Activity.Description))
	assert.Contains(t, aws.ToString(out.Activity.Cause), "shrinking the capacity from 3 to 2")
	g := asgDescribe(t, c, "t")
	assert.Equal(t, int32(2), aws.ToInt32(g.DesiredCapacity))
	assert.Equal(t, ids[1:], asgIDs(g))

	// Without decrementing, the group launches a replacement.
	_, err = c.TerminateInstanceInAutoScalingGroup(ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{
		InstanceId: aws.String(ids[1]), ShouldDecrementDesiredCapacity: aws.Bool(false)})
	require.NoError(t, err)
	g = asgDescribe(t, c, "t")
	assert.Equal(t, int32(2), aws.ToInt32(g.DesiredCapacity))
	assert.Len(t, g.Instances, 2)
	assert.NotContains(t, asgIDs(g), ids[1])

	// Several at once by InstanceIds.
	cur := asgIDs(g)
	_, err = c.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String("t"), MinSize: aws.Int32(0)})
	require.NoError(t, err)
	many, err := c.TerminateInstanceInAutoScalingGroup(ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{
		AutoScalingGroupName: aws.String("t"), InstanceIds: cur, ShouldDecrementDesiredCapacity: aws.Bool(true)})
	require.NoError(t, err)
	assert.Len(t, many.Activities, 2)
	g = asgDescribe(t, c, "t")
	assert.Equal(t, int32(0), aws.ToInt32(g.DesiredCapacity))
	assert.Empty(t, g.Instances)

	// Min size constraint and unknown instances.
	_, err = c.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String("t"), MinSize: aws.Int32(1)})
	require.NoError(t, err)
	last := asgIDs(asgDescribe(t, c, "t"))[0]
	_, err = c.TerminateInstanceInAutoScalingGroup(ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{
		InstanceId: aws.String(last), ShouldDecrementDesiredCapacity: aws.Bool(true)})
	assert.Equal(t, "ValidationError", asgAPIErrorCode(t, err))
	assert.Contains(t, err.Error(), "violate group's min size constraint")
	_, err = c.TerminateInstanceInAutoScalingGroup(ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{
		InstanceId: aws.String("i-00000000000000bad"), ShouldDecrementDesiredCapacity: aws.Bool(false)})
	assert.Contains(t, err.Error(), "Instance Id not found - No managed instance found for instance ID: i-00000000000000bad")
}

func TestASGInstanceProtectionAndTerminationPolicies(t *testing.T) {
	sb := Start(t, asgManual(Timing{}))
	ctx := context.Background()
	c := autoscaling.NewFromConfig(sb.Config)
	lt := asgTemplate(t, sb, "p", asgImage(t, sb, "p", false))
	asgCreate(t, c, "p", lt, "1", 0, 3, 1, func(in *autoscaling.CreateAutoScalingGroupInput) {
		in.AvailabilityZones = []string{"us-east-1a"}
	})
	oldest := asgIDs(asgDescribe(t, c, "p"))[0]
	sb.AdvanceClock(time.Minute)
	_, err := c.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String("p"), DesiredCapacity: aws.Int32(3)})
	require.NoError(t, err)
	all := asgIDs(asgDescribe(t, c, "p"))
	require.Len(t, all, 3)

	// Default policy: the newest goes first; protect the two newest → the oldest goes.
	var newest []string
	for _, id := range all {
		if id != oldest {
			newest = append(newest, id)
		}
	}
	_, err = c.SetInstanceProtection(ctx, &autoscaling.SetInstanceProtectionInput{AutoScalingGroupName: aws.String("p"), InstanceIds: newest, ProtectedFromScaleIn: aws.Bool(true)})
	require.NoError(t, err)
	_, err = c.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String("p"), DesiredCapacity: aws.Int32(2)})
	require.NoError(t, err)
	g := asgDescribe(t, c, "p")
	assert.Equal(t, newest, asgIDs(g))
	for _, i := range g.Instances {
		assert.True(t, aws.ToBool(i.ProtectedFromScaleIn))
	}
	_, err = c.SetInstanceProtection(ctx, &autoscaling.SetInstanceProtectionInput{AutoScalingGroupName: aws.String("p"), InstanceIds: []string{"i-nope"}, ProtectedFromScaleIn: aws.Bool(true)})
	assert.Equal(t, "ValidationError", asgAPIErrorCode(t, err))

	// OldestInstance policy with protection removed.
	_, err = c.SetInstanceProtection(ctx, &autoscaling.SetInstanceProtectionInput{AutoScalingGroupName: aws.String("p"), InstanceIds: newest, ProtectedFromScaleIn: aws.Bool(false)})
	require.NoError(t, err)
	_, err = c.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String("p"), TerminationPolicies: []string{"OldestInstance"}, DesiredCapacity: aws.Int32(1)})
	require.NoError(t, err)
	g = asgDescribe(t, c, "p")
	assert.Equal(t, []string{"OldestInstance"}, g.TerminationPolicies)
	require.Len(t, g.Instances, 1)
	_, err = c.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String("p"), TerminationPolicies: []string{"Sometimes"}})
	assert.Equal(t, "ValidationError", asgAPIErrorCode(t, err))
}

func TestASGTags(t *testing.T) {
	sb := Start(t)
	ctx := context.Background()
	c := autoscaling.NewFromConfig(sb.Config)
	lt := asgTemplate(t, sb, "tg", asgImage(t, sb, "tg", false))
	asgCreate(t, c, "a", lt, "1", 0, 1, 0)
	asgCreate(t, c, "b", lt, "1", 0, 1, 0)
	tag := func(group, k, v string, prop bool) types.Tag {
		return types.Tag{ResourceId: aws.String(group), ResourceType: aws.String("auto-scaling-group"), Key: aws.String(k), Value: aws.String(v), PropagateAtLaunch: aws.Bool(prop)}
	}
	_, err := c.CreateOrUpdateTags(ctx, &autoscaling.CreateOrUpdateTagsInput{Tags: []types.Tag{
		tag("a", "env", "prod", true), tag("a", "owner", "web", false), tag("b", "env", "dev", true),
	}})
	require.NoError(t, err)
	_, err = c.CreateOrUpdateTags(ctx, &autoscaling.CreateOrUpdateTagsInput{Tags: []types.Tag{tag("a", "env", "staging", true)}})
	require.NoError(t, err)

	var all []types.TagDescription
	p := autoscaling.NewDescribeTagsPaginator(c, &autoscaling.DescribeTagsInput{MaxRecords: aws.Int32(2)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		require.NoError(t, err)
		all = append(all, page.Tags...)
	}
	require.Len(t, all, 3)
	assert.Equal(t, "a", aws.ToString(all[0].ResourceId))
	assert.Equal(t, "env", aws.ToString(all[0].Key))
	assert.Equal(t, "staging", aws.ToString(all[0].Value))
	assert.Equal(t, "auto-scaling-group", aws.ToString(all[0].ResourceType))

	out, err := c.DescribeTags(ctx, &autoscaling.DescribeTagsInput{Filters: []types.Filter{
		{Name: aws.String("key"), Values: []string{"env"}}, {Name: aws.String("propagate-at-launch"), Values: []string{"true"}}}})
	require.NoError(t, err)
	assert.Len(t, out.Tags, 2)
	out, err = c.DescribeTags(ctx, &autoscaling.DescribeTagsInput{Filters: []types.Filter{{Name: aws.String("auto-scaling-group"), Values: []string{"b"}}}})
	require.NoError(t, err)
	require.Len(t, out.Tags, 1)
	assert.Equal(t, "dev", aws.ToString(out.Tags[0].Value))

	_, err = c.DeleteTags(ctx, &autoscaling.DeleteTagsInput{Tags: []types.Tag{tag("a", "owner", "", false)}})
	require.NoError(t, err)
	g := asgDescribe(t, c, "a")
	require.Len(t, g.Tags, 1)
	assert.Equal(t, "env", aws.ToString(g.Tags[0].Key))
	assert.True(t, aws.ToBool(g.Tags[0].PropagateAtLaunch))

	_, err = c.CreateOrUpdateTags(ctx, &autoscaling.CreateOrUpdateTagsInput{Tags: []types.Tag{tag("zzz", "k", "v", false)}})
	assert.Contains(t, err.Error(), "AutoScalingGroup name not found")
	var lots []types.Tag
	for i := 0; i < 51; i++ {
		lots = append(lots, tag("b", fmt.Sprintf("k%02d", i), "v", false))
	}
	_, err = c.CreateOrUpdateTags(ctx, &autoscaling.CreateOrUpdateTagsInput{Tags: lots})
	var limit *types.LimitExceededFault
	require.ErrorAs(t, err, &limit)
	assert.Len(t, asgDescribe(t, c, "b").Tags, 1, "nothing applied on error")
	_, err = c.DescribeTags(ctx, &autoscaling.DescribeTagsInput{Filters: []types.Filter{{Name: aws.String("colour"), Values: []string{"x"}}}})
	assert.Equal(t, "ValidationError", asgAPIErrorCode(t, err))
}

func TestASGSuspendAndResumeProcesses(t *testing.T) {
	sb := Start(t)
	ctx := context.Background()
	c := autoscaling.NewFromConfig(sb.Config)
	lt := asgTemplate(t, sb, "s", asgImage(t, sb, "s", false))
	asgCreate(t, c, "s", lt, "1", 0, 3, 0)
	_, err := c.SuspendProcesses(ctx, &autoscaling.SuspendProcessesInput{AutoScalingGroupName: aws.String("s"), ScalingProcesses: []string{"Launch"}})
	require.NoError(t, err)
	_, err = c.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String("s"), DesiredCapacity: aws.Int32(2)})
	require.NoError(t, err)
	g := asgDescribe(t, c, "s")
	assert.Empty(t, g.Instances, "Launch is suspended")
	require.Len(t, g.SuspendedProcesses, 1)
	assert.Equal(t, "Launch", aws.ToString(g.SuspendedProcesses[0].ProcessName))
	assert.Contains(t, aws.ToString(g.SuspendedProcesses[0].SuspensionReason), "User suspended at ")

	_, err = c.ResumeProcesses(ctx, &autoscaling.ResumeProcessesInput{AutoScalingGroupName: aws.String("s")})
	require.NoError(t, err)
	g = asgDescribe(t, c, "s")
	assert.Len(t, g.Instances, 2)
	assert.Empty(t, g.SuspendedProcesses)

	_, err = c.SuspendProcesses(ctx, &autoscaling.SuspendProcessesInput{AutoScalingGroupName: aws.String("s"), ScalingProcesses: []string{"Nap"}})
	assert.Equal(t, "ValidationError", asgAPIErrorCode(t, err))
	pt, err := c.DescribeScalingProcessTypes(ctx, &autoscaling.DescribeScalingProcessTypesInput{})
	require.NoError(t, err)
	assert.Len(t, pt.Processes, 9)

	// The activities paginator walks everything.
	p := autoscaling.NewDescribeScalingActivitiesPaginator(c, &autoscaling.DescribeScalingActivitiesInput{AutoScalingGroupName: aws.String("s"), MaxRecords: aws.Int32(1)})
	n := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		require.NoError(t, err)
		n += len(page.Activities)
	}
	assert.Equal(t, 2, n)
}

func TestASGDescribeAutoScalingInstancesPaginator(t *testing.T) {
	sb := Start(t)
	ctx := context.Background()
	c := autoscaling.NewFromConfig(sb.Config)
	lt := asgTemplate(t, sb, "n", asgImage(t, sb, "n", false))
	asgCreate(t, c, "n1", lt, "1", 3, 3, 3)
	asgCreate(t, c, "n2", lt, "1", 2, 2, 2)
	p := autoscaling.NewDescribeAutoScalingInstancesPaginator(c, &autoscaling.DescribeAutoScalingInstancesInput{MaxRecords: aws.Int32(2)})
	seen := map[string]string{}
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		require.NoError(t, err)
		for _, i := range page.AutoScalingInstances {
			seen[aws.ToString(i.InstanceId)] = aws.ToString(i.AutoScalingGroupName)
		}
	}
	assert.Len(t, seen, 5)
	_, err := c.DescribeAutoScalingInstances(ctx, &autoscaling.DescribeAutoScalingInstancesInput{MaxRecords: aws.Int32(51)})
	assert.Equal(t, "ValidationError", asgAPIErrorCode(t, err))
}

func TestASGMixedInstancesPolicy(t *testing.T) {
	sb := Start(t)
	c := autoscaling.NewFromConfig(sb.Config)
	lt := asgTemplate(t, sb, "mix", asgImage(t, sb, "mix", false))
	_, err := c.CreateAutoScalingGroup(context.Background(), &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String("mix"), MinSize: aws.Int32(2), MaxSize: aws.Int32(2),
		AvailabilityZones: []string{"us-east-1a", "us-east-1b"},
		MixedInstancesPolicy: &types.MixedInstancesPolicy{
			LaunchTemplate: &types.LaunchTemplate{
				LaunchTemplateSpecification: &types.LaunchTemplateSpecification{LaunchTemplateName: aws.String("mix"), Version: aws.String("$Default")},
				Overrides:                   []types.LaunchTemplateOverrides{{InstanceType: aws.String("m7g.large")}, {InstanceType: aws.String("m6g.large")}},
			},
			InstancesDistribution: &types.InstancesDistribution{OnDemandBaseCapacity: aws.Int32(1)},
		},
	})
	require.NoError(t, err)
	g := asgDescribe(t, c, "mix")
	require.NotNil(t, g.MixedInstancesPolicy)
	assert.Nil(t, g.LaunchTemplate)
	spec := g.MixedInstancesPolicy.LaunchTemplate.LaunchTemplateSpecification
	assert.Equal(t, lt, aws.ToString(spec.LaunchTemplateId))
	assert.Equal(t, "$Default", aws.ToString(spec.Version))
	assert.Len(t, g.MixedInstancesPolicy.LaunchTemplate.Overrides, 2)
	assert.Equal(t, int32(1), aws.ToInt32(g.MixedInstancesPolicy.InstancesDistribution.OnDemandBaseCapacity))
	require.Len(t, g.Instances, 2)
	for _, i := range g.Instances {
		assert.Equal(t, "m7g.large", aws.ToString(i.InstanceType), "the first override wins")
	}
}

func TestASGEventualConsistencyFault(t *testing.T) {
	sb := Start(t, asgManual(Timing{}))
	ctx := context.Background()
	c := autoscaling.NewFromConfig(sb.Config)
	lt := asgTemplate(t, sb, "ec", asgImage(t, sb, "ec", false))
	sb.SetFaults(FaultRule{Service: "autoscaling", Action: "CreateAutoScalingGroup", InvisibleFor: Duration{5 * time.Second}})
	asgCreate(t, c, "ec", lt, "1", 0, 1, 0)
	out, err := c.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{"ec"}})
	require.NoError(t, err)
	assert.Empty(t, out.AutoScalingGroups, "not visible yet")
	sb.AdvanceClock(5 * time.Second)
	assert.Equal(t, "ec", aws.ToString(asgDescribe(t, c, "ec").AutoScalingGroupName))
}
