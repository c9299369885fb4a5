package sandbox

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func nameFilter(pattern string) types.Filter {
	return types.Filter{Name: aws.String("name"), Values: []string{pattern}}
}

func filter(name string, values ...string) types.Filter {
	return types.Filter{Name: aws.String(name), Values: values}
}

func imageIDs(imgs []types.Image) []string {
	var ids []string
	for _, i := range imgs {
		ids = append(ids, aws.ToString(i.ImageId))
	}
	return ids
}

func tagMap(tags []types.Tag) map[string]string {
	m := map[string]string{}
	for _, t := range tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

func TestSeededAmazonLinuxImages(t *testing.T) {
	sb := Start(t)
	c := ec2Client(sb)
	out, err := c.DescribeImages(ctx, &ec2.DescribeImagesInput{
		Owners:  []string{"amazon"},
		Filters: []types.Filter{nameFilter("al2023-ami-2023.*-kernel-6.1-x86_64")},
	})
	require.NoError(t, err)
	require.Len(t, out.Images, 3, "four releases, the oldest deprecated and hidden")
	for _, img := range out.Images {
		assert.Equal(t, AmazonAccount, aws.ToString(img.OwnerId))
		assert.Equal(t, "amazon", aws.ToString(img.ImageOwnerAlias))
		assert.True(t, aws.ToBool(img.Public))
		assert.Equal(t, types.ImageStateAvailable, img.State)
		assert.Equal(t, types.ArchitectureValuesX8664, img.Architecture)
		assert.Equal(t, types.ImdsSupportValuesV20, img.ImdsSupport)
		assert.Equal(t, types.DeviceTypeEbs, img.RootDeviceType)
		assert.Equal(t, types.VirtualizationTypeHvm, img.VirtualizationType)
		assert.Regexp(t, `^al2023-ami-2023\.\d+\.\d{8}\.0-kernel-6\.1-x86_64$`, aws.ToString(img.Name))
		require.Len(t, img.BlockDeviceMappings, 1)
		ebs := img.BlockDeviceMappings[0].Ebs
		assert.Equal(t, int32(8), aws.ToInt32(ebs.VolumeSize))
		assert.Equal(t, types.VolumeTypeGp3, ebs.VolumeType)
		assert.Regexp(t, `^snap-`, aws.ToString(ebs.SnapshotId))
		created, err := time.Parse(ec2TimeFormat, aws.ToString(img.CreationDate))
		require.NoError(t, err)
		assert.True(t, created.Before(sb.Clock().Now()))
		assert.NotEmpty(t, aws.ToString(img.DeprecationTime), "public AL2023 images carry a deprecation time")
	}

	withOld, err := c.DescribeImages(ctx, &ec2.DescribeImagesInput{
		Owners: []string{"amazon"}, IncludeDeprecated: aws.Bool(true),
		Filters: []types.Filter{nameFilter("al2023-ami-2023.*-kernel-6.1-x86_64")},
	})
	require.NoError(t, err)
	assert.Len(t, withOld.Images, 4)

	arm, err := c.DescribeImages(ctx, &ec2.DescribeImagesInput{
		Owners:  []string{"amazon"},
		Filters: []types.Filter{nameFilter("al2023-ami-minimal-*"), filter("architecture", "arm64")},
	})
	require.NoError(t, err)
	assert.Len(t, arm.Images, 3)

	// Every region has its own images with their own ids; content is seeded.
	eu, err := ec2ClientFor(sb, DefaultAccount, "eu-west-1").DescribeImages(ctx, &ec2.DescribeImagesInput{
		Owners: []string{"amazon"}, Filters: []types.Filter{nameFilter("al2023-ami-2023.*-kernel-6.1-x86_64")},
	})
	require.NoError(t, err)
	require.Len(t, eu.Images, 3)
	assert.Empty(t, intersect(imageIDs(out.Images), imageIDs(eu.Images)))
	sb.Do(func(w *World) {
		img := w.EC2.Images[aws.ToString(out.Images[0].ImageId)]
		assert.NotEmpty(t, img.Content.Packages)
	})
}

func intersect(a, b []string) []string {
	var out []string
	for _, x := range a {
		if ec2Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func TestPublishAmazonLinuxRelease(t *testing.T) {
	sb := Start(t)
	c := ec2Client(sb)
	before := ec2LatestAL2023(t, c)
	var published map[string]*Image
	sb.Do(func(w *World) {
		published = w.PublishAmazonLinuxRelease("2023.10.20270101", sb.Clock().Now())
		again := w.PublishAmazonLinuxRelease("2023.10.20270101.0", sb.Clock().Now())
		assert.Equal(t, published["us-east-1/x86_64"].ID, again["us-east-1/x86_64"].ID, "idempotent")
		assert.Equal(t, published["us-east-1/x86_64"].ID, w.LatestAmazonLinux("us-east-1", "x86_64", false).ID)
		assert.Equal(t, published["us-east-1/minimal/arm64"].ID, w.LatestAmazonLinux("us-east-1", "arm64", true).ID)
		assert.Equal(t, "2023.10.20270101", w.AmazonLinuxReleases("eu-west-1")[4])
	})
	assert.Len(t, published, len(DefaultRegions)*4)
	after := ec2LatestAL2023(t, c)
	assert.NotEqual(t, aws.ToString(before.ImageId), aws.ToString(after.ImageId))
	assert.Equal(t, published["us-east-1/x86_64"].ID, aws.ToString(after.ImageId))
	assert.Equal(t, "al2023-ami-2023.10.20270101.0-kernel-6.1-x86_64", aws.ToString(after.Name))
}

func TestDescribeImagesPaginator(t *testing.T) {
	sb := Start(t)
	c := ec2Client(sb)
	all, err := c.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"amazon"}, IncludeDeprecated: aws.Bool(true)})
	require.NoError(t, err)
	require.Len(t, all.Images, 16)

	p := ec2.NewDescribeImagesPaginator(c, &ec2.DescribeImagesInput{
		Owners: []string{"amazon"}, IncludeDeprecated: aws.Bool(true), MaxResults: aws.Int32(6),
	})
	var ids []string
	pages := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		require.NoError(t, err)
		assert.LessOrEqual(t, len(page.Images), 6)
		ids = append(ids, imageIDs(page.Images)...)
		pages++
	}
	assert.Equal(t, 3, pages)
	assert.ElementsMatch(t, imageIDs(all.Images), ids)

	_, err = c.DescribeImages(ctx, &ec2.DescribeImagesInput{MaxResults: aws.Int32(3)})
	ec2RequireCode(t, err, "InvalidParameterValue")
	_, err = c.DescribeImages(ctx, &ec2.DescribeImagesInput{NextToken: aws.String("bogus!")})
	ec2RequireCode(t, err, "InvalidPaginationToken")
	_, err = c.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: ids[:1], MaxResults: aws.Int32(10)})
	ec2RequireCode(t, err, "InvalidParameterCombination")
}

