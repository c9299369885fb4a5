package sandbox

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func createWebTemplate(t *testing.T, c *ec2.Client, image string) *types.LaunchTemplate {
	t.Helper()
	sg, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("web"), Description: aws.String("web")})
	require.NoError(t, err)
	out, err := c.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String("web"),
		VersionDescription: aws.String("first"),
		LaunchTemplateData: &types.RequestLaunchTemplateData{
			ImageId: aws.String(image), InstanceType: types.InstanceTypeT3Small,
			SecurityGroupIds:   []string{aws.ToString(sg.GroupId)},
			IamInstanceProfile: &types.LaunchTemplateIamInstanceProfileSpecificationRequest{Name: aws.String("web-profile")},
			MetadataOptions:    &types.LaunchTemplateInstanceMetadataOptionsRequest{HttpTokens: types.LaunchTemplateHttpTokensStateRequired},
			UserData:           aws.String("ZWNobyBoaQ=="),
			TagSpecifications: []types.LaunchTemplateTagSpecificationRequest{
				{ResourceType: types.ResourceTypeInstance, Tags: []types.Tag{{Key: aws.String("app"), Value: aws.String("web")}}},
				{ResourceType: types.ResourceTypeVolume, Tags: []types.Tag{{Key: aws.String("app"), Value: aws.String("web-disk")}}},
			},
			BlockDeviceMappings: []types.LaunchTemplateBlockDeviceMappingRequest{{DeviceName: aws.String("/dev/xvda"),
				Ebs: &types.LaunchTemplateEbsBlockDeviceRequest{VolumeSize: aws.Int32(12), VolumeType: types.VolumeTypeGp3, Encrypted: aws.Bool(true)}}},
		},
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeLaunchTemplate, Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("platform")}}}},
	})
	require.NoError(t, err)
	return out.LaunchTemplate
}

