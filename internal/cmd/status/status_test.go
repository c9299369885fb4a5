package status_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/channel/channeltest"
	"github.com/amibake/amibake/internal/cmd/root"
	"github.com/amibake/amibake/internal/cmd/status"
	"github.com/amibake/amibake/internal/iostreams"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/lock"
	"github.com/amibake/amibake/internal/sandbox"
)

var paths = lineage.Paths{Prefix: channeltest.Prefix, Project: channeltest.Project}

// run is clitest.Run on the sandbox's clock, so that ages are the
// sandbox's.
func run(t *testing.T, sb *sandbox.Sandbox, dir string, args ...string) (int, string, string) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	f := root.NewFactory(ios)
	f.AWSConfig = func(context.Context) (aws.Config, error) { return sb.Config, nil }
	f.Now = sb.Clock().Now
	code := root.Main(context.Background(), append([]string{"amibake", "--chdir", dir}, args...), f)
	return code, out.String(), errOut.String()
}

func launch(t *testing.T, sb *sandbox.Sandbox, ami string, n int32, tags map[string]string) []string {
	t.Helper()
	var ts []ec2types.Tag
	for k, v := range tags {
		ts = append(ts, ec2types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	out, err := ec2.NewFromConfig(sb.Config).RunInstances(context.Background(), &ec2.RunInstancesInput{
		ImageId: aws.String(ami), InstanceType: ec2types.InstanceTypeT3Micro, MinCount: aws.Int32(n), MaxCount: aws.Int32(n),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance, Tags: ts}},
	})
	require.NoError(t, err)
	var ids []string
	for _, i := range out.Instances {
		ids = append(ids, aws.ToString(i.InstanceId))
	}
	sort.Strings(ids)
	return ids
}

func group(t *testing.T, sb *sandbox.Sandbox, name, ami string, desired int32) {
	t.Helper()
	ctx := context.Background()
	lt, err := ec2.NewFromConfig(sb.Config).CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String(name),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(ami), InstanceType: ec2types.InstanceTypeT3Micro}})
	require.NoError(t, err)
	_, err = autoscaling.NewFromConfig(sb.Config).CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(name), MinSize: aws.Int32(0), MaxSize: aws.Int32(8), DesiredCapacity: aws.Int32(desired),
		LaunchTemplate:    &astypes.LaunchTemplateSpecification{LaunchTemplateId: lt.LaunchTemplate.LaunchTemplateId},
		AvailabilityZones: []string{"us-east-1a"}})
	require.NoError(t, err)
}

// world: the example family with latest and stable channels, app-worker's
// stable revoked, web-prod-a on an older app-web AMI (2 instances) and
// web-prod-b on the stable one (3), five workers of which two are on the
// stable AMI, one patched in place to its level and two behind, and the
// lock held by a CI job.
func world(t *testing.T) (*sandbox.Sandbox, string, channeltest.Family, channeltest.Build) {
	t.Helper()
	sb := sandbox.Start(t, func(o *sandbox.Options) { o.Mode = sandbox.ClockManual })
	dir := channeltest.CopyProject(t)
	fam := channeltest.SeedFamily(t, sb, channeltest.Project, "ami-source")
	for _, b := range []channeltest.Build{fam.Linux, fam.Foundation, fam.Base, fam.AppWeb, fam.AppWorker} {
		channeltest.PutChannel(t, sb, "us-east-1", paths.Channel(b.Layer, "latest"), b.Home())
		channeltest.PutChannel(t, sb, "us-east-1", paths.Channel(b.Layer, "stable"), b.Home())
	}
	oldWeb := channeltest.SeedBuild(t, sb, channeltest.Project, "app-web", "b0", &fam.Base, "", "us-east-1")
	sb.Do(func(w *sandbox.World) {
		w.EC2.Images[fam.AppWorker.Home()].Tags[lineage.TagRevoked] = "CVE-2026-1"
		w.EC2.Images[fam.AppWorker.Home()].Tags[lineage.TagPatchLevel] = "pb-1:abc"
		delete(w.EC2.Images, fam.Base.IDs["eu-west-1"]) // a missing copy
	})
	group(t, sb, "web-prod-a", oldWeb.Home(), 2)
	group(t, sb, "web-prod-b", fam.AppWeb.Home(), 3)
	launch(t, sb, fam.AppWorker.Home(), 2, map[string]string{"role": "worker"})
	launch(t, sb, oldWeb.Home(), 1, map[string]string{"role": "worker", lineage.TagPatchLevel: "pb-1:abc"})
	launch(t, sb, oldWeb.Home(), 2, map[string]string{"role": "worker"})
	launch(t, sb, oldWeb.Home(), 4, map[string]string{"role": "other"})
	sb.AdvanceClock(3 * time.Hour)

	l := &lock.Locker{SSM: awsapi.NewClients(sb.Config).SSM(""), Name: paths.Lock(), Holder: "ci:job-7", Command: "bake", TTL: 24 * time.Hour,
		Now: sb.Clock().Now}
	_, err := l.Acquire(context.Background(), 0)
	require.NoError(t, err)
	return sb, dir, fam, oldWeb
}