func TestDescribeImagesFiltersAndVisibility(t *testing.T) {
	sb := Start(t)
	c := ec2Client(sb)
	mine := ec2BakeImage(t, c, "team-web-001")
	_, err := c.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{mine},
		Tags: []types.Tag{{Key: aws.String("amibake:layer"), Value: aws.String("web")}, {Key: aws.String("flag"), Value: aws.String("")}}})
	require.NoError(t, err)

	cases := []struct {
		name string
		in   ec2.DescribeImagesInput
		want int
	}{
		{"owners self", ec2.DescribeImagesInput{Owners: []string{"self"}}, 1},
		{"owner by account id", ec2.DescribeImagesInput{Owners: []string{DefaultAccount}}, 1},
		{"no owners: own and public", ec2.DescribeImagesInput{}, 13},
		{"tag:K", ec2.DescribeImagesInput{Filters: []types.Filter{filter("tag:amibake:layer", "web")}}, 1},
		{"tag:K wildcard", ec2.DescribeImagesInput{Filters: []types.Filter{filter("tag:amibake:layer", "w?b")}}, 1},
		{"tag:K other value", ec2.DescribeImagesInput{Filters: []types.Filter{filter("tag:amibake:layer", "db")}}, 0},
		{"tag-key", ec2.DescribeImagesInput{Filters: []types.Filter{filter("tag-key", "flag")}}, 1},
		{"tag-value", ec2.DescribeImagesInput{Filters: []types.Filter{filter("tag-value", "we*")}}, 1},
		{"name wildcard", ec2.DescribeImagesInput{Filters: []types.Filter{nameFilter("team-*-00?")}}, 1},
		{"values are ORed", ec2.DescribeImagesInput{Owners: []string{"self", "amazon"}, Filters: []types.Filter{filter("architecture", "arm64", "x86_64")}}, 13},
		{"filters are ANDed", ec2.DescribeImagesInput{Filters: []types.Filter{filter("architecture", "arm64"), nameFilter("team-*")}}, 0},
		{"is-public", ec2.DescribeImagesInput{Filters: []types.Filter{filter("is-public", "false")}}, 1},
		{"owner-alias", ec2.DescribeImagesInput{Filters: []types.Filter{filter("owner-alias", "amazon")}}, 12},
		{"state", ec2.DescribeImagesInput{Filters: []types.Filter{filter("state", "pending")}}, 0},
		{"root-device-type", ec2.DescribeImagesInput{Owners: []string{"self"}, Filters: []types.Filter{filter("root-device-type", "ebs")}}, 1},
		{"virtualization-type", ec2.DescribeImagesInput{Owners: []string{"self"}, Filters: []types.Filter{filter("virtualization-type", "hvm")}}, 1},
		{"image-id", ec2.DescribeImagesInput{Filters: []types.Filter{filter("image-id", mine)}}, 1},
		{"executable by all", ec2.DescribeImagesInput{ExecutableUsers: []string{"all"}}, 12},
		{"executable by self: only shared ones", ec2.DescribeImagesInput{ExecutableUsers: []string{"self"}}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			out, err := c.DescribeImages(ctx, &in)
			require.NoError(t, err)
			assert.Len(t, out.Images, tc.want, "%v", imageIDs(out.Images))
		})
	}

	_, err = c.DescribeImages(ctx, &ec2.DescribeImagesInput{Filters: []types.Filter{filter("colour", "blue")}})
	ec2RequireCode(t, err, "InvalidParameterValue")
	_, err = c.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"someone"}})
	ec2RequireCode(t, err, "InvalidUserID.Malformed")

	// Another account sees the public images but not this private one.
	other := ec2ClientFor(sb, ec2OtherAccount, DefaultRegion)
	out, err := other.DescribeImages(ctx, &ec2.DescribeImagesInput{})
	require.NoError(t, err)
	assert.Len(t, out.Images, 12)
	assert.NotContains(t, imageIDs(out.Images), mine)
	_, err = other.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{mine}})
	ec2RequireCode(t, err, "InvalidAMIID.NotFound")

	// Images are regional.
	_, err = ec2ClientFor(sb, DefaultAccount, "eu-west-1").DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{mine}})
	ec2RequireCode(t, err, "InvalidAMIID.NotFound")
}

