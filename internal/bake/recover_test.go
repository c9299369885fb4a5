package bake_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/bake"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/sandbox"
)

// What a lost machine leaves mid-build: a build instance (stopped), the
// AMI packer made from it and its copy, neither tagged yet; beside them a
// scan instance of a killed patch run, a finished (tagged) AMI of another
// orphaned build, and an untagged AMI of an instance that is no build's.
// Recover terminates both orphans and deregisters exactly the untagged
// AMI of the build and its copy, with their snapshots.
func TestRecoverDeregistersUnfinishedImages(t *testing.T) {
	sb := sandbox.Start(t)
	ctx := context.Background()
	clients := awsapi.NewClients(sb.Config)
	home := ec2.NewFromConfig(sb.ConfigFor(sandbox.DefaultAccount, "us-east-1"))
	away := ec2.NewFromConfig(sb.ConfigFor(sandbox.DefaultAccount, "eu-west-1"))
	cfg := &config.Config{Project: &config.Project{Name: "p", Regions: []string{"us-east-1", "eu-west-1"}},
		Layers: map[string]*config.Layer{"base": {Name: "base"}}}
	source := func() string {
		out, err := home.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"amazon"}})
		require.NoError(t, err)
		require.NotEmpty(t, out.Images)
		return aws.ToString(out.Images[0].ImageId)
	}()
	launch := func(tags map[string]string) string {
		var tl []ec2types.Tag
		for k, v := range tags {
			tl = append(tl, ec2types.Tag{Key: aws.String(k), Value: aws.String(v)})
		}
		out, err := home.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(source), InstanceType: ec2types.InstanceTypeT3Micro,
			MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
			TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance, Tags: tl}}})
		require.NoError(t, err)
		return aws.ToString(out.Instances[0].InstanceId)
	}
	image := func(instance, name string, tags ...ec2types.Tag) string {
		out, err := home.CreateImage(ctx, &ec2.CreateImageInput{InstanceId: aws.String(instance), Name: aws.String(name)})
		require.NoError(t, err)
		id := aws.ToString(out.ImageId)
		if len(tags) > 0 {
			_, err = home.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{id}, Tags: tags})
			require.NoError(t, err)
		}
		return id
	}
	build := map[string]string{lineage.TagProject: "p", lineage.TagRole: lineage.RoleBuild}
	lost := launch(build)
	unfinished := image(lost, "p-base-1")
	require.Eventually(t, func() bool {
		out, err := home.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{unfinished}})
		return err == nil && len(out.Images) == 1 && out.Images[0].State == ec2types.ImageStateAvailable
	}, 10*time.Second, 10*time.Millisecond)
	cp, err := away.CopyImage(ctx, &ec2.CopyImageInput{SourceRegion: aws.String("us-east-1"), SourceImageId: aws.String(unfinished), Name: aws.String("p-base-1")})
	require.NoError(t, err)
	copied := aws.ToString(cp.ImageId)
	finished := image(launch(build), "p-base-2", ec2types.Tag{Key: aws.String(lineage.TagProject), Value: aws.String("p")})
	other := image(launch(map[string]string{"role": "web"}), "hand-made")
	scan := launch(map[string]string{lineage.TagProject: "p", lineage.TagRole: lineage.RoleScan})
	snapshots := func(client *ec2.Client, id string) []string {
		out, err := client.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{id}})
		require.NoError(t, err)
		var ids []string
		for _, img := range out.Images {
			for _, bd := range img.BlockDeviceMappings {
				if bd.Ebs != nil {
					ids = append(ids, aws.ToString(bd.Ebs.SnapshotId))
				}
			}
		}
		return ids
	}
	gone := append(snapshots(home, unfinished), snapshots(away, copied)...)
	require.Len(t, gone, 2)

	rec, err := bake.Recover(ctx, clients, cfg)
	require.NoError(t, err)
	assert.Equal(t, map[string][]string{"us-east-1": {unfinished}, "eu-west-1": {copied}}, rec.DeregisteredImages)
	assert.Len(t, rec.TerminatedInstances["us-east-1"], 3, "two build instances and the scan instance")
	assert.Contains(t, rec.TerminatedInstances["us-east-1"], scan)
	registered := func(client *ec2.Client, id string) bool {
		out, err := client.DescribeImages(ctx, &ec2.DescribeImagesInput{Filters: []ec2types.Filter{{Name: aws.String("image-id"), Values: []string{id}}}})
		require.NoError(t, err)
		return len(out.Images) == 1
	}
	assert.False(t, registered(home, unfinished))
	assert.False(t, registered(away, copied))
	assert.True(t, registered(home, finished), "a tagged AMI is the plan's to adopt")
	assert.True(t, registered(home, other), "not made by a build instance")
	for _, snap := range gone {
		var found bool
		sb.Do(func(w *sandbox.World) { found = w.EC2.Snapshots[snap] != nil })
		assert.False(t, found, "snapshot %s deleted with its AMI", snap)
	}
}
