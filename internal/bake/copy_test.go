package bake_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/bake"
	"github.com/amibake/amibake/internal/bake/automationtest"
	"github.com/amibake/amibake/internal/channel/channeltest/clitest"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/sandbox"
)

// A project baked in one region gains a second: `amibake bake` builds
// nothing (every layer is up to date in its build region) and fills each
// layer's missing copy from its reused AMI — the packer path's tags on the
// copy and its snapshots — then publishes. The next plan finds the copies:
// a second bake makes none and writes no channel.
func TestBakeCopiesReusedAMIToNewRegion(t *testing.T) {
	sb := sandbox.Start(t)
	dir := automationtest.WriteProject(t, automationtest.Files())
	amis := automationtest.Seed(t, sb, dir) // the one-region bake
	clients := awsapi.NewClients(sb.Config)
	ctx := context.Background()

	two := automationtest.WithRegions(automationtest.Files(), automationtest.Region, automationtest.CopyRegion)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "amibake.hcl"), []byte(two["amibake.hcl"]), 0o644))

	code, out, errOut := clitest.Run(t, sb, dir, "bake", "--dry-run")
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `linux\s+reuse\+copy\s+up-to-date\s+ami-\w+; no copy in eu-west-1`, out)
	assert.Equal(t, 0, sb.CountFirstAttempts("ec2", "CopyImage"), "dry run")

	code, out, errOut = clitest.Run(t, sb, dir, "-o", "json", "bake")
	require.Equal(t, 0, code, "stderr:\n%s\nstdout:\n%s", errOut, out)
	var rep struct {
		Built, Reused int
		Results       []*bake.Result
	}
	require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
	assert.Equal(t, 0, rep.Built)
	assert.Equal(t, 2, rep.Reused)
	assert.Equal(t, 2, sb.CountFirstAttempts("ec2", "CopyImage"), "one copy per layer, into the new region")
	assert.Equal(t, 0, sb.CountFirstAttempts("ec2", "RunInstances"), "nothing built")
	require.Len(t, rep.Results, 2)
	for _, r := range rep.Results {
		assert.Equal(t, bake.StatusReused, r.Status, r.Error)
		assert.Equal(t, []string{automationtest.CopyRegion}, r.Copied)
		assert.Contains(t, r.Detail, "copied to "+automationtest.CopyRegion)
		home, cp := r.AMI[automationtest.Region], r.AMI[automationtest.CopyRegion]
		assert.Equal(t, amis[r.Layer], home)
		require.NotEmpty(t, cp, r.Layer)
		out, err := clients.EC2(automationtest.CopyRegion).DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{cp}})
		require.NoError(t, err)
		require.Len(t, out.Images, 1)
		img := out.Images[0]
		assert.Equal(t, ec2types.ImageStateAvailable, img.State, "available before the layer is reported")
		src, err := clients.EC2(automationtest.Region).DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{home}})
		require.NoError(t, err)
		assert.ElementsMatch(t, src.Images[0].Tags, img.Tags, "%s: the copy carries the build's tags", r.Layer)
		assert.Equal(t, aws.ToString(src.Images[0].Name), aws.ToString(img.Name))
		snaps, err := clients.EC2(automationtest.CopyRegion).DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{
			SnapshotIds: []string{aws.ToString(img.BlockDeviceMappings[0].Ebs.SnapshotId)}})
		require.NoError(t, err)
		assert.Contains(t, snaps.Snapshots[0].Tags, ec2types.Tag{Key: aws.String(lineage.TagBuildID), Value: aws.String("b-seed-" + r.Layer)})
		assert.Equal(t, home, channelIn(t, clients, automationtest.Region, r.Layer), "latest stays on the build region's AMI")
	}

	code, out, errOut = clitest.Run(t, sb, dir, "-o", "json", "bake")
	require.Equal(t, 0, code, "stderr:\n%s\nstdout:\n%s", errOut, out)
	assert.Equal(t, 2, sb.CountFirstAttempts("ec2", "CopyImage"), "the plan finds the copies: none again")
	for layer := range amis {
		out, err := clients.SSM(automationtest.Region).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(automationtest.Paths.Channel(layer, lineage.ChannelLatest))})
		require.NoError(t, err)
		assert.Equal(t, int64(1), out.Parameter.Version, "%s: latest was never rewritten", layer)
	}
}

func channelIn(t *testing.T, clients *awsapi.Clients, region, layer string) string {
	t.Helper()
	out, err := clients.SSM(region).GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String(automationtest.Paths.Channel(layer, lineage.ChannelLatest))})
	require.NoError(t, err)
	return aws.ToString(out.Parameter.Value)
}
