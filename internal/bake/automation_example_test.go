package bake_test

import (
	"context"
	"encoding/json"
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
	"github.com/amibake/amibake/internal/channel/channeltest"
	"github.com/amibake/amibake/internal/channel/channeltest/clitest"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/sandbox"
)

// The example project (two regions, shared with the prod account, a KMS
// alias) through `patch run --apply --engine automation`: every layer is
// rebaked by the runbook in us-east-1, copied to eu-west-1 and published.
func TestPatchRunEngineAutomationOnExampleProject(t *testing.T) {
	sb := sandbox.Start(t)
	dir := channeltest.CopyProject(t)
	before := automationtest.Seed(t, sb, dir)
	_, err := sb.ReleasePatch(sandbox.PatchRelease{Package: "openssl", Packages: []string{"openssl-libs"}, Severity: "Critical"})
	require.NoError(t, err)
	home, other := channeltest.Regions[0], channeltest.Regions[1]

	code, out, errOut := clitest.Run(t, sb, dir, "-o", "json", "patch", "run", "--apply", "--engine", "automation", "--poll", "5ms")
	require.Equal(t, 0, code, "stderr:\n%s\nstdout:\n%s", errOut, out)
	var rep struct {
		Results []*bake.Result `json:"results"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
	require.Len(t, rep.Results, len(before))
	clients := awsapi.NewClients(sb.Config)
	ctx := context.Background()
	paths := lineage.Paths{Prefix: channeltest.Prefix, Project: channeltest.Project}
	for _, r := range rep.Results {
		require.Equal(t, bake.StatusBuilt, r.Status, "%s: %s", r.Layer, r.Error)
		assert.True(t, r.Verified, r.Layer)
		ami, cp := r.AMI[home], r.AMI[other]
		require.NotEmpty(t, cp, r.Layer)
		assert.NotEqual(t, before[r.Layer], ami)
		ch, err := clients.SSM(home).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(paths.Channel(r.Layer, lineage.ChannelLatest))})
		require.NoError(t, err)
		assert.Equal(t, ami, aws.ToString(ch.Parameter.Value), r.Layer)
		img, err := clients.EC2(other).DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{cp}})
		require.NoError(t, err)
		require.Len(t, img.Images, 1)
		assert.Equal(t, ec2types.ImageStateAvailable, img.Images[0].State)
		assert.Contains(t, img.Images[0].Tags, ec2types.Tag{Key: aws.String(lineage.TagPatchLevel), Value: aws.String(r.PatchLevel)})
		perms, err := clients.EC2(other).DescribeImageAttribute(ctx, &ec2.DescribeImageAttributeInput{ImageId: aws.String(cp),
			Attribute: ec2types.ImageAttributeNameLaunchPermission})
		require.NoError(t, err)
		require.Len(t, perms.LaunchPermissions, 1)
		assert.Equal(t, "111122223333", aws.ToString(perms.LaunchPermissions[0].UserId), "shared with the prod account")
	}
	assert.Equal(t, len(before), sb.CountFirstAttempts("ec2", "CopyImage"))
	assert.Equal(t, len(before), sb.CountFirstAttempts("ssm", "StartAutomationExecution"))
}