func TestLaunchTemplateVersionsFromSource(t *testing.T) {
	sb := Start(t)
	c := ec2Client(sb)
	oldImage := aws.ToString(ec2LatestAL2023(t, c).ImageId)
	lt := createWebTemplate(t, c, oldImage)
	assert.Regexp(t, `^lt-[0-9a-f]{17}$`, aws.ToString(lt.LaunchTemplateId))
	assert.Equal(t, int64(1), aws.ToInt64(lt.DefaultVersionNumber))
	assert.Equal(t, int64(1), aws.ToInt64(lt.LatestVersionNumber))
	assert.Equal(t, "platform", tagMap(lt.Tags)["team"])

	_, err := c.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("web"),
		LaunchTemplateData: &types.RequestLaunchTemplateData{ImageId: aws.String(oldImage)}})
	ec2RequireCode(t, err, "InvalidLaunchTemplateName.AlreadyExistsException")
	_, err = c.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("no spaces allowed"),
		LaunchTemplateData: &types.RequestLaunchTemplateData{ImageId: aws.String(oldImage)}})
	ec2RequireCode(t, err, "InvalidLaunchTemplateName.MalformedException")

	// A new image: only ImageId changes, everything else is inherited.
	newImage := ec2BakeImage(t, c, "web-v2")
	v2, err := c.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{
		LaunchTemplateId: lt.LaunchTemplateId, SourceVersion: aws.String("$Latest"), VersionDescription: aws.String("web-v2"),
		LaunchTemplateData: &types.RequestLaunchTemplateData{ImageId: aws.String(newImage)},
	})
	require.NoError(t, err)
	ver := v2.LaunchTemplateVersion
	assert.Equal(t, int64(2), aws.ToInt64(ver.VersionNumber))
	assert.False(t, aws.ToBool(ver.DefaultVersion))
	d := ver.LaunchTemplateData
	assert.Equal(t, newImage, aws.ToString(d.ImageId))
	assert.Equal(t, types.InstanceTypeT3Small, d.InstanceType)
	assert.Len(t, d.SecurityGroupIds, 1)
	assert.Equal(t, "web-profile", aws.ToString(d.IamInstanceProfile.Name))
	assert.Equal(t, types.LaunchTemplateHttpTokensStateRequired, d.MetadataOptions.HttpTokens)
	assert.Equal(t, "ZWNobyBoaQ==", aws.ToString(d.UserData))
	require.Len(t, d.TagSpecifications, 2)
	require.Len(t, d.BlockDeviceMappings, 1)
	assert.Equal(t, int32(12), aws.ToInt32(d.BlockDeviceMappings[0].Ebs.VolumeSize))
	assert.True(t, aws.ToBool(d.BlockDeviceMappings[0].Ebs.Encrypted))

	// Without SourceVersion a version has only what it is given.
	v3, err := c.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{
		LaunchTemplateName: aws.String("web"), LaunchTemplateData: &types.RequestLaunchTemplateData{ImageId: aws.String(newImage)}})
	require.NoError(t, err)
	assert.Empty(t, v3.LaunchTemplateVersion.LaunchTemplateData.InstanceType)
	assert.Empty(t, v3.LaunchTemplateVersion.LaunchTemplateData.SecurityGroupIds)

	_, err = c.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{LaunchTemplateId: lt.LaunchTemplateId,
		SourceVersion: aws.String("9"), LaunchTemplateData: &types.RequestLaunchTemplateData{ImageId: aws.String(newImage)}})
	ec2RequireCode(t, err, "InvalidLaunchTemplateId.VersionNotFound")
	_, err = c.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{LaunchTemplateName: aws.String("nope"),
		LaunchTemplateData: &types.RequestLaunchTemplateData{ImageId: aws.String(newImage)}})
	ec2RequireCode(t, err, "InvalidLaunchTemplateName.NotFoundException")
	_, err = c.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{LaunchTemplateId: aws.String("lt-0123456789abcdef0"),
		LaunchTemplateData: &types.RequestLaunchTemplateData{ImageId: aws.String(newImage)}})
	ec2RequireCode(t, err, "InvalidLaunchTemplateId.NotFound")
	_, err = c.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{LaunchTemplateId: aws.String("lt-bad"),
		LaunchTemplateData: &types.RequestLaunchTemplateData{ImageId: aws.String(newImage)}})
	ec2RequireCode(t, err, "InvalidLaunchTemplateId.Malformed")

	// $Default stays 1 until ModifyLaunchTemplate moves it.
	desc := func(versions ...string) []types.LaunchTemplateVersion {
		out, err := c.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateId: lt.LaunchTemplateId, Versions: versions})
		require.NoError(t, err)
		return out.LaunchTemplateVersions
	}
	assert.Equal(t, int64(1), aws.ToInt64(desc("$Default")[0].VersionNumber))
	assert.Equal(t, int64(3), aws.ToInt64(desc("$Latest")[0].VersionNumber))
	assert.Len(t, desc("1", "$Default"), 1, "the same version once")
	mod, err := c.ModifyLaunchTemplate(ctx, &ec2.ModifyLaunchTemplateInput{LaunchTemplateId: lt.LaunchTemplateId, DefaultVersion: aws.String("2")})
	require.NoError(t, err)
	assert.Equal(t, int64(2), aws.ToInt64(mod.LaunchTemplate.DefaultVersionNumber))
	def := desc("$Default")[0]
	assert.Equal(t, int64(2), aws.ToInt64(def.VersionNumber))
	assert.True(t, aws.ToBool(def.DefaultVersion))
	_, err = c.ModifyLaunchTemplate(ctx, &ec2.ModifyLaunchTemplateInput{LaunchTemplateId: lt.LaunchTemplateId, DefaultVersion: aws.String("7")})
	ec2RequireCode(t, err, "InvalidLaunchTemplateId.VersionNotFound")

	// Paginated, newest first; filters.
	p := ec2.NewDescribeLaunchTemplateVersionsPaginator(c, &ec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateId: lt.LaunchTemplateId, MaxResults: aws.Int32(2)})
	var nums []int64
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		require.NoError(t, err)
		for _, v := range page.LaunchTemplateVersions {
			nums = append(nums, aws.ToInt64(v.VersionNumber))
		}
	}
	assert.Equal(t, []int64{3, 2, 1}, nums)
	byImage, err := c.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateName: aws.String("web"),
		Filters: []types.Filter{filter("image-id", newImage)}})
	require.NoError(t, err)
	assert.Len(t, byImage.LaunchTemplateVersions, 2)
	rng, err := c.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateName: aws.String("web"), MinVersion: aws.String("2")})
	require.NoError(t, err)
	assert.Len(t, rng.LaunchTemplateVersions, 2)
	across, err := c.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{Versions: []string{"$Latest"}})
	require.NoError(t, err)
	assert.Len(t, across.LaunchTemplateVersions, 1)
	_, err = c.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{Versions: []string{"1"}})
	ec2RequireCode(t, err, "InvalidParameterCombination")

	// Versions can be deleted, except the default; numbers are not reused.
	del, err := c.DeleteLaunchTemplateVersions(ctx, &ec2.DeleteLaunchTemplateVersionsInput{LaunchTemplateId: lt.LaunchTemplateId, Versions: []string{"3", "2", "8"}})
	require.NoError(t, err)
	require.Len(t, del.SuccessfullyDeletedLaunchTemplateVersions, 1)
	assert.Equal(t, int64(3), aws.ToInt64(del.SuccessfullyDeletedLaunchTemplateVersions[0].VersionNumber))
	require.Len(t, del.UnsuccessfullyDeletedLaunchTemplateVersions, 2)
	v4, err := c.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{LaunchTemplateId: lt.LaunchTemplateId,
		SourceVersion: aws.String("$Default"), LaunchTemplateData: &types.RequestLaunchTemplateData{InstanceType: types.InstanceTypeT3Medium}})
	require.NoError(t, err)
	assert.Equal(t, int64(4), aws.ToInt64(v4.LaunchTemplateVersion.VersionNumber))
	assert.Equal(t, newImage, aws.ToString(v4.LaunchTemplateVersion.LaunchTemplateData.ImageId))
}

