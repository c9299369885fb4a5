package retire_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/channel/channeltest"
	"github.com/amibake/amibake/internal/channel/channeltest/clitest"
	"github.com/amibake/amibake/internal/cmd/root"
	"github.com/amibake/amibake/internal/iostreams"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/lock"
	"github.com/amibake/amibake/internal/retire"
	"github.com/amibake/amibake/internal/sandbox"
)

var paths = lineage.Paths{Prefix: channeltest.Prefix, Project: channeltest.Project}

// run is clitest.Run with the Factory's clock on the sandbox's virtual
// time, so that grace periods can pass with sb.AdvanceClock.
func run(t *testing.T, sb *sandbox.Sandbox, dir string, args ...string) (int, string, string) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	f := root.NewFactory(ios)
	f.AWSConfig = func(context.Context) (aws.Config, error) { return sb.Config, nil }
	f.Now = sb.Clock().Now
	code := root.Main(context.Background(), append([]string{"amibake", "--chdir", dir}, args...), f)
	return code, out.String(), errOut.String()
}

// withSnapshots gives each AMI of b its own snapshot, as a bake does.
func withSnapshots(t *testing.T, sb *sandbox.Sandbox, b channeltest.Build, age time.Duration) map[string]string {
	t.Helper()
	snaps := map[string]string{}
	sb.Do(func(w *sandbox.World) {
		for _, id := range b.All() {
			img := w.EC2.Images[id]
			snap := w.NewID("snap")
			w.EC2.Snapshots[snap] = &sandbox.Snapshot{ID: snap, Account: sandbox.DefaultAccount, Region: img.Region, VolumeSize: 8,
				State: "completed", StartTime: img.CreationDate, StateSince: img.CreationDate}
			img.BlockDevices = []sandbox.BlockDevice{{DeviceName: "/dev/xvda", SnapshotID: snap, VolumeSize: 8, VolumeType: "gp3"}}
			img.CreationDate = img.CreationDate.Add(-age)
			snaps[id] = snap
		}
	})
	return snaps
}

func state(sb *sandbox.Sandbox, id string) (registered, deprecated bool) {
	sb.Do(func(w *sandbox.World) {
		img := w.EC2.Images[id]
		registered = img != nil && img.State != "deregistered"
		deprecated = img != nil && !img.DeprecationTime.IsZero()
	})
	return
}

func snapshotExists(sb *sandbox.Sandbox, id string) (ok bool) {
	sb.Do(func(w *sandbox.World) { ok = w.EC2.Snapshots[id] != nil })
	return
}

