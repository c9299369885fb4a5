package sandbox

import (
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestKeyPairs(t *testing.T) {
	sb := Start(t)
	c := ec2Client(sb)
	out, err := c.CreateKeyPair(ctx, &ec2.CreateKeyPairInput{KeyName: aws.String("packer_1"), KeyType: types.KeyTypeRsa,
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeKeyPair, Tags: []types.Tag{{Key: aws.String("t"), Value: aws.String("1")}}}}})
	require.NoError(t, err)
	block, _ := pem.Decode([]byte(aws.ToString(out.KeyMaterial)))
	require.NotNil(t, block, "PEM key material")
	_, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	require.NoError(t, err, "a usable RSA key")
	assert.Regexp(t, `^([0-9a-f]{2}:){19}[0-9a-f]{2}$`, aws.ToString(out.KeyFingerprint))
	assert.Regexp(t, `^key-`, aws.ToString(out.KeyPairId))

	ed, err := c.CreateKeyPair(ctx, &ec2.CreateKeyPairInput{KeyName: aws.String("ed"), KeyType: types.KeyTypeEd25519})
	require.NoError(t, err)
	assert.Contains(t, aws.ToString(ed.KeyMaterial), "PRIVATE KEY")

	_, err = c.CreateKeyPair(ctx, &ec2.CreateKeyPairInput{KeyName: aws.String("packer_1")})
	ec2RequireCode(t, err, "InvalidKeyPair.Duplicate")

	imp, err := c.ImportKeyPair(ctx, &ec2.ImportKeyPairInput{KeyName: aws.String("imported"),
		PublicKeyMaterial: []byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl me@host")})
	require.NoError(t, err)
	assert.NotEmpty(t, aws.ToString(imp.KeyFingerprint))
	_, err = c.ImportKeyPair(ctx, &ec2.ImportKeyPairInput{KeyName: aws.String("junk"), PublicKeyMaterial: []byte("not a key")})
	ec2RequireCode(t, err, "InvalidKey.Format")

	all, err := c.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{})
	require.NoError(t, err)
	assert.Len(t, all.KeyPairs, 3)
	one, err := c.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{KeyNames: []string{"packer_1"}, IncludePublicKey: aws.Bool(true)})
	require.NoError(t, err)
	require.Len(t, one.KeyPairs, 1)
	assert.Equal(t, types.KeyTypeRsa, one.KeyPairs[0].KeyType)
	assert.Equal(t, "1", tagMap(one.KeyPairs[0].Tags)["t"])
	assert.Contains(t, aws.ToString(one.KeyPairs[0].PublicKey), "ssh-rsa ")
	f, err := c.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{Filters: []types.Filter{filter("key-type", "ed25519")}})
	require.NoError(t, err)
	assert.Len(t, f.KeyPairs, 2)
	_, err = c.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{KeyNames: []string{"nope"}})
	ec2RequireCode(t, err, "InvalidKeyPair.NotFound")

	_, err = c.DeleteKeyPair(ctx, &ec2.DeleteKeyPairInput{KeyName: aws.String("packer_1")})
	require.NoError(t, err)
	_, err = c.DeleteKeyPair(ctx, &ec2.DeleteKeyPairInput{KeyName: aws.String("packer_1")})
	require.NoError(t, err, "deleting a missing key pair succeeds, as on EC2")
	_, err = c.DeleteKeyPair(ctx, &ec2.DeleteKeyPairInput{KeyPairId: imp.KeyPairId})
	require.NoError(t, err)
	all, err = c.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{})
	require.NoError(t, err)
	assert.Len(t, all.KeyPairs, 1)
	other, err := ec2ClientFor(sb, DefaultAccount, "eu-west-1").DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{})
	require.NoError(t, err)
	assert.Empty(t, other.KeyPairs, "key pairs are regional")
}