func TestDescribeAndDeleteLaunchTemplates(t *testing.T) {
	sb := Start(t)
	c := ec2Client(sb)
	img := aws.ToString(ec2LatestAL2023(t, c).ImageId)
	for _, n := range []string{"a-tmpl", "b-tmpl", "c-tmpl"} {
		_, err := c.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String(n),
			LaunchTemplateData: &types.RequestLaunchTemplateData{ImageId: aws.String(img)}})
		require.NoError(t, err)
	}
	p := ec2.NewDescribeLaunchTemplatesPaginator(c, &ec2.DescribeLaunchTemplatesInput{MaxResults: aws.Int32(2)})
	var names []string
	pages := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		require.NoError(t, err)
		pages++
		for _, lt := range page.LaunchTemplates {
			names = append(names, aws.ToString(lt.LaunchTemplateName))
		}
	}
	assert.ElementsMatch(t, []string{"a-tmpl", "b-tmpl", "c-tmpl"}, names)
	assert.Equal(t, 2, pages)

	byName, err := c.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{LaunchTemplateNames: []string{"b-tmpl"}})
	require.NoError(t, err)
	require.Len(t, byName.LaunchTemplates, 1)
	f, err := c.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{Filters: []types.Filter{filter("launch-template-name", "?-tmpl")}})
	require.NoError(t, err)
	assert.Len(t, f.LaunchTemplates, 3)
	_, err = c.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{LaunchTemplateNames: []string{"zzz"}})
	ec2RequireCode(t, err, "InvalidLaunchTemplateName.NotFoundException")
	_, err = c.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{LaunchTemplateIds: []string{"lt-0123456789abcdef0"}})
	ec2RequireCode(t, err, "InvalidLaunchTemplateId.NotFound")

	other, err := ec2ClientFor(sb, ec2OtherAccount, DefaultRegion).DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{})
	require.NoError(t, err)
	assert.Empty(t, other.LaunchTemplates, "templates are per account")

	del, err := c.DeleteLaunchTemplate(ctx, &ec2.DeleteLaunchTemplateInput{LaunchTemplateName: aws.String("b-tmpl")})
	require.NoError(t, err)
	assert.Equal(t, "b-tmpl", aws.ToString(del.LaunchTemplate.LaunchTemplateName))
	_, err = c.DeleteLaunchTemplate(ctx, &ec2.DeleteLaunchTemplateInput{LaunchTemplateId: del.LaunchTemplate.LaunchTemplateId})
	ec2RequireCode(t, err, "InvalidLaunchTemplateId.NotFound")
	_, err = c.DeleteLaunchTemplate(ctx, &ec2.DeleteLaunchTemplateInput{})
	ec2RequireCode(t, err, "MissingParameter")
}

