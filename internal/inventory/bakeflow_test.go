package inventory_test

import (
	"context"
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
	"github.com/amibake/amibake/internal/inventory"
	"github.com/amibake/amibake/internal/inventory/inventorytest"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/sandbox"
)

// TestInventoryOfARebake walks the bake's path through the APIs: launch a
// build instance from the old app-web AMI, run the new recipe version over
// Run Command (it installs one more package), collect the instance's
// inventory, create and tag the image, store the document. The diff of the
// two recorded inventories names exactly that package and that recipe.
func TestInventoryOfARebake(t *testing.T) {
	sb := sandbox.Start(t)
	ctx := context.Background()
	clients := awsapi.NewClients(sb.Config)
	ec2c := ec2.NewFromConfig(sb.Config)
	ssmc := ssm.NewFromConfig(sb.Config)
	fam := channeltest.SeedFamily(t, sb, channeltest.Project, "ami-source")
	old := fam.AppWeb.Home()
	inventorytest.SetContent(t, sb, []string{old}, inventorytest.BasePackages, []lineage.RecipeVersion{{Name: "nginx_runtime", Version: "1.3.0"}})
	inventorytest.CreateBucket(t, sb, region, bucket)
	inventorytest.Record(t, sb, region, bucket, channeltest.Project, old)

	run, err := ec2c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(old), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		InstanceType: ec2types.InstanceTypeT3Medium})
	require.NoError(t, err)
	instanceID := aws.ToString(run.Instances[0].InstanceId)
	sb.AdvanceClock(time.Minute)

	cmd, err := ssmc.SendCommand(ctx, &ssm.SendCommandInput{
		DocumentName: aws.String("AWS-RunShellScript"), InstanceIds: []string{instanceID},
		Parameters: map[string][]string{"commands": {
			"#!/usr/bin/env bash", "set -euo pipefail", "# amibake-step: nginx_runtime/install",
			"dnf install -y jq",
		}},
	})
	require.NoError(t, err)
	status := ssmtypes.CommandInvocationStatusPending
	for i := 0; i < 120 && status != ssmtypes.CommandInvocationStatusSuccess; i++ {
		sb.AdvanceClock(time.Second)
		inv, err := ssmc.GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{CommandId: cmd.Command.CommandId, InstanceId: aws.String(instanceID)})
		if err == nil {
			status = inv.Status
		}
	}
	require.Equal(t, ssmtypes.CommandInvocationStatusSuccess, status)

	// Collect just before the image is created, as the bake will.
	pkgs, err := inventory.Collect(ctx, ssmc, instanceID)
	require.NoError(t, err)
	img, err := ec2c.CreateImage(ctx, &ec2.CreateImageInput{InstanceId: aws.String(instanceID), Name: aws.String("acme-golden-app-web-b9")})
	require.NoError(t, err)
	newAMI := aws.ToString(img.ImageId)
	bt := lineage.BuildTags{Project: channeltest.Project, Layer: "app-web", Fingerprint: "fp-app-web-b9", BuildID: "b9",
		ParentAMI: fam.Base.Home(), ParentFingerprint: fam.Base.Fingerprint,
		Recipes: []lineage.RecipeVersion{{Name: "nginx_runtime", Version: "1.4.0"}}}
	var tags []ec2types.Tag
	for _, k := range lineage.SortedKeys(bt.Map()) {
		tags = append(tags, ec2types.Tag{Key: aws.String(k), Value: aws.String(bt.Map()[k])})
	}
	_, err = ec2c.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{newAMI}, Tags: tags})
	require.NoError(t, err)
	sb.AdvanceClock(time.Hour)
	doc := inventory.NewDocument(describe(t, sb, newAMI), instanceID, pkgs, sb.Clock().Now())
	_, err = inventory.Store(ctx, clients.S3(region), clients.EC2(region), bucket, channeltest.Project, doc)
	require.NoError(t, err)
	_, err = ec2c.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{instanceID}})
	require.NoError(t, err)

	// Years later: both documents load and verify; the diff is exact.
	imgOld, imgNew := describe(t, sb, old), describe(t, sb, newAMI)
	a, err := inventory.Load(ctx, clients.S3(region), bucket, channeltest.Project, imgOld)
	require.NoError(t, err)
	b, err := inventory.Load(ctx, clients.S3(region), bucket, channeltest.Project, imgNew)
	require.NoError(t, err)
	var jq string
	sb.Do(func(w *sandbox.World) { jq = w.EC2.Images[newAMI].Content.Packages["jq"] })
	require.NotEmpty(t, jq, "the image carries what the recipe installed")

	d := inventory.Compare(a, b, imgOld, imgNew)
	assert.Equal(t, []inventory.PackageChange{{Name: "jq", Arch: "x86_64", To: jq}}, d.Added)
	assert.Empty(t, d.Removed)
	assert.Empty(t, d.Upgraded)
	assert.Empty(t, d.Downgraded)
	assert.Equal(t, []inventory.RecipeChange{{Name: "nginx_runtime", From: "1.3.0", To: "1.4.0"}}, d.Recipes)
	assert.False(t, d.ParentChanged)
	assert.Equal(t, "+1 package, recipe nginx_runtime 1.3.0→1.4.0", d.Summary)
}
