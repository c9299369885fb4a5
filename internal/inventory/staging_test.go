package inventory_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
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

// launch starts a managed, running instance of ami and returns its id.
func launch(t *testing.T, sb *sandbox.Sandbox, ami string) string {
	t.Helper()
	var id string
	var pending time.Duration
	sb.Do(func(w *sandbox.World) {
		inst, err := w.RunInstance(sandbox.LaunchSpec{Account: sandbox.DefaultAccount, Region: region, ImageID: ami, InstanceType: "t3.small",
			Tags: sandbox.Tags{lineage.TagRole: lineage.RoleBuild}}, sb.Clock().Now())
		if err != nil { // a typed *APIError
			t.Fatalf("launch from %s: %v", ami, err)
		}
		id, pending = inst.ID, w.Timing.InstancePending
	})
	sb.AdvanceClock(pending)
	return id
}

func stagedExists(t *testing.T, s3c awsapi.S3, buildID string) bool {
	t.Helper()
	_, err := s3c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(inventory.StagingKey(channeltest.Project, buildID))})
	var nsk *s3types.NoSuchKey
	if errors.As(err, &nsk) {
		return false
	}
	require.NoError(t, err)
	return true
}

// TestGatherStageFinalize is the bake's inventory path: gather on the
// build instance (an AWS-GatherSoftwareInventory association, deleted
// afterwards), stage under the build id, then — once the AMI exists —
// finalize into <ami>.json with the checksum tag, staging deleted. A second
// Finalize keeps the document.
func TestGatherStageFinalize(t *testing.T) {
	sb := sandbox.Start(t)
	ctx := context.Background()
	fam := channeltest.SeedFamily(t, sb, channeltest.Project, "ami-source")
	ami := fam.AppWeb.Home()
	inventorytest.SetContent(t, sb, []string{ami}, basePkgs, []lineage.RecipeVersion{{Name: "nginx_runtime", Version: "1.3.0"}})
	inventorytest.CreateBucket(t, sb, region, bucket)
	clients := awsapi.NewClients(sb.Config)
	s3c := clients.S3(region)

	instance := launch(t, sb, ami)
	sb.ResetLog()
	g, err := inventory.Gather(ctx, clients.SSMAssociations(region), clients.SSMInventory(region), instance,
		inventory.GatherOptions{Name: "amibake-inventory-b1-app-web", Poll: time.Millisecond, Timeout: 5 * time.Second})
	require.NoError(t, err)
	assert.Len(t, g.Packages, len(basePkgs))
	assert.Equal(t, 1, sb.CountFirstAttempts("ssm", "CreateAssociation"))
	assert.Equal(t, 1, sb.CountFirstAttempts("ssm", "DeleteAssociation"), "the gather association does not outlive the build")
	sb.Do(func(w *sandbox.World) { assert.Empty(t, w.Associations(sandbox.DefaultAccount, region)) })

	buildID := fam.AppWeb.BuildID
	url, err := inventory.Stage(ctx, s3c, bucket, channeltest.Project, buildID, instance, g)
	require.NoError(t, err)
	assert.Equal(t, "s3://"+bucket+"/acme-golden/inventory/staging/"+buildID+".json", url)
	assert.True(t, stagedExists(t, s3c, buildID))

	// The AMI exists now (seeded with the build id tag the bake gives it).
	img := describe(t, sb, ami)
	require.Equal(t, buildID, img.Tags[lineage.TagBuildID])
	f, err := inventory.Finalize(ctx, s3c, clients.EC2(region), bucket, channeltest.Project, img)
	require.NoError(t, err)
	require.NoError(t, f.StagingErr)
	assert.False(t, f.Kept)
	assert.Equal(t, inventory.URL(bucket, channeltest.Project, ami), f.URL)
	assert.False(t, stagedExists(t, s3c, buildID), "staging deleted once the document is stored")

	img = describe(t, sb, ami)
	assert.Equal(t, f.SHA256, img.Tags[inventory.TagSHA256])
	doc, err := inventory.Load(ctx, s3c, bucket, channeltest.Project, img)
	require.NoError(t, err)
	assert.Equal(t, g.Packages, doc.Packages)
	assert.Equal(t, instance, doc.InstanceID)
	assert.Equal(t, buildID, doc.BuildID)
	assert.Equal(t, "app-web", doc.Layer)
	assert.Equal(t, []inventory.Recipe{{Name: "nginx_runtime", Version: "1.3.0"}}, doc.Recipes)
	assert.Equal(t, g.CaptureTime.UTC().Truncate(time.Second), doc.CollectedAt)

	// Re-run: the verified document is kept, nothing is written.
	sb.ResetLog()
	again, err := inventory.Finalize(ctx, s3c, clients.EC2(region), bucket, channeltest.Project, img)
	require.NoError(t, err)
	assert.True(t, again.Kept)
	assert.Equal(t, f.SHA256, again.SHA256)
	assert.Zero(t, sb.CountFirstAttempts("s3", "PutObject"))
	assert.Zero(t, sb.CountFirstAttempts("ec2", "CreateTags"))
}