func TestRunInstancesFromLaunchTemplate(t *testing.T) {
	sb := Start(t)
	c := ec2Client(sb)
	img := aws.ToString(ec2LatestAL2023(t, c).ImageId)
	lt := createWebTemplate(t, c, img)
	out, err := c.RunInstances(ctx, &ec2.RunInstancesInput{MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		LaunchTemplate: &types.LaunchTemplateSpecification{LaunchTemplateName: aws.String("web"), Version: aws.String("$Latest")},
		InstanceType:   types.InstanceTypeT3Large, // explicit parameters win over the template
	})
	require.NoError(t, err)
	inst := out.Instances[0]
	assert.Equal(t, img, aws.ToString(inst.ImageId))
	assert.Equal(t, types.InstanceTypeT3Large, inst.InstanceType)
	tags := tagMap(inst.Tags)
	assert.Equal(t, "web", tags["app"])
	assert.Equal(t, aws.ToString(lt.LaunchTemplateId), tags["aws:ec2launchtemplate:id"])
	assert.Equal(t, "1", tags["aws:ec2launchtemplate:version"])
	assert.Equal(t, "web", aws.ToString(inst.SecurityGroups[0].GroupName))
	vols, err := c.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{Filters: []types.Filter{filter("attachment.instance-id", aws.ToString(inst.InstanceId))}})
	require.NoError(t, err)
	require.Len(t, vols.Volumes, 1)
	assert.Equal(t, int32(12), aws.ToInt32(vols.Volumes[0].Size))
	assert.True(t, aws.ToBool(vols.Volumes[0].Encrypted))
	assert.Equal(t, "web-disk", tagMap(vols.Volumes[0].Tags)["app"])

	// The same resolution Auto Scaling uses.
	sb.Do(func(w *World) {
		spec, e := w.LaunchTemplateSpec(DefaultAccount, DefaultRegion, aws.ToString(lt.LaunchTemplateId), "", "")
		require.Nil(t, e)
		assert.Equal(t, img, spec.ImageID)
		assert.Equal(t, "1", spec.LaunchTemplateVersion)
		assert.Equal(t, "required", spec.HTTPTokens)
		_, e = w.LaunchTemplateSpec(DefaultAccount, DefaultRegion, "", "web", "5")
		require.NotNil(t, e)
		assert.Equal(t, "InvalidLaunchTemplateId.VersionNotFound", e.Code)
	})
	_, err = c.RunInstances(ctx, &ec2.RunInstancesInput{MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		LaunchTemplate: &types.LaunchTemplateSpecification{LaunchTemplateName: aws.String("missing")}})
	ec2RequireCode(t, err, "InvalidLaunchTemplateName.NotFoundException")
}