func TestDescribeImagesByIDErrors(t *testing.T) {
	sb := Start(t)
	c := ec2Client(sb)
	_, err := c.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{"ami-xyz"}})
	ec2RequireCode(t, err, "InvalidAMIID.Malformed")
	_, err = c.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{"ami-0123456789abcdef0"}})
	ec2RequireCode(t, err, "InvalidAMIID.NotFound")
	assert.Contains(t, err.Error(), "ami-0123456789abcdef0")

	// Deprecated public images are returned when asked for by id.
	old, err := c.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"amazon"}, IncludeDeprecated: aws.Bool(true),
		Filters: []types.Filter{nameFilter("al2023-ami-2023.6.*-x86_64")}})
	require.NoError(t, err)
	require.Len(t, old.Images, 1)
	byID, err := c.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: imageIDs(old.Images)})
	require.NoError(t, err)
	assert.Len(t, byID.Images, 1)
}

func TestCreateImageLifecycleOnManualClock(t *testing.T) {
	sb := ec2ManualSandbox(t)
	c := ec2Client(sb)
	inst := ec2RunOne(t, c)
	id := aws.ToString(inst.InstanceId)
	_, err := c.CreateImage(ctx, &ec2.CreateImageInput{InstanceId: inst.InstanceId, Name: aws.String("too-early")})
	ec2RequireCode(t, err, "IncorrectInstanceState")

	sb.AdvanceClock(RealisticTiming().InstancePending)
	// A step ran on the instance: the image must carry it.
	sb.Do(func(w *World) {
		w.EC2.Instances[id].Content.Steps = append(w.EC2.Instances[id].Content.Steps, ContentStep{Name: "harden", Digest: "sha256:1"})
		w.EC2.Instances[id].Content.Packages["nginx"] = "1.24.0-1.amzn2023"
	})
	out, err := c.CreateImage(ctx, &ec2.CreateImageInput{
		InstanceId: inst.InstanceId, Name: aws.String("web-2026.03.01"), Description: aws.String("web layer"), NoReboot: aws.Bool(true),
		TagSpecifications: []types.TagSpecification{
			{ResourceType: types.ResourceTypeImage, Tags: []types.Tag{{Key: aws.String("amibake:layer"), Value: aws.String("web")}}},
			{ResourceType: types.ResourceTypeSnapshot, Tags: []types.Tag{{Key: aws.String("kind"), Value: aws.String("root")}}},
		},
	})
	require.NoError(t, err)
	imageID := aws.ToString(out.ImageId)

	img := describeImage(t, c, imageID)
	assert.Equal(t, types.ImageStatePending, img.State)
	assert.Equal(t, "web layer", aws.ToString(img.Description))
	assert.Equal(t, DefaultAccount, aws.ToString(img.OwnerId))
	assert.Equal(t, id, aws.ToString(img.SourceInstanceId))
	assert.Equal(t, "web", tagMap(img.Tags)["amibake:layer"])
	snapID := aws.ToString(img.BlockDeviceMappings[0].Ebs.SnapshotId)
	snaps, err := c.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{snapID}})
	require.NoError(t, err)
	assert.Equal(t, types.SnapshotStatePending, snaps.Snapshots[0].State)
	assert.Equal(t, "root", tagMap(snaps.Snapshots[0].Tags)["kind"])

	_, err = c.CreateImage(ctx, &ec2.CreateImageInput{InstanceId: inst.InstanceId, Name: aws.String("web-2026.03.01")})
	ec2RequireCode(t, err, "InvalidAMIName.Duplicate")
	_, err = c.CreateImage(ctx, &ec2.CreateImageInput{InstanceId: inst.InstanceId, Name: aws.String("x")})
	ec2RequireCode(t, err, "InvalidAMIName.Malformed")
	_, err = c.CreateImage(ctx, &ec2.CreateImageInput{InstanceId: aws.String("i-0123456789abcdef0"), Name: aws.String("abc")})
	ec2RequireCode(t, err, "InvalidInstanceID.NotFound")

	// The waiter keeps polling while pending; time moves and it finishes.
	sb.AdvanceClock(RealisticTiming().ImageCreate - time.Second)
	assert.Equal(t, types.ImageStatePending, describeImage(t, c, imageID).State)
	done := make(chan error, 1)
	go func() {
		done <- ec2.NewImageAvailableWaiter(c, ec2FastImageWaiter).Wait(ctx, &ec2.DescribeImagesInput{ImageIds: []string{imageID}}, 10*time.Second)
	}()
	time.Sleep(30 * time.Millisecond)
	sb.AdvanceClock(time.Second)
	require.NoError(t, <-done)
	snaps, err = c.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{snapID}})
	require.NoError(t, err)
	assert.Equal(t, types.SnapshotStateCompleted, snaps.Snapshots[0].State)
	assert.Equal(t, "100%", aws.ToString(snaps.Snapshots[0].Progress))

	sb.Do(func(w *World) {
		got := w.EC2.Images[imageID].Content
		assert.Equal(t, []ContentStep{{Name: "harden", Digest: "sha256:1"}}, got.Steps)
		assert.Equal(t, "1.24.0-1.amzn2023", got.Packages["nginx"])
		// The image holds a copy, not the instance's live content.
		w.EC2.Instances[id].Content.Packages["nginx"] = "changed"
		assert.Equal(t, "1.24.0-1.amzn2023", w.EC2.Images[imageID].Content.Packages["nginx"])
	})
}

func describeImage(t *testing.T, c *ec2.Client, id string) types.Image {
	t.Helper()
	out, err := c.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{id}})
	require.NoError(t, err)
	require.Len(t, out.Images, 1)
	return out.Images[0]
}