func TestSecurityGroups(t *testing.T) {
	sb := Start(t)
	c := ec2Client(sb)
	vpcs, err := c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: []types.Filter{filter("is-default", "true")}})
	require.NoError(t, err)
	require.Len(t, vpcs.Vpcs, 1)
	vpc := aws.ToString(vpcs.Vpcs[0].VpcId)

	out, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("packer_1"), Description: aws.String("Temporary group for Packer"),
		VpcId:             aws.String(vpc),
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeSecurityGroup, Tags: []types.Tag{{Key: aws.String("t"), Value: aws.String("1")}}}}})
	require.NoError(t, err)
	id := aws.ToString(out.GroupId)
	_, err = c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("packer_1"), Description: aws.String("again")})
	ec2RequireCode(t, err, "InvalidGroup.Duplicate")
	_, err = c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("x"), Description: aws.String("d"), VpcId: aws.String("vpc-0123456789abcdef0")})
	ec2RequireCode(t, err, "InvalidVpcID.NotFound")

	_, err = c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(id), IpPermissions: []types.IpPermission{{
		IpProtocol: aws.String("tcp"), FromPort: aws.Int32(22), ToPort: aws.Int32(22), IpRanges: []types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}},
	}}})
	require.NoError(t, err)
	_, err = c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(id), IpProtocol: aws.String("tcp"),
		FromPort: aws.Int32(22), ToPort: aws.Int32(22), CidrIp: aws.String("0.0.0.0/0")})
	ec2RequireCode(t, err, "InvalidPermission.Duplicate")
	_, err = c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(id), IpProtocol: aws.String("tcp"),
		FromPort: aws.Int32(443), ToPort: aws.Int32(443), CidrIp: aws.String("10.0.0.0/8")})
	require.NoError(t, err)
	_, err = c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(id), IpProtocol: aws.String("tcp"),
		FromPort: aws.Int32(1), ToPort: aws.Int32(2), CidrIp: aws.String("10.0.0.0/99")})
	ec2RequireCode(t, err, "InvalidParameterValue")

	got, err := c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{id}})
	require.NoError(t, err)
	require.Len(t, got.SecurityGroups, 1)
	sg := got.SecurityGroups[0]
	assert.Equal(t, "packer_1", aws.ToString(sg.GroupName))
	assert.Equal(t, vpc, aws.ToString(sg.VpcId))
	assert.Equal(t, "1", tagMap(sg.Tags)["t"])
	require.Len(t, sg.IpPermissions, 2)
	assert.Equal(t, int32(22), aws.ToInt32(sg.IpPermissions[0].FromPort))
	assert.Equal(t, "0.0.0.0/0", aws.ToString(sg.IpPermissions[0].IpRanges[0].CidrIp))
	require.Len(t, sg.IpPermissionsEgress, 1)
	assert.Equal(t, "-1", aws.ToString(sg.IpPermissionsEgress[0].IpProtocol))

	byName, err := c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupNames: []string{"packer_1", "default"}})
	require.NoError(t, err)
	assert.Len(t, byName.SecurityGroups, 2)
	f, err := c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []types.Filter{filter("ip-permission.from-port", "443")}})
	require.NoError(t, err)
	assert.Len(t, f.SecurityGroups, 1)
	p := ec2.NewDescribeSecurityGroupsPaginator(c, &ec2.DescribeSecurityGroupsInput{MaxResults: aws.Int32(5)})
	n := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		require.NoError(t, err)
		n += len(page.SecurityGroups)
	}
	assert.Equal(t, 2, n, "packer_1 and the VPC's default group")
	_, err = c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{"sg-0123456789abcdef0"}})
	ec2RequireCode(t, err, "InvalidGroup.NotFound")
	_, err = c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{"sg-x"}})
	ec2RequireCode(t, err, "InvalidGroupId.Malformed")

	_, err = c.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: aws.String(id), IpProtocol: aws.String("tcp"),
		FromPort: aws.Int32(443), ToPort: aws.Int32(443), CidrIp: aws.String("10.0.0.0/8")})
	require.NoError(t, err)
	_, err = c.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: aws.String(id), IpProtocol: aws.String("tcp"),
		FromPort: aws.Int32(443), ToPort: aws.Int32(443), CidrIp: aws.String("10.0.0.0/8")})
	ec2RequireCode(t, err, "InvalidPermission.NotFound")

	// In use by an instance: DependencyViolation until it is terminated.
	inst := ec2RunOne(t, c, func(in *ec2.RunInstancesInput) { in.SecurityGroupIds = []string{id} })
	_, err = c.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(id)})
	ec2RequireCode(t, err, "DependencyViolation")
	_, err = c.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{aws.ToString(inst.InstanceId)}})
	require.NoError(t, err)
	require.NoError(t, ec2.NewInstanceTerminatedWaiter(c, ec2FastTerminatedWaiter).Wait(ctx,
		&ec2.DescribeInstancesInput{InstanceIds: []string{aws.ToString(inst.InstanceId)}}, 5*time.Second))
	_, err = c.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(id)})
	require.NoError(t, err)
	_, err = c.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(id)})
	ec2RequireCode(t, err, "InvalidGroup.NotFound")
	_, err = c.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupName: aws.String("default")})
	ec2RequireCode(t, err, "CannotDelete")
}