func TestStatusJSON(t *testing.T) {
	sb, dir, fam, oldWeb := world(t)
	code, out, errOut := run(t, sb, dir, "-o", "json", "status")
	require.Equal(t, 0, code, errOut)
	var rep status.Report
	require.NoError(t, json.Unmarshal([]byte(out), &rep))

	assert.Equal(t, 1, rep.SchemaVersion)
	assert.Equal(t, "acme-golden", rep.Project)
	byLayer := map[string]*status.Layer{}
	for _, l := range rep.Layers {
		byLayer[l.Layer] = l
	}
	require.Contains(t, byLayer, "linux")
	assert.Equal(t, "linux", rep.Layers[0].Layer, "parents first")
	for _, l := range rep.Layers {
		assert.NotEmpty(t, l.Fingerprint, l.Layer)
		assert.NotEmpty(t, l.Reason, l.Layer)
	}
	// The seeded AMIs carry made-up fingerprints: every layer would rebuild.
	assert.Equal(t, status.StateWouldRebuild, byLayer["base"].State)

	base := byLayer["base"]
	require.Len(t, base.Channels, 2)
	assert.Equal(t, "latest", base.Channels[0].Channel)
	assert.Equal(t, "stable", base.Channels[1].Channel)
	st := base.Channels[1]
	assert.Equal(t, fam.Base.Home(), st.AMI)
	require.Len(t, st.Regions, 2)
	assert.Equal(t, status.RegionAMI{Region: "us-east-1", AMI: fam.Base.Home(), State: "available",
		Created: st.Regions[0].Created, AgeSeconds: 3 * 3600}, *st.Regions[0])
	assert.Equal(t, "missing", st.Regions[1].State, "the eu-west-1 copy is gone")
	assert.Equal(t, fam.Foundation.IDs["eu-west-1"], byLayer["foundation"].Channels[0].Regions[1].AMI)

	worker := byLayer["app-worker"].Channels[1]
	assert.Equal(t, "CVE-2026-1", worker.Regions[0].Revoked)
	assert.Equal(t, "pb-1:abc", worker.Regions[0].PatchLevel)

	require.Len(t, rep.Fleets, 2)
	web, wk := rep.Fleets[0], rep.Fleets[1]
	assert.Equal(t, "web", web.Fleet)
	assert.Equal(t, fam.AppWeb.Home(), web.Target)
	assert.Equal(t, 5, web.Instances)
	assert.Equal(t, map[string]int{oldWeb.Home(): 2, fam.AppWeb.Home(): 3}, web.Images)
	assert.Equal(t, 2, web.Drift)
	require.Len(t, web.Groups, 2)
	assert.Equal(t, status.Group{Name: "web-prod-a", Desired: 2, Instances: 2, Template: web.Groups[0].Template,
		TemplateVersion: "$Default", TemplateAMI: oldWeb.Home()}, *web.Groups[0])
	assert.Equal(t, fam.AppWeb.Home(), web.Groups[1].TemplateAMI)

	assert.Equal(t, "worker", wk.Fleet)
	assert.Equal(t, "in-place", wk.Strategy)
	assert.Equal(t, 5, wk.Instances, "only role=worker")
	assert.Equal(t, map[string]int{fam.AppWorker.Home(): 2, oldWeb.Home(): 3}, wk.Images)
	assert.Equal(t, 2, wk.Drift, "the one patched to the channel's level is not drift")

	require.NotNil(t, rep.Lock)
	assert.True(t, rep.Lock.Held)
	assert.Equal(t, "ci:job-7", rep.Lock.Lease.Holder)
	assert.False(t, rep.Lock.Expired)
}