func TestCreateImageBlockDeviceMappings(t *testing.T) {
	sb := Start(t)
	c := ec2Client(sb)
	inst := ec2RunOne(t, c, func(in *ec2.RunInstancesInput) {
		in.BlockDeviceMappings = []types.BlockDeviceMapping{
			{DeviceName: aws.String("/dev/xvda"), Ebs: &types.EbsBlockDevice{VolumeSize: aws.Int32(20)}},
			{DeviceName: aws.String("/dev/sdb"), Ebs: &types.EbsBlockDevice{VolumeSize: aws.Int32(5), VolumeType: types.VolumeTypeGp3}},
		}
	})
	out, err := c.CreateImage(ctx, &ec2.CreateImageInput{InstanceId: inst.InstanceId, Name: aws.String("two-disks"),
		BlockDeviceMappings: []types.BlockDeviceMapping{
			{DeviceName: aws.String("/dev/sdb"), NoDevice: aws.String("")},
			{DeviceName: aws.String("/dev/xvda"), Ebs: &types.EbsBlockDevice{VolumeSize: aws.Int32(30)}},
		}})
	require.NoError(t, err)
	img := describeImage(t, c, aws.ToString(out.ImageId))
	require.Len(t, img.BlockDeviceMappings, 1, "NoDevice dropped /dev/sdb")
	assert.Equal(t, int32(30), aws.ToInt32(img.BlockDeviceMappings[0].Ebs.VolumeSize))

	_, err = c.CreateImage(ctx, &ec2.CreateImageInput{InstanceId: inst.InstanceId, Name: aws.String("shrunk"),
		BlockDeviceMappings: []types.BlockDeviceMapping{{DeviceName: aws.String("/dev/xvda"), Ebs: &types.EbsBlockDevice{VolumeSize: aws.Int32(10)}}}})
	ec2RequireCode(t, err, "InvalidBlockDeviceMapping")
}