func TestTags(t *testing.T) {
	sb := Start(t)
	c := ec2Client(sb)
	img := ec2BakeImage(t, c, "tagged")
	snap := aws.ToString(describeImage(t, c, img).BlockDeviceMappings[0].Ebs.SnapshotId)
	inst := aws.ToString(ec2RunOne(t, c).InstanceId)

	_, err := c.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{img, snap, inst}, Tags: []types.Tag{
		{Key: aws.String("amibake:project"), Value: aws.String("acme")}, {Key: aws.String("env"), Value: aws.String("prod")}}})
	require.NoError(t, err)
	assert.Equal(t, "acme", tagMap(describeImage(t, c, img).Tags)["amibake:project"])
	assert.Equal(t, "prod", tagMap(describeInstance(t, c, inst).Tags)["env"])

	all, err := c.DescribeTags(ctx, &ec2.DescribeTagsInput{Filters: []types.Filter{filter("key", "amibake:project")}})
	require.NoError(t, err)
	require.Len(t, all.Tags, 3)
	types3 := map[types.ResourceType]bool{}
	for _, td := range all.Tags {
		types3[td.ResourceType] = true
		assert.Equal(t, "acme", aws.ToString(td.Value))
	}
	assert.Equal(t, map[types.ResourceType]bool{types.ResourceTypeImage: true, types.ResourceTypeSnapshot: true, types.ResourceTypeInstance: true}, types3)
	f, err := c.DescribeTags(ctx, &ec2.DescribeTagsInput{Filters: []types.Filter{filter("resource-type", "image"), filter("value", "pr*")}})
	require.NoError(t, err)
	require.Len(t, f.Tags, 1)
	assert.Equal(t, img, aws.ToString(f.Tags[0].ResourceId))
	assert.Equal(t, "env", aws.ToString(f.Tags[0].Key))
	byID, err := c.DescribeTags(ctx, &ec2.DescribeTagsInput{Filters: []types.Filter{filter("resource-id", inst)}})
	require.NoError(t, err)
	assert.Len(t, byID.Tags, 2)
	p := ec2.NewDescribeTagsPaginator(c, &ec2.DescribeTagsInput{MaxResults: aws.Int32(5)})
	n, pages := 0, 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		require.NoError(t, err)
		n += len(page.Tags)
		pages++
	}
	assert.Equal(t, 6, n)
	assert.Equal(t, 2, pages)

	// DeleteTags: by key, by key and matching value only, or everything.
	_, err = c.DeleteTags(ctx, &ec2.DeleteTagsInput{Resources: []string{img}, Tags: []types.Tag{{Key: aws.String("env"), Value: aws.String("dev")}}})
	require.NoError(t, err)
	assert.Len(t, describeImage(t, c, img).Tags, 2, "value did not match")
	_, err = c.DeleteTags(ctx, &ec2.DeleteTagsInput{Resources: []string{img}, Tags: []types.Tag{{Key: aws.String("env")}}})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"amibake:project": "acme"}, tagMap(describeImage(t, c, img).Tags))
	_, err = c.DeleteTags(ctx, &ec2.DeleteTagsInput{Resources: []string{inst}})
	require.NoError(t, err)
	assert.Empty(t, describeInstance(t, c, inst).Tags)

	_, err = c.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{"ami-0123456789abcdef0"}, Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
	ec2RequireCode(t, err, "InvalidAMIID.NotFound")
	_, err = c.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{"i-0123456789abcdef0"}, Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
	ec2RequireCode(t, err, "InvalidInstanceID.NotFound")
	_, err = c.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{"what-is-this"}, Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
	ec2RequireCode(t, err, "InvalidID")
	_, err = c.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{img}, Tags: []types.Tag{{Key: aws.String("aws:reserved"), Value: aws.String("v")}}})
	ec2RequireCode(t, err, "InvalidParameterValue")
	_, err = c.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{aws.ToString(ec2LatestAL2023(t, c).ImageId)}, Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
	ec2RequireCode(t, err, "UnauthorizedOperation")
	many := make([]types.Tag, 51)
	for i := range many {
		many[i] = types.Tag{Key: aws.String(string(rune('A'+i%26)) + string(rune('a'+i/26))), Value: aws.String("v")}
	}
	_, err = c.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{img}, Tags: many})
	ec2RequireCode(t, err, "TagLimitExceeded")
}