func TestStatusText(t *testing.T) {
	sb, dir, fam, oldWeb := world(t)
	code, out, errOut := run(t, sb, dir, "status")
	require.Equal(t, 0, code, errOut)
	t.Log("\n" + out)
	for _, want := range []string{
		"Project acme-golden at ",
		"LAYERS\nLAYER", "would rebuild: ",
		"CHANNELS\nLAYER", fam.Base.Home(), "no copy", "revoked: CVE-2026-1", "3h",
		"FLEETS\nFLEET", "replace   app-web/stable", "in-place  app-worker/stable", "launches " + oldWeb.Home(),
		"4 instance(s) not on their channel AMI: 'amibake drift'",
		"LOCK\nHeld by ci:job-7",
	} {
		assert.Contains(t, out, want)
	}
	assert.NotContains(t, out, "\x1b[", "no colour off a terminal")
}

func TestStatusUnlockedAndEmpty(t *testing.T) {
	sb := sandbox.Start(t)
	dir := channeltest.CopyProject(t)
	code, out, errOut := run(t, sb, dir, "status")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "new")
	assert.Contains(t, out, "No channel is set: run 'amibake bake'.")
	assert.Contains(t, out, "Unlocked (/amibake/acme-golden/lock).")

	code, _, errOut = run(t, sb, dir, "status", "extra")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "status takes no arguments")
}

func TestAge(t *testing.T) {
	for s, want := range map[int64]string{5: "5s", 600: "10m", 7200: "2h", 47 * 3600: "47h", 5 * 86400: "5d"} {
		assert.Equal(t, want, status.Age(s))
	}
}

// The number of AWS calls does not grow with the number of AMIs or
// instances: everything is batched.
func TestStatusCallBudget(t *testing.T) {
	sb, dir, fam, _ := world(t)
	count := func() map[string]int {
		sb.ResetLog()
		code, _, errOut := run(t, sb, dir, "-o", "json", "status")
		require.Equal(t, 0, code, errOut)
		out := map[string]int{}
		for _, e := range sb.Log() {
			out[e.Service+":"+e.Action]++
		}
		return out
	}
	before := count()
	t.Logf("calls: %v", before)
	parent := fam.Base
	for i := 0; i < 60; i++ {
		b := channeltest.SeedBuild(t, sb, channeltest.Project, "app-web", fmt.Sprintf("h%d", i), &parent, "")
		if i%10 == 0 {
			channeltest.PutChannel(t, sb, "us-east-1", paths.Channel("app-web", "latest"), b.Home())
		}
	}
	launch(t, sb, fam.AppWorker.Home(), 40, map[string]string{"role": "worker"})
	sb.AdvanceClock(time.Minute)
	assert.Equal(t, before, count(), "the same calls with 60 more AMIs and 40 more instances")
	total := 0
	for _, n := range before {
		total += n
	}
	assert.LessOrEqual(t, total, 30)
}

func TestStatusColoursOnlyOnATerminal(t *testing.T) {
	sb, dir, _, _ := world(t)
	ios, _, out, errOut := iostreams.Test()
	ios.SetStdoutTTY(true)
	ios.SetColorEnabled(true)
	f := root.NewFactory(ios)
	f.AWSConfig = func(context.Context) (aws.Config, error) { return sb.Config, nil }
	code := root.Main(context.Background(), []string{"amibake", "--chdir", dir, "status"}, f)
	require.Equal(t, 0, code, errOut.String())
	assert.Contains(t, out.String(), "\x1b[31mrevoked: CVE-2026-1\x1b[0m")

	ios, _, out, _ = iostreams.Test()
	ios.SetStdoutTTY(true)
	ios.SetColorEnabled(true)
	f = root.NewFactory(ios)
	f.AWSConfig = func(context.Context) (aws.Config, error) { return sb.Config, nil }
	code = root.Main(context.Background(), []string{"amibake", "--chdir", dir, "--no-color", "status"}, f)
	require.Equal(t, 0, code)
	assert.NotContains(t, out.String(), "\x1b[")
}