func TestRetireDryRunThenApply(t *testing.T) {
	sb := sandbox.Start(t, func(o *sandbox.Options) { o.Mode = sandbox.ClockManual })
	dir := channeltest.CopyProject(t)
	fam := channeltest.SeedFamily(t, sb, channeltest.Project, "ami-source")
	// app-web: five builds, oldest first; b1 is on an instance, b2 in a
	// launch template's old version, b5 on the stable channel.
	var web []channeltest.Build
	snaps := map[string]string{}
	for i, id := range []string{"w1", "w2", "w3", "w4", "w5"} {
		b := channeltest.SeedBuild(t, sb, channeltest.Project, "app-web", id, &fam.Base, "")
		for k, v := range withSnapshots(t, sb, b, time.Duration(10-i)*24*time.Hour) {
			snaps[k] = v
		}
		web = append(web, b)
	}
	ctx := context.Background()
	c := awsapi.NewClients(sb.Config)
	_, err := c.EC2("us-east-1").RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(web[0].Home()), InstanceType: ec2types.InstanceTypeT3Micro,
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
	require.NoError(t, err)
	lt, err := ec2.NewFromConfig(sb.Config).CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("web"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(web[1].Home())}})
	require.NoError(t, err)
	_, err = c.EC2("us-east-1").CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{LaunchTemplateId: lt.LaunchTemplate.LaunchTemplateId,
		SourceVersion: aws.String("1"), LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(web[4].Home())}})
	require.NoError(t, err)
	_, err = ssm.NewFromConfig(sb.Config).PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(paths.Channel("app-web", "stable")),
		Value: aws.String(web[4].Home()), Type: ssmtypes.ParameterTypeString})
	require.NoError(t, err)

	// Dry run, keep 1: w3 and w4 go; w1 (instance), w2 (LT version 1), w5
	// (newest, channel, LT version 2) stay; other layers are not selected.
	code, out, errOut := clitest.Run(t, sb, dir, "-o", "json", "retire", "app-web", "--keep", "1")
	require.Equal(t, 0, code, errOut)
	var res retire.Result
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	actions := map[string]string{}
	reasons := map[string][]string{}
	for _, b := range res.Builds {
		if b.Layer == "app-web" {
			actions[b.BuildID], reasons[b.BuildID] = b.Action, b.Reasons
		} else {
			assert.Equal(t, "keep", b.Action, b.Layer)
			assert.Contains(t, b.Reasons, "layer not selected")
		}
	}
	// b1 is the family's app-web build, the newest.
	assert.Equal(t, map[string]string{"w1": "keep", "w2": "keep", "w3": "deprecate", "w4": "deprecate", "w5": "keep", "b1": "keep"}, actions)
	assert.Equal(t, []string{"among the newest 1 of layer app-web"}, reasons["b1"])
	assert.Contains(t, reasons["w1"][0], "in use ("+web[0].Home()+"): instance i-")
	assert.Contains(t, reasons["w2"], "in use ("+web[1].Home()+"): launch template web ("+aws.ToString(lt.LaunchTemplate.LaunchTemplateId)+") version 1")
	assert.Contains(t, reasons["w5"], "in use ("+web[4].Home()+"): channel /amibake/acme-golden/layers/app-web/stable (current, version 1)")
	for _, id := range append(web[2].All(), web[3].All()...) {
		_, dep := state(sb, id)
		assert.False(t, dep, "dry run changes nothing")
	}

	code, out, errOut = run(t, sb, dir, "retire", "app-web", "--keep", "1", "--grace", "24h", "--apply")
	require.Equal(t, 0, code, "%s\n%s", out, errOut)
	assert.Contains(t, out, "Deprecated 4 AMIs, deregistered 0")
	for _, id := range append(web[2].All(), web[3].All()...) {
		reg, dep := state(sb, id)
		assert.True(t, reg && dep, id)
	}
	// Within the grace: nothing more.
	sb.AdvanceClock(12 * time.Hour)
	code, out, errOut = run(t, sb, dir, "retire", "app-web", "--keep", "1", "--grace", "24h", "--apply")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "Deprecated 0 AMIs, deregistered 0")
	assert.Contains(t, out, "grace      app-web")

	// After it: deregistered in both regions, each with its own snapshot.
	sb.AdvanceClock(13 * time.Hour)
	code, out, errOut = run(t, sb, dir, "retire", "app-web", "--keep", "1", "--grace", "24h", "--apply")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "deregistered 4, deleted 4 snapshots")
	for _, b := range web {
		for _, id := range b.All() {
			reg, _ := state(sb, id)
			gone := b.BuildID == "w3" || b.BuildID == "w4"
			assert.Equal(t, !gone, reg, id)
			assert.Equal(t, !gone, snapshotExists(sb, snaps[id]), id)
		}
	}
	code, out, _ = clitest.Run(t, sb, dir, "lock", "status")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "Unlocked")
}

func TestRetireFleetPolicyAndErrors(t *testing.T) {
	sb := sandbox.Start(t)
	dir := channeltest.CopyProject(t)
	channeltest.SeedFamily(t, sb, channeltest.Project, "ami-source")

	// Without --keep the fleets' retire.keep (3) applies: nothing goes.
	code, out, errOut := clitest.Run(t, sb, dir, "retire")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "0 to deprecate")
	assert.Contains(t, out, "Dry run")

	code, _, errOut = clitest.Run(t, sb, dir, "retire", "nope")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, `unknown layer "nope"`)
	code, _, errOut = clitest.Run(t, sb, dir, "retire", "--keep", "0")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "--keep must be at least 1")

	l := &lock.Locker{SSM: awsapi.NewClients(sb.Config).SSM(""), Name: paths.Lock(), Holder: "ci:job-7", Command: "bake", TTL: time.Hour}
	_, err := l.Acquire(context.Background(), 0)
	require.NoError(t, err)
	code, _, errOut = clitest.Run(t, sb, dir, "retire", "--apply")
	assert.Equal(t, 4, code)
	assert.Contains(t, errOut, "is held by ci:job-7")
	code, _, errOut = clitest.Run(t, sb, dir, "retire")
	assert.Equal(t, 0, code, "the dry run takes no lock: %s", errOut)
}

func TestRetireFailedBuildGoesAtOnceAndDoesNotCount(t *testing.T) {
	sb := sandbox.Start(t)
	dir := channeltest.CopyProject(t)
	fam := channeltest.SeedFamily(t, sb, channeltest.Project, "ami-source")
	failed := channeltest.SeedBuild(t, sb, channeltest.Project, "app-web", "bad", &fam.Base, "")
	withSnapshots(t, sb, failed, 0)
	require.NoError(t, sb.FailImage(failed.Home(), "packer said no"))

	code, out, errOut := run(t, sb, dir, "retire", "app-web", "--keep", "1", "--apply")
	require.Equal(t, 0, code, "%s\n%s", out, errOut)
	reg, _ := state(sb, failed.Home())
	assert.False(t, reg, "the failed build is deregistered at once")
	reg, dep := state(sb, fam.AppWeb.Home())
	assert.True(t, reg && !dep, "the newest available build is the one kept")
}