func TestVolumesFilters(t *testing.T) {
	sb := Start(t)
	c := ec2Client(sb)
	for i := 0; i < 6; i++ {
		ec2RunOne(t, c)
	}
	p := ec2.NewDescribeVolumesPaginator(c, &ec2.DescribeVolumesInput{MaxResults: aws.Int32(5)})
	n, pages := 0, 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		require.NoError(t, err)
		assert.LessOrEqual(t, len(page.Volumes), 5)
		n += len(page.Volumes)
		pages++
	}
	assert.Equal(t, 6, n)
	assert.Equal(t, 2, pages)
	out, err := c.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{Filters: []types.Filter{filter("status", "in-use"), filter("size", "8"), filter("volume-type", "gp3")}})
	require.NoError(t, err)
	assert.Len(t, out.Volumes, 6)
	out, err = c.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{Filters: []types.Filter{filter("status", "available")}})
	require.NoError(t, err)
	assert.Empty(t, out.Volumes)
	_, err = c.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{"vol-zz"}})
	ec2RequireCode(t, err, "InvalidVolumeID.Malformed")
}

func TestDefaultVPCAndSubnets(t *testing.T) {
	sb := Start(t)
	for _, acct := range []string{DefaultAccount, ec2OtherAccount} {
		c := ec2ClientFor(sb, acct, "eu-central-1")
		vpcs, err := c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})
		require.NoError(t, err)
		require.Len(t, vpcs.Vpcs, 1, "every account has a default VPC in every region")
		vpc := vpcs.Vpcs[0]
		assert.True(t, aws.ToBool(vpc.IsDefault))
		assert.Equal(t, "172.31.0.0/16", aws.ToString(vpc.CidrBlock))
		assert.Equal(t, acct, aws.ToString(vpc.OwnerId))
		subnets, err := c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []types.Filter{filter("default-for-az", "true"), filter("vpc-id", aws.ToString(vpc.VpcId))}})
		require.NoError(t, err)
		require.Len(t, subnets.Subnets, 3)
		for _, s := range subnets.Subnets {
			assert.True(t, aws.ToBool(s.DefaultForAz))
			assert.True(t, aws.ToBool(s.MapPublicIpOnLaunch))
			assert.Regexp(t, `^eu-central-1[abc]$`, aws.ToString(s.AvailabilityZone))
		}
		one, err := c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []types.Filter{filter("availability-zone", "eu-central-1b")}})
		require.NoError(t, err)
		require.Len(t, one.Subnets, 1)
		byID, err := c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{aws.ToString(one.Subnets[0].SubnetId)}})
		require.NoError(t, err)
		assert.Len(t, byID.Subnets, 1)
		// Launch into that subnet.
		img := ec2LatestAL2023(t, c)
		run, err := c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: img.ImageId, InstanceType: types.InstanceTypeT3Micro, MinCount: aws.Int32(1), MaxCount: aws.Int32(1), SubnetId: one.Subnets[0].SubnetId})
		require.NoError(t, err)
		assert.Equal(t, "eu-central-1b", aws.ToString(run.Instances[0].Placement.AvailabilityZone))
	}
	c := ec2Client(sb)
	_, err := c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{"subnet-0123456789abcdef0"}})
	ec2RequireCode(t, err, "InvalidSubnetID.NotFound")
	_, err = c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{VpcIds: []string{"vpc-0123456789abcdef0"}})
	ec2RequireCode(t, err, "InvalidVpcID.NotFound")
	attrs, err := c.DescribeAccountAttributes(ctx, &ec2.DescribeAccountAttributesInput{AttributeNames: []types.AccountAttributeName{types.AccountAttributeNameDefaultVpc}})
	require.NoError(t, err)
	require.Len(t, attrs.AccountAttributes, 1)
	assert.Regexp(t, `^vpc-`, aws.ToString(attrs.AccountAttributes[0].AttributeValues[0].AttributeValue))
	all, err := c.DescribeAccountAttributes(ctx, &ec2.DescribeAccountAttributesInput{})
	require.NoError(t, err)
	assert.Len(t, all.AccountAttributes, 6)
}