func TestImageWaiterFailsOnFailedImage(t *testing.T) {
	sb := ec2ManualSandbox(t)
	c := ec2Client(sb)
	inst := ec2RunOne(t, c)
	sb.AdvanceClock(time.Minute)
	out, err := c.CreateImage(ctx, &ec2.CreateImageInput{InstanceId: inst.InstanceId, Name: aws.String("doomed")})
	require.NoError(t, err)

	// Through the admin HTTP API, as an out-of-process test would.
	resp, err := http.Post(sb.URL()+"/_sandbox/images/"+aws.ToString(out.ImageId)+"/fail", "application/json", strings.NewReader(`{"reason":"Server.InternalError: disk full"}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	err = ec2.NewImageAvailableWaiter(c, ec2FastImageWaiter).Wait(ctx, &ec2.DescribeImagesInput{ImageIds: []string{aws.ToString(out.ImageId)}}, 5*time.Second)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Failure")
	img := describeImage(t, c, aws.ToString(out.ImageId))
	assert.Equal(t, types.ImageStateFailed, img.State)
	require.NotNil(t, img.StateReason)
	assert.Contains(t, aws.ToString(img.StateReason.Message), "disk full")
	assert.Error(t, sb.FailImage("ami-0123456789abcdef0", ""))
}

func TestDeregisterImageKeepsSnapshots(t *testing.T) {
	sb := Start(t)
	c := ec2Client(sb)
	id := ec2BakeImage(t, c, "to-deregister")
	snap := aws.ToString(describeImage(t, c, id).BlockDeviceMappings[0].Ebs.SnapshotId)

	_, err := c.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(snap)})
	ec2RequireCode(t, err, "InvalidSnapshot.InUse")

	_, err = c.DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: aws.String(id)})
	require.NoError(t, err)
	// Recently deregistered: still answered by id, then gone without error.
	assert.Equal(t, types.ImageStateDeregistered, describeImage(t, c, id).State)
	sb.AdvanceClock(ec2DeregisteredVisibleFor + time.Second)
	out, err := c.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{id}})
	require.NoError(t, err)
	assert.Empty(t, out.Images)
	mine, err := c.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"self"}})
	require.NoError(t, err)
	assert.Empty(t, mine.Images)

	// The snapshot survives deregistration and can be deleted now.
	snaps, err := c.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{snap}})
	require.NoError(t, err)
	assert.Len(t, snaps.Snapshots, 1)
	_, err = c.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(snap)})
	require.NoError(t, err)
	_, err = c.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(snap)})
	ec2RequireCode(t, err, "InvalidSnapshot.NotFound")

	// The name is free again; deregistering twice is an error.
	ec2BakeImage(t, c, "to-deregister")
	_, err = c.DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: aws.String(id)})
	ec2RequireCode(t, err, "InvalidAMIID.NotFound")

	// DeleteAssociatedSnapshots removes the image's snapshots with it.
	id2 := ec2BakeImage(t, c, "with-snapshots")
	snap2 := aws.ToString(describeImage(t, c, id2).BlockDeviceMappings[0].Ebs.SnapshotId)
	dr, err := c.DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: aws.String(id2), DeleteAssociatedSnapshots: aws.Bool(true)})
	require.NoError(t, err)
	require.Len(t, dr.DeleteSnapshotResults, 1)
	assert.Equal(t, snap2, aws.ToString(dr.DeleteSnapshotResults[0].SnapshotId))
	assert.Equal(t, types.SnapshotReturnCodesSuccess, dr.DeleteSnapshotResults[0].ReturnCode)
	_, err = c.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{snap2}})
	ec2RequireCode(t, err, "InvalidSnapshot.NotFound")

	// Nobody deregisters Amazon's images.
	_, err = c.DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: ec2LatestAL2023(t, c).ImageId})
	ec2RequireCode(t, err, "AuthFailure")
}

func TestCrossAccountLaunchPermissions(t *testing.T) {
	sb := Start(t)
	a := ec2Client(sb)
	b := ec2ClientFor(sb, ec2OtherAccount, DefaultRegion)
	id := ec2BakeImage(t, a, "shared-golden")

	_, err := b.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{id}})
	ec2RequireCode(t, err, "InvalidAMIID.NotFound")

	_, err = a.ModifyImageAttribute(ctx, &ec2.ModifyImageAttributeInput{ImageId: aws.String(id),
		LaunchPermission: &types.LaunchPermissionModifications{Add: []types.LaunchPermission{{UserId: aws.String(ec2OtherAccount)}}}})
	require.NoError(t, err)

	attr, err := a.DescribeImageAttribute(ctx, &ec2.DescribeImageAttributeInput{ImageId: aws.String(id), Attribute: types.ImageAttributeNameLaunchPermission})
	require.NoError(t, err)
	require.Len(t, attr.LaunchPermissions, 1)
	assert.Equal(t, ec2OtherAccount, aws.ToString(attr.LaunchPermissions[0].UserId))

	shared, err := b.DescribeImages(ctx, &ec2.DescribeImagesInput{ExecutableUsers: []string{"self"}})
	require.NoError(t, err)
	assert.Equal(t, []string{id}, imageIDs(shared.Images))
	byOwner, err := b.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{DefaultAccount}})
	require.NoError(t, err)
	assert.Equal(t, []string{id}, imageIDs(byOwner.Images))
	run, err := b.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(id), InstanceType: types.InstanceTypeT3Micro, MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
	require.NoError(t, err, "B may launch the shared image")
	assert.Equal(t, ec2OtherAccount, aws.ToString(run.OwnerId))

	// Only the owner changes or reads attributes.
	_, err = b.ModifyImageAttribute(ctx, &ec2.ModifyImageAttributeInput{ImageId: aws.String(id), Description: &types.AttributeValue{Value: aws.String("mine now")}})
	ec2RequireCode(t, err, "AuthFailure")
	_, err = b.DescribeImageAttribute(ctx, &ec2.DescribeImageAttributeInput{ImageId: aws.String(id), Attribute: types.ImageAttributeNameLaunchPermission})
	ec2RequireCode(t, err, "AuthFailure")

	_, err = a.ModifyImageAttribute(ctx, &ec2.ModifyImageAttributeInput{ImageId: aws.String(id),
		LaunchPermission: &types.LaunchPermissionModifications{Remove: []types.LaunchPermission{{UserId: aws.String(ec2OtherAccount)}}}})
	require.NoError(t, err)
	_, err = b.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{id}})
	ec2RequireCode(t, err, "InvalidAMIID.NotFound")

	// The legacy flat form (OperationType + UserIds), organisations, public.
	_, err = a.ModifyImageAttribute(ctx, &ec2.ModifyImageAttributeInput{ImageId: aws.String(id), Attribute: aws.String("launchPermission"),
		OperationType: types.OperationTypeAdd, UserIds: []string{ec2OtherAccount}})
	require.NoError(t, err)
	_, err = b.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{id}})
	require.NoError(t, err)
	_, err = a.ModifyImageAttribute(ctx, &ec2.ModifyImageAttributeInput{ImageId: aws.String(id),
		LaunchPermission: &types.LaunchPermissionModifications{Add: []types.LaunchPermission{
			{OrganizationArn: aws.String("arn:aws:organizations::123456789012:organization/o-abc")},
			{Group: types.PermissionGroupAll},
		}}})
	require.NoError(t, err)
	third, err := ec2ClientFor(sb, "333333333333", DefaultRegion).DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{id}})
	require.NoError(t, err)
	assert.True(t, aws.ToBool(third.Images[0].Public))
	attr, err = a.DescribeImageAttribute(ctx, &ec2.DescribeImageAttributeInput{ImageId: aws.String(id), Attribute: types.ImageAttributeNameLaunchPermission})
	require.NoError(t, err)
	assert.Len(t, attr.LaunchPermissions, 3)
	_, err = a.ResetImageAttribute(ctx, &ec2.ResetImageAttributeInput{ImageId: aws.String(id), Attribute: types.ResetImageAttributeNameLaunchPermission})
	require.NoError(t, err)
	_, err = b.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{id}})
	ec2RequireCode(t, err, "InvalidAMIID.NotFound")

	_, err = a.ModifyImageAttribute(ctx, &ec2.ModifyImageAttributeInput{ImageId: aws.String(id),
		LaunchPermission: &types.LaunchPermissionModifications{Add: []types.LaunchPermission{{UserId: aws.String("12345")}}}})
	ec2RequireCode(t, err, "InvalidAMIAttributeItemValue")
	_, err = a.ModifyImageAttribute(ctx, &ec2.ModifyImageAttributeInput{ImageId: aws.String(id)})
	ec2RequireCode(t, err, "MissingParameter")
}

func TestImageAttributesDescriptionAndImds(t *testing.T) {
	sb := Start(t)
	c := ec2Client(sb)
	id := ec2BakeImage(t, c, "attrs")
	assert.Empty(t, describeImage(t, c, id).ImdsSupport, "CreateImage does not inherit IMDS support")
	_, err := c.ModifyImageAttribute(ctx, &ec2.ModifyImageAttributeInput{ImageId: aws.String(id), ImdsSupport: &types.AttributeValue{Value: aws.String("v2.0")}})
	require.NoError(t, err)
	_, err = c.ModifyImageAttribute(ctx, &ec2.ModifyImageAttributeInput{ImageId: aws.String(id), Description: &types.AttributeValue{Value: aws.String("golden")}})
	require.NoError(t, err)
	img := describeImage(t, c, id)
	assert.Equal(t, types.ImdsSupportValuesV20, img.ImdsSupport)
	assert.Equal(t, "golden", aws.ToString(img.Description))

	d, err := c.DescribeImageAttribute(ctx, &ec2.DescribeImageAttributeInput{ImageId: aws.String(id), Attribute: types.ImageAttributeNameDescription})
	require.NoError(t, err)
	assert.Equal(t, "golden", aws.ToString(d.Description.Value))
	d, err = c.DescribeImageAttribute(ctx, &ec2.DescribeImageAttributeInput{ImageId: aws.String(id), Attribute: types.ImageAttributeNameImdsSupport})
	require.NoError(t, err)
	assert.Equal(t, "v2.0", aws.ToString(d.ImdsSupport.Value))
	d, err = c.DescribeImageAttribute(ctx, &ec2.DescribeImageAttributeInput{ImageId: aws.String(id), Attribute: types.ImageAttributeNameBlockDeviceMapping})
	require.NoError(t, err)
	assert.Len(t, d.BlockDeviceMappings, 1)
	d, err = c.DescribeImageAttribute(ctx, &ec2.DescribeImageAttributeInput{ImageId: aws.String(id), Attribute: types.ImageAttributeNameLastLaunchedTime})
	require.NoError(t, err)
	assert.Empty(t, aws.ToString(d.LastLaunchedTime.Value), "never launched")

	_, err = c.ModifyImageAttribute(ctx, &ec2.ModifyImageAttributeInput{ImageId: aws.String(id), ImdsSupport: &types.AttributeValue{Value: aws.String("v1.0")}})
	ec2RequireCode(t, err, "InvalidParameterValue")
	_, err = c.DescribeImageAttribute(ctx, &ec2.DescribeImageAttributeInput{ImageId: aws.String(id), Attribute: "colour"})
	ec2RequireCode(t, err, "InvalidParameterValue")
}

func TestCopyImageToAnotherRegion(t *testing.T) {
	sb := ec2ManualSandbox(t)
	use1 := ec2Client(sb)
	euw1 := ec2ClientFor(sb, DefaultAccount, "eu-west-1")
	inst := ec2RunOne(t, use1)
	sb.AdvanceClock(time.Minute)
	sb.Do(func(w *World) {
		w.EC2.Instances[aws.ToString(inst.InstanceId)].Content.Steps = []ContentStep{{Name: "base", Digest: "d1"}}
	})
	created, err := use1.CreateImage(ctx, &ec2.CreateImageInput{InstanceId: inst.InstanceId, Name: aws.String("golden-base"),
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeImage, Tags: []types.Tag{{Key: aws.String("layer"), Value: aws.String("base")}}}}})
	require.NoError(t, err)
	src := aws.ToString(created.ImageId)

	in := &ec2.CopyImageInput{SourceImageId: aws.String(src), SourceRegion: aws.String("us-east-1"), Name: aws.String("golden-base"),
		ClientToken: aws.String("copy-1"), Encrypted: aws.Bool(true), KmsKeyId: aws.String("arn:aws:kms:eu-west-1:123456789012:key/abc"), CopyImageTags: aws.Bool(true)}
	_, err = euw1.CopyImage(ctx, in)
	ec2RequireCode(t, err, "InvalidAMIID.Unavailable")
	sb.AdvanceClock(RealisticTiming().ImageCreate)

	cp, err := euw1.CopyImage(ctx, in)
	require.NoError(t, err)
	dst := aws.ToString(cp.ImageId)
	assert.NotEqual(t, src, dst)
	again, err := euw1.CopyImage(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, dst, aws.ToString(again.ImageId), "ClientToken makes CopyImage idempotent")

	img := describeImage(t, euw1, dst)
	assert.Equal(t, types.ImageStatePending, img.State)
	assert.Equal(t, src, aws.ToString(img.SourceImageId))
	assert.Equal(t, "us-east-1", aws.ToString(img.SourceImageRegion))
	assert.Equal(t, "[Copied "+src+" from us-east-1] golden-base", aws.ToString(img.Description))
	assert.Equal(t, "base", tagMap(img.Tags)["layer"], "CopyImageTags")
	ebs := img.BlockDeviceMappings[0].Ebs
	assert.True(t, aws.ToBool(ebs.Encrypted))
	assert.Equal(t, "arn:aws:kms:eu-west-1:123456789012:key/abc", aws.ToString(ebs.KmsKeyId))

	sb.AdvanceClock(RealisticTiming().ImageCopy)
	require.NoError(t, ec2.NewImageAvailableWaiter(euw1, ec2FastImageWaiter).Wait(ctx, &ec2.DescribeImagesInput{ImageIds: []string{dst}}, 5*time.Second))
	sb.Do(func(w *World) {
		assert.Equal(t, []ContentStep{{Name: "base", Digest: "d1"}}, w.EC2.Images[dst].Content.Steps)
		assert.Equal(t, "eu-west-1", w.EC2.Images[dst].Region)
	})
	_, err = use1.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{dst}})
	ec2RequireCode(t, err, "InvalidAMIID.NotFound")

	in.ClientToken = aws.String("copy-2")
	_, err = euw1.CopyImage(ctx, in)
	ec2RequireCode(t, err, "InvalidAMIName.Duplicate")
	_, err = euw1.CopyImage(ctx, &ec2.CopyImageInput{SourceImageId: aws.String(src), SourceRegion: aws.String("us-east-1"), Name: aws.String("plain"), KmsKeyId: aws.String("k")})
	ec2RequireCode(t, err, "InvalidParameterDependency")
	_, err = euw1.CopyImage(ctx, &ec2.CopyImageInput{SourceImageId: aws.String("ami-0123456789abcdef0"), SourceRegion: aws.String("us-east-1"), Name: aws.String("nope")})
	ec2RequireCode(t, err, "InvalidAMIID.NotFound")

	// Copying a public Amazon image makes a private copy owned by the caller.
	pub := ec2LatestAL2023(t, use1)
	own, err := euw1.CopyImage(ctx, &ec2.CopyImageInput{SourceImageId: pub.ImageId, SourceRegion: aws.String("us-east-1"), Name: aws.String("my-al2023")})
	require.NoError(t, err)
	mine := describeImage(t, euw1, aws.ToString(own.ImageId))
	assert.Equal(t, DefaultAccount, aws.ToString(mine.OwnerId))
	assert.False(t, aws.ToBool(mine.Public))
	assert.Equal(t, types.ImdsSupportValuesV20, mine.ImdsSupport)
}

func TestImageDeprecation(t *testing.T) {
	sb := ec2ManualSandbox(t)
	a := ec2Client(sb)
	b := ec2ClientFor(sb, ec2OtherAccount, DefaultRegion)
	inst := ec2RunOne(t, a)
	sb.AdvanceClock(time.Minute)
	out, err := a.CreateImage(ctx, &ec2.CreateImageInput{InstanceId: inst.InstanceId, Name: aws.String("retiring")})
	require.NoError(t, err)
	id := aws.ToString(out.ImageId)
	sb.AdvanceClock(RealisticTiming().ImageCreate)
	_, err = a.ModifyImageAttribute(ctx, &ec2.ModifyImageAttributeInput{ImageId: aws.String(id),
		LaunchPermission: &types.LaunchPermissionModifications{Add: []types.LaunchPermission{{UserId: aws.String(ec2OtherAccount)}}}})
	require.NoError(t, err)

	at := sb.Clock().Now().Add(24*time.Hour + 20*time.Second)
	_, err = a.EnableImageDeprecation(ctx, &ec2.EnableImageDeprecationInput{ImageId: aws.String(id), DeprecateAt: aws.Time(at)})
	require.NoError(t, err)
	assert.Equal(t, at.Truncate(time.Minute).Format(ec2TimeFormat), aws.ToString(describeImage(t, a, id).DeprecationTime), "rounded to the minute")

	// Before the time: everyone lists it.
	list, err := b.DescribeImages(ctx, &ec2.DescribeImagesInput{ExecutableUsers: []string{"self"}})
	require.NoError(t, err)
	assert.Len(t, list.Images, 1)

	sb.AdvanceClock(25 * time.Hour)
	list, err = b.DescribeImages(ctx, &ec2.DescribeImagesInput{ExecutableUsers: []string{"self"}})
	require.NoError(t, err)
	assert.Empty(t, list.Images, "deprecated images are hidden from users")
	list, err = b.DescribeImages(ctx, &ec2.DescribeImagesInput{ExecutableUsers: []string{"self"}, IncludeDeprecated: aws.Bool(true)})
	require.NoError(t, err)
	assert.Len(t, list.Images, 1)
	byID, err := b.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{id}})
	require.NoError(t, err)
	assert.Len(t, byID.Images, 1, "by id they are returned")
	own, err := a.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"self"}})
	require.NoError(t, err)
	assert.Len(t, own.Images, 1, "owners always see theirs")
	_, err = b.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(id), InstanceType: types.InstanceTypeT3Micro, MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
	require.NoError(t, err, "deprecated images still launch")

	_, err = a.DisableImageDeprecation(ctx, &ec2.DisableImageDeprecationInput{ImageId: aws.String(id)})
	require.NoError(t, err)
	assert.Empty(t, aws.ToString(describeImage(t, a, id).DeprecationTime))
	list, err = b.DescribeImages(ctx, &ec2.DescribeImagesInput{ExecutableUsers: []string{"self"}})
	require.NoError(t, err)
	assert.Len(t, list.Images, 1)

	_, err = a.EnableImageDeprecation(ctx, &ec2.EnableImageDeprecationInput{ImageId: aws.String(id), DeprecateAt: aws.Time(sb.Clock().Now().Add(-time.Hour))})
	ec2RequireCode(t, err, "InvalidParameterValue")
	_, err = b.EnableImageDeprecation(ctx, &ec2.EnableImageDeprecationInput{ImageId: aws.String(id), DeprecateAt: aws.Time(at.Add(48 * time.Hour))})
	ec2RequireCode(t, err, "AuthFailure")
}

func TestEventualConsistencyHidesNewImagesAndTags(t *testing.T) {
	sb := ec2ManualSandbox(t)
	c := ec2Client(sb)
	inst := ec2RunOne(t, c)
	sb.AdvanceClock(time.Minute)
	sb.SetFaults(FaultRule{Service: "ec2", Action: "CreateImage", InvisibleFor: Duration{5 * time.Second}})
	out, err := c.CreateImage(ctx, &ec2.CreateImageInput{InstanceId: inst.InstanceId, Name: aws.String("eventually")})
	require.NoError(t, err)
	id := aws.ToString(out.ImageId)

	_, err = c.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{id}})
	ec2RequireCode(t, err, "InvalidAMIID.NotFound")
	_, err = c.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{id}, Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
	ec2RequireCode(t, err, "InvalidAMIID.NotFound")
	list, err := c.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"self"}})
	require.NoError(t, err)
	assert.Empty(t, list.Images)

	sb.AdvanceClock(5 * time.Second)
	assert.Equal(t, types.ImageStatePending, describeImage(t, c, id).State)

	// Tags written under the fault exist but are not read back yet.
	sb.SetFaults(FaultRule{Service: "ec2", Action: "CreateTags", InvisibleFor: Duration{3 * time.Second}})
	_, err = c.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{id}, Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
	require.NoError(t, err)
	assert.Empty(t, describeImage(t, c, id).Tags)
	sb.AdvanceClock(3 * time.Second)
	assert.Equal(t, "v", tagMap(describeImage(t, c, id).Tags)["k"])
}

func TestMarkImageBadImpairsInstances(t *testing.T) {
	sb := Start(t)
	c := ec2Client(sb)
	good := ec2BakeImage(t, c, "good")
	bad := ec2BakeImage(t, c, "bad")

	resp, err := http.Post(sb.URL()+"/_sandbox/images/"+bad+"/bad", "application/json", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, err = http.Post(sb.URL()+"/_sandbox/images/ami-0123456789abcdef0/bad", "application/json", nil)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)

	launch := func(img string) string {
		out, err := c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(img), InstanceType: types.InstanceTypeT3Micro, MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
		require.NoError(t, err)
		return aws.ToString(out.Instances[0].InstanceId)
	}
	gi, bi := launch(good), launch(bad)
	st, err := c.DescribeInstanceStatus(ctx, &ec2.DescribeInstanceStatusInput{InstanceIds: []string{gi, bi}})
	require.NoError(t, err)
	status := map[string]types.SummaryStatus{}
	for _, s := range st.InstanceStatuses {
		status[aws.ToString(s.InstanceId)] = s.InstanceStatus.Status
		assert.Equal(t, types.SummaryStatusOk, s.SystemStatus.Status)
	}
	assert.Equal(t, types.SummaryStatusOk, status[gi])
	assert.Equal(t, types.SummaryStatusImpaired, status[bi])

	require.NoError(t, sb.ClearImageBad(bad))
	st, err = c.DescribeInstanceStatus(ctx, &ec2.DescribeInstanceStatusInput{InstanceIds: []string{bi}})
	require.NoError(t, err)
	assert.Equal(t, types.SummaryStatusOk, st.InstanceStatuses[0].InstanceStatus.Status)
	require.NoError(t, sb.MarkImageBad(bad))
	st, err = c.DescribeInstanceStatus(ctx, &ec2.DescribeInstanceStatusInput{InstanceIds: []string{bi}})
	require.NoError(t, err)
	assert.Equal(t, types.SummaryStatusImpaired, st.InstanceStatuses[0].InstanceStatus.Status)
	assert.Error(t, sb.MarkImageBad("ami-0123456789abcdef0"))
}

func TestSnapshotsDescribeCreateShare(t *testing.T) {
	sb := ec2ManualSandbox(t)
	c := ec2Client(sb)
	inst := ec2RunOne(t, c, func(in *ec2.RunInstancesInput) {
		in.TagSpecifications = []types.TagSpecification{{ResourceType: types.ResourceTypeVolume, Tags: []types.Tag{{Key: aws.String("v"), Value: aws.String("1")}}}}
	})
	vol := aws.ToString(inst.BlockDeviceMappings[0].Ebs.VolumeId)
	var ids []string
	for i := 0; i < 7; i++ {
		s, err := c.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: aws.String(vol), Description: aws.String("backup"),
			TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeSnapshot, Tags: []types.Tag{{Key: aws.String("n"), Value: aws.String(string(rune('a' + i)))}}}}})
		require.NoError(t, err)
		assert.Equal(t, types.SnapshotStatePending, s.State)
		assert.Equal(t, vol, aws.ToString(s.VolumeId))
		ids = append(ids, aws.ToString(s.SnapshotId))
	}
	sb.AdvanceClock(RealisticTiming().SnapshotCreate)
	p := ec2.NewDescribeSnapshotsPaginator(c, &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"}, MaxResults: aws.Int32(5)})
	var got []string
	pages := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		require.NoError(t, err)
		for _, s := range page.Snapshots {
			got = append(got, aws.ToString(s.SnapshotId))
			assert.Equal(t, types.SnapshotStateCompleted, s.State)
		}
		pages++
	}
	assert.Equal(t, 2, pages)
	assert.ElementsMatch(t, ids, got)

	f, err := c.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"}, Filters: []types.Filter{filter("tag:n", "c"), filter("volume-id", vol)}})
	require.NoError(t, err)
	require.Len(t, f.Snapshots, 1)
	assert.Equal(t, ids[2], aws.ToString(f.Snapshots[0].SnapshotId))
	amazon, err := c.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{OwnerIds: []string{"amazon"}})
	require.NoError(t, err)
	assert.Empty(t, amazon.Snapshots, "Amazon's image snapshots are not shared")

	other := ec2ClientFor(sb, ec2OtherAccount, DefaultRegion)
	_, err = other.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: ids[:1]})
	ec2RequireCode(t, err, "InvalidSnapshot.NotFound")
	_, err = c.ModifySnapshotAttribute(ctx, &ec2.ModifySnapshotAttributeInput{SnapshotId: aws.String(ids[0]),
		Attribute: types.SnapshotAttributeNameCreateVolumePermission, OperationType: types.OperationTypeAdd, UserIds: []string{ec2OtherAccount}})
	require.NoError(t, err)
	sh, err := other.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{RestorableByUserIds: []string{"self"}})
	require.NoError(t, err)
	assert.Equal(t, ids[:1], []string{aws.ToString(sh.Snapshots[0].SnapshotId)})
	at, err := c.DescribeSnapshotAttribute(ctx, &ec2.DescribeSnapshotAttributeInput{SnapshotId: aws.String(ids[0]), Attribute: types.SnapshotAttributeNameCreateVolumePermission})
	require.NoError(t, err)
	require.Len(t, at.CreateVolumePermissions, 1)
	assert.Equal(t, ec2OtherAccount, aws.ToString(at.CreateVolumePermissions[0].UserId))
	_, err = other.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(ids[0])})
	ec2RequireCode(t, err, "UnauthorizedOperation")

	_, err = c.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{"snap-nope"}})
	ec2RequireCode(t, err, "InvalidSnapshotID.Malformed")
	_, err = c.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String("snap-0123456789abcdef0")})
	ec2RequireCode(t, err, "InvalidSnapshot.NotFound")
	_, err = c.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: aws.String("vol-0123456789abcdef0")})
	ec2RequireCode(t, err, "InvalidVolume.NotFound")
}