// TestFinalizeFailureLeavesStaging: when the document cannot be written the
// AMI gets no checksum tag and the staged inventory stays for the next
// bake, whose Finalize records it and removes the staging object.
func TestFinalizeFailureLeavesStaging(t *testing.T) {
	sb := sandbox.Start(t)
	ctx := context.Background()
	fam := channeltest.SeedFamily(t, sb, channeltest.Project, "ami-source")
	ami := fam.Base.Home()
	inventorytest.SetContent(t, sb, []string{ami}, basePkgs, nil)
	inventorytest.CreateBucket(t, sb, region, bucket)
	clients := awsapi.NewClients(sb.Config)
	s3c := clients.S3(region)
	buildID := fam.Base.BuildID
	g := &inventory.Gathered{Packages: []inventory.Package{{Name: "bash", Version: "5.2.15-1.amzn2023.0.2", Arch: "x86_64"}},
		CaptureTime: sb.Clock().Now()}
	_, err := inventory.Stage(ctx, s3c, bucket, channeltest.Project, buildID, "i-0123456789abcdef0", g)
	require.NoError(t, err)

	sb.SetFaults(sandbox.FaultRule{Service: "s3", Action: "PutObject", ErrorRate: 1, ErrorStatus: http.StatusForbidden})
	_, err = inventory.Finalize(ctx, s3c, clients.EC2(region), bucket, channeltest.Project, describe(t, sb, ami))
	require.Error(t, err)
	assert.Contains(t, err.Error(), inventory.URL(bucket, channeltest.Project, ami))
	assert.Empty(t, describe(t, sb, ami).Tags[inventory.TagSHA256], "no tag names a document that was not written")
	assert.True(t, stagedExists(t, s3c, buildID), "the staged inventory is kept for the next bake")

	sb.SetFaults()
	f, err := inventory.Finalize(ctx, s3c, clients.EC2(region), bucket, channeltest.Project, describe(t, sb, ami))
	require.NoError(t, err)
	assert.False(t, f.Kept)
	assert.False(t, stagedExists(t, s3c, buildID))
	doc, err := inventory.Load(ctx, s3c, bucket, channeltest.Project, describe(t, sb, ami))
	require.NoError(t, err)
	assert.Equal(t, g.Packages, doc.Packages)

	// An AMI with neither a document nor a staged one says so.
	_, err = inventory.Finalize(ctx, s3c, clients.EC2(region), bucket, channeltest.Project, describe(t, sb, fam.Linux.Home()))
	var ns *inventory.NoStagingError
	require.ErrorAs(t, err, &ns)
	assert.Equal(t, fam.Linux.Home(), ns.AMI)
}

// TestGatherWaitsForAFreshCapture: an inventory captured before the gather
// association existed is not taken for the build's; with no newer capture
// Gather times out naming the association, and deletes it.
func TestGatherWaitsForAFreshCapture(t *testing.T) {
	sb := sandbox.Start(t)
	ctx := context.Background()
	fam := channeltest.SeedFamily(t, sb, channeltest.Project, "ami-source")
	instance := launch(t, sb, fam.Base.Home())
	clients := awsapi.NewClients(sb.Config)
	// An agent's earlier upload wins over the sandbox's derived inventory.
	old := sb.Clock().Now().Add(-time.Hour).UTC().Format("2006-01-02T15:04:05Z")
	_, err := clients.SSMInventory(region).(*ssm.Client).PutInventory(ctx, &ssm.PutInventoryInput{InstanceId: aws.String(instance),
		Items: []ssmtypes.InventoryItem{{TypeName: aws.String(inventory.TypeApplication), SchemaVersion: aws.String("1.1"), CaptureTime: aws.String(old),
			Content: []map[string]string{{"Name": "bash", "Version": "5.2.15", "Release": "1.amzn2023.0.2"}}}}})
	require.NoError(t, err)

	_, err = inventory.Gather(ctx, clients.SSMAssociations(region), clients.SSMInventory(region), instance,
		inventory.GatherOptions{Poll: 5 * time.Millisecond, Timeout: 100 * time.Millisecond})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no AWS:Application capture after")
	assert.Contains(t, err.Error(), old)
	sb.Do(func(w *sandbox.World) { assert.Empty(t, w.Associations(sandbox.DefaultAccount, region)) })
}