func TestRegionsAndZones(t *testing.T) {
	sb := Start(t)
	c := ec2Client(sb)
	out, err := c.DescribeRegions(ctx, &ec2.DescribeRegionsInput{})
	require.NoError(t, err)
	var names []string
	for _, r := range out.Regions {
		names = append(names, aws.ToString(r.RegionName))
		assert.Equal(t, "ec2."+aws.ToString(r.RegionName)+".amazonaws.com", aws.ToString(r.Endpoint))
	}
	assert.Equal(t, DefaultRegions, names)
	f, err := c.DescribeRegions(ctx, &ec2.DescribeRegionsInput{Filters: []types.Filter{filter("region-name", "eu-*")}})
	require.NoError(t, err)
	assert.Len(t, f.Regions, 2)
	_, err = c.DescribeRegions(ctx, &ec2.DescribeRegionsInput{RegionNames: []string{"mars-1"}})
	ec2RequireCode(t, err, "InvalidParameterValue")

	az, err := ec2ClientFor(sb, DefaultAccount, "us-west-2").DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{})
	require.NoError(t, err)
	require.Len(t, az.AvailabilityZones, 3)
	assert.Equal(t, "us-west-2a", aws.ToString(az.AvailabilityZones[0].ZoneName))
	assert.Equal(t, "usw2-az1", aws.ToString(az.AvailabilityZones[0].ZoneId))
	assert.Equal(t, types.AvailabilityZoneStateAvailable, az.AvailabilityZones[0].State)
	one, err := c.DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{ZoneNames: []string{"us-east-1c"}})
	require.NoError(t, err)
	require.Len(t, one.AvailabilityZones, 1)
	assert.Equal(t, "use1-az3", aws.ToString(one.AvailabilityZones[0].ZoneId))
}

func TestDryRun(t *testing.T) {
	sb := Start(t)
	c := ec2Client(sb)
	_, err := c.RunInstances(ctx, &ec2.RunInstancesInput{DryRun: aws.Bool(true), ImageId: ec2LatestAL2023(t, c).ImageId, MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
	ec2RequireCode(t, err, "DryRunOperation")
	out, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
	require.NoError(t, err)
	assert.Empty(t, out.Reservations)
}

func TestEC2ThrottlingIsRetried(t *testing.T) {
	sb := Start(t)
	sb.SetFaults(FaultRule{Service: "ec2", Action: "DescribeImages", ThrottleRate: 1, Remaining: 2})
	out, err := ec2Client(sb).DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"amazon"}})
	require.NoError(t, err)
	assert.NotEmpty(t, out.Images)
	assert.Equal(t, 3, sb.CountCalls("ec2", "DescribeImages"))
}

func TestEC2StatePersistsAcrossRestart(t *testing.T) {
	path := t.TempDir() + "/world.json"
	sb := Start(t, func(o *Options) { o.StateFile = path })
	c := ec2Client(sb)
	id := ec2BakeImage(t, c, "persisted")
	require.NoError(t, sb.Close())

	sb2 := Start(t, func(o *Options) { o.StateFile = path })
	img := describeImage(t, ec2Client(sb2), id)
	assert.Equal(t, "persisted", aws.ToString(img.Name))
	assert.Equal(t, types.ImageStateAvailable, img.State)
	// Ids keep counting where they stopped.
	id2 := ec2BakeImage(t, ec2Client(sb2), "second")
	assert.NotEqual(t, id, id2)
}

// DescribeVpcs and DescribeSubnets resolve ids through ec2Select: another
// account's id is NotFound and a malformed one Malformed, failing the call.
func TestDescribeVpcsSubnetsByID(t *testing.T) {
	sb := Start(t)
	mine, other := ec2Client(sb), ec2ClientFor(sb, ec2OtherAccount, "us-east-1")
	theirs, err := other.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})
	require.NoError(t, err)
	require.Len(t, theirs.Vpcs, 1, "the other account's default VPC")
	_, err = mine.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{VpcIds: []string{aws.ToString(theirs.Vpcs[0].VpcId)}})
	ec2RequireCode(t, err, "InvalidVpcID.NotFound")
	_, err = mine.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{VpcIds: []string{"vpc-nope"}})
	ec2RequireCode(t, err, "InvalidVpcID.Malformed")
	_, err = mine.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{"sub-1"}})
	ec2RequireCode(t, err, "InvalidSubnetID.Malformed")

	all, err := mine.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{})
	require.NoError(t, err)
	require.Len(t, all.Subnets, 3, "one default subnet per zone")
	ids := []string{aws.ToString(all.Subnets[2].SubnetId), aws.ToString(all.Subnets[0].SubnetId)}
	got, err := mine.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: ids})
	require.NoError(t, err)
	require.Len(t, got.Subnets, 2)
	theirSubnets, err := other.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{})
	require.NoError(t, err)
	_, err = mine.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{ids[0], aws.ToString(theirSubnets.Subnets[0].SubnetId)}})
	ec2RequireCode(t, err, "InvalidSubnetID.NotFound")
}
