package drift_test

import (
	"context"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/channel/channeltest"
	"github.com/amibake/amibake/internal/channel/channeltest/clitest"
	"github.com/amibake/amibake/internal/drift"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/sandbox"
)

var paths = lineage.Paths{Prefix: channeltest.Prefix, Project: channeltest.Project}

func asgInstances(t *testing.T, c *autoscaling.Client, name string) []astypes.Instance {
	t.Helper()
	out, err := c.DescribeAutoScalingGroups(context.Background(), &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}})
	require.NoError(t, err)
	require.Len(t, out.AutoScalingGroups, 1)
	return out.AutoScalingGroups[0].Instances
}

// A partial rollout: web-prod-a was created on launch template v1 (the old
// app-web AMI), moved to v2 (the new one), and half its instances were
// replaced. drift names exactly the two left behind, one channel version
// and three days behind; the in-place fleet's stray worker is listed with
// its patch state.
func TestDriftAfterPartialRollout(t *testing.T) {
	timing := sandbox.ZeroTiming()
	sb := sandbox.Start(t, func(o *sandbox.Options) { o.Mode, o.Timing = sandbox.ClockManual, &timing })
	ctx := context.Background()
	dir := channeltest.CopyProject(t)
	oldWeb := channeltest.SeedBuild(t, sb, channeltest.Project, "app-web", "b0", nil, "ami-source")
	sb.AdvanceClock(72 * time.Hour)
	fam := channeltest.SeedFamily(t, sb, channeltest.Project, "ami-source")
	channeltest.PutChannel(t, sb, "us-east-1", paths.Channel("app-web", lineage.ChannelStable), oldWeb.Home())
	channeltest.PutChannel(t, sb, "us-east-1", paths.Channel("app-web", lineage.ChannelStable), fam.AppWeb.Home())
	channeltest.PutChannel(t, sb, "us-east-1", paths.Channel("app-worker", lineage.ChannelStable), fam.AppWorker.Home())

	e := ec2.NewFromConfig(sb.Config)
	as := autoscaling.NewFromConfig(sb.Config)
	lt, err := e.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("web"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(oldWeb.Home()), InstanceType: ec2types.InstanceTypeT3Small}})
	require.NoError(t, err)
	ltID := lt.LaunchTemplate.LaunchTemplateId
	for _, g := range []struct {
		name    string
		desired int32
	}{{"web-prod-a", 4}, {"web-prod-b", 1}} {
		_, err = as.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{AutoScalingGroupName: aws.String(g.name),
			LaunchTemplate: &astypes.LaunchTemplateSpecification{LaunchTemplateId: ltID, Version: aws.String("1")},
			MinSize:        aws.Int32(0), MaxSize: aws.Int32(8), DesiredCapacity: aws.Int32(g.desired),
			AvailabilityZones: []string{"us-east-1a", "us-east-1b"}})
		require.NoError(t, err)
	}
	sb.AdvanceClock(time.Minute)
	_, err = e.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{LaunchTemplateId: ltID, SourceVersion: aws.String("1"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(fam.AppWeb.Home())}})
	require.NoError(t, err)
	for _, name := range []string{"web-prod-a", "web-prod-b"} {
		_, err = as.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String(name),
			LaunchTemplate: &astypes.LaunchTemplateSpecification{LaunchTemplateId: ltID, Version: aws.String("2")}})
		require.NoError(t, err)
	}
	var first []string
	for _, i := range asgInstances(t, as, "web-prod-a") {
		first = append(first, aws.ToString(i.InstanceId))
	}
	sort.Strings(first)
	require.Len(t, first, 4)
	replaced, leftBehind := append([]string(nil), first[:2]...), first[2:]
	// web-prod-b's only instance is replaced too: that group is done.
	b := asgInstances(t, as, "web-prod-b")
	require.Len(t, b, 1)
	replaced = append(replaced, aws.ToString(b[0].InstanceId))
	for _, id := range replaced {
		_, err := as.TerminateInstanceInAutoScalingGroup(ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{InstanceId: aws.String(id),
			ShouldDecrementDesiredCapacity: aws.Bool(false)})
		require.NoError(t, err)
	}
	sb.AdvanceClock(time.Minute)
	require.Len(t, asgInstances(t, as, "web-prod-a"), 4)

	// Workers: two on the channel AMI, one on an AMI the channel never held
	// (scanned), one more in the same state but never scanned.
	launch := func(ami string, n int32) []string {
		out, err := e.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(ami), InstanceType: "t3.small",
			MinCount: aws.Int32(n), MaxCount: aws.Int32(n),
			TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance,
				Tags: []ec2types.Tag{{Key: aws.String("role"), Value: aws.String("worker")}}}}})
		require.NoError(t, err)
		var ids []string
		for _, i := range out.Instances {
			ids = append(ids, aws.ToString(i.InstanceId))
		}
		return ids
	}
	// The scanned stray runs the stock Amazon Linux image (a real package
	// set that misses recent Critical advisories) in patch group worker,
	// whose baseline (patch apply) rates Critical security fixes CRITICAL.
	code, _, errOut := clitest.Run(t, sb, dir, "patch", "apply", "--apply")
	require.Equal(t, 0, code, errOut)
	cl := ssm.NewFromConfig(sb.Config)
	pub, err := cl.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64")})
	require.NoError(t, err)
	stock := aws.ToString(pub.Parameter.Value)
	launch(fam.AppWorker.Home(), 2)
	stray := launch(stock, 1)
	stray = append(stray, launch(fam.OldFoundation.Home(), 1)...)
	_, err = e.CreateTags(ctx, &ec2.CreateTagsInput{Resources: stray[:1], Tags: []ec2types.Tag{{Key: aws.String("Patch Group"), Value: aws.String("worker")}}})
	require.NoError(t, err)
	sb.AdvanceClock(time.Second)
	_, err = cl.SendCommand(ctx, &ssm.SendCommandInput{DocumentName: aws.String("AWS-RunPatchBaseline"), InstanceIds: stray[:1],
		Parameters: map[string][]string{"Operation": {"Scan"}}})
	require.NoError(t, err)
	sb.AdvanceClock(time.Minute)
	ps, err := cl.DescribeInstancePatchStates(ctx, &ssm.DescribeInstancePatchStatesInput{InstanceIds: stray[:1]})
	require.NoError(t, err)
	require.Len(t, ps.InstancePatchStates, 1)
	crit := aws.ToInt32(ps.InstancePatchStates[0].CriticalNonCompliantCount)
	require.Greater(t, crit, int32(0), "the stock image misses Critical fixes")

	// Text.
	code, out, errOut := clitest.Run(t, sb, dir, "drift")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "fleet web: 2 of 5 instance(s) drift from "+fam.AppWeb.Home()+" (app-web@stable v2)\n")
	assert.Contains(t, out, "fleet worker: 2 of 4 instance(s) drift from "+fam.AppWorker.Home()+" (app-worker@stable v1)\n")
	assert.Contains(t, out, "FLEET ")
	for _, id := range leftBehind {
		assert.Regexp(t, `web\s+`+id+`\s+web-prod-a\s+`+oldWeb.Home()+`\s+1\s+3\s+not scanned\n`, out)
	}
	assert.Regexp(t, `worker\s+`+stray[0]+`\s+-\s+`+stock+`\s+-\s+\d+\s+`+strconv.Itoa(int(crit))+`\n`, out)
	assert.Regexp(t, `worker\s+`+stray[1]+`\s+-\s+`+fam.OldFoundation.Home()+`\s+-\s+0\s+not scanned\n`, out)
	for _, id := range replaced {
		assert.NotContains(t, out, id)
	}

	// JSON names exactly the instances left behind.
	code, out, errOut = clitest.Run(t, sb, dir, "-o", "json", "drift", "--fleet", "web")
	require.Equal(t, 0, code, errOut)
	var rep drift.Report
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	assert.True(t, rep.Drift)
	require.Len(t, rep.Fleets, 1)
	fr := rep.Fleets[0]
	assert.Equal(t, "web", fr.Fleet)
	assert.Equal(t, fam.AppWeb.Home(), fr.ChannelAMI)
	assert.Equal(t, 5, fr.Instances)
	var got []string
	for _, in := range fr.Drifted {
		got = append(got, in.ID)
		assert.Equal(t, oldWeb.Home(), in.AMI)
		assert.Equal(t, "web-prod-a", in.ASG)
		require.NotNil(t, in.VersionsBehind)
		assert.Equal(t, 1, *in.VersionsBehind)
		require.NotNil(t, in.DaysBehind)
		assert.Equal(t, 3, *in.DaysBehind)
		assert.False(t, in.Scanned)
	}
	assert.Equal(t, leftBehind, got)

	// -detailed-exitcode: 2 with drift, 0 without.
	code, _, _ = clitest.Run(t, sb, dir, "drift", "-detailed-exitcode")
	assert.Equal(t, 2, code)
	_, err = e.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: stray})
	require.NoError(t, err)
	sb.AdvanceClock(time.Minute)
	code, out, errOut = clitest.Run(t, sb, dir, "drift", "--fleet", "worker", "-detailed-exitcode")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "No drift: every instance runs its fleet's channel AMI.\n")

	// Unknown fleet.
	code, _, errOut = clitest.Run(t, sb, dir, "drift", "--fleet", "nope")
	assert.NotEqual(t, 0, code)
	assert.True(t, strings.Contains(errOut, `no fleet "nope"`), errOut)
}

func TestDriftChannelNotSet(t *testing.T) {
	sb := sandbox.Start(t)
	dir := channeltest.CopyProject(t)
	code, out, errOut := clitest.Run(t, sb, dir, "drift")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "fleet web: channel "+paths.Channel("app-web", lineage.ChannelStable)+" is not set")
	assert.Contains(t, out, "No drift")
}
