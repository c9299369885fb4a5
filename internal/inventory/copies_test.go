package inventory_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/channel/channeltest"
	"github.com/amibake/amibake/internal/inventory"
	"github.com/amibake/amibake/internal/inventory/inventorytest"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/sandbox"
)

// RecordCopy gives a regional copy its own verified document, naming its
// source; a second call keeps it; a document that no longer matches the
// copy's tag is rewritten from the source's.
func TestRecordCopy(t *testing.T) {
	const copyRegion = "eu-west-1"
	sb := sandbox.Start(t)
	ctx := context.Background()
	fam := channeltest.SeedFamily(t, sb, channeltest.Project, "ami-source")
	home, cp := fam.AppWeb.Home(), fam.AppWeb.IDs[copyRegion]
	require.NotEmpty(t, cp)
	inventorytest.SetContent(t, sb, []string{home}, basePkgs, []lineage.RecipeVersion{{Name: "nginx_runtime", Version: "1.3.0"}})
	inventorytest.CreateBucket(t, sb, region, bucket)
	homeDoc, _ := inventorytest.Record(t, sb, region, bucket, channeltest.Project, home)
	clients := awsapi.NewClients(sb.Config)
	s3c, ec2c := clients.S3(region), clients.EC2(copyRegion)
	describeCopy := func() lineage.Image {
		found, err := lineage.DescribeIDs(ctx, ec2c, copyRegion, []string{cp})
		require.NoError(t, err)
		return found[cp]
	}

	f, err := inventory.RecordCopy(ctx, s3c, ec2c, bucket, channeltest.Project, homeDoc, describeCopy())
	require.NoError(t, err)
	assert.False(t, f.Kept)
	assert.Equal(t, inventory.URL(bucket, channeltest.Project, cp), f.URL)
	img := describeCopy()
	assert.Equal(t, f.SHA256, img.Tags[inventory.TagSHA256])
	doc, err := inventory.Load(ctx, s3c, bucket, channeltest.Project, img)
	require.NoError(t, err)
	assert.Equal(t, cp, doc.AMI)
	assert.Equal(t, copyRegion, doc.Region)
	assert.Equal(t, home, doc.CopyOf)
	assert.Equal(t, homeDoc.Packages, doc.Packages)
	assert.Equal(t, homeDoc.InstanceID, doc.InstanceID)
	assert.Equal(t, homeDoc.CollectedAt, doc.CollectedAt)
	assert.Equal(t, "app-web", doc.Layer)

	sb.ResetLog()
	again, err := inventory.RecordCopy(ctx, s3c, ec2c, bucket, channeltest.Project, homeDoc, img)
	require.NoError(t, err)
	assert.True(t, again.Kept)
	assert.Zero(t, sb.CountFirstAttempts("s3", "PutObject"))

	// Someone rewrote the copy's document: it no longer verifies, and the
	// next record writes it again from the source's.
	_, err = s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(inventory.Key(channeltest.Project, cp)),
		Body: strings.NewReader(`{"schema_version":1,"ami":"` + cp + `","packages":[]}`)})
	require.NoError(t, err)
	var ce *inventory.ChecksumError
	_, err = inventory.Load(ctx, s3c, bucket, channeltest.Project, describeCopy())
	require.ErrorAs(t, err, &ce)
	f, err = inventory.RecordCopy(ctx, s3c, ec2c, bucket, channeltest.Project, homeDoc, describeCopy())
	require.NoError(t, err)
	assert.False(t, f.Kept)
	doc, err = inventory.Load(ctx, s3c, bucket, channeltest.Project, describeCopy())
	require.NoError(t, err)
	assert.Equal(t, homeDoc.Packages, doc.Packages)

	_, err = inventory.RecordCopy(ctx, s3c, ec2c, bucket, channeltest.Project, homeDoc, describe(t, sb, home))
	assert.ErrorContains(t, err, "the source itself")
}
