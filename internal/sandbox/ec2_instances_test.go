package sandbox

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func instanceIDs(insts []types.Instance) []string {
	var ids []string
	for _, i := range insts {
		ids = append(ids, aws.ToString(i.InstanceId))
	}
	return ids
}

func describeInstance(t *testing.T, c *ec2.Client, id string) types.Instance {
	t.Helper()
	out, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	require.NoError(t, err)
	require.Len(t, out.Reservations, 1)
	require.Len(t, out.Reservations[0].Instances, 1)
	return out.Reservations[0].Instances[0]
}

func TestRunInstancesAndRunningWaiter(t *testing.T) {
	sb := Start(t)
	c := ec2Client(sb)
	img := ec2LatestAL2023(t, c)
	key, err := c.CreateKeyPair(ctx, &ec2.CreateKeyPairInput{KeyName: aws.String("build")})
	require.NoError(t, err)
	sg, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("build"), Description: aws.String("build")})
	require.NoError(t, err)
	out, err := c.RunInstances(ctx, &ec2.RunInstancesInput{
		ImageId: img.ImageId, InstanceType: types.InstanceTypeT3Small, MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		KeyName: key.KeyName, SecurityGroupIds: []string{aws.ToString(sg.GroupId)},
		IamInstanceProfile: &types.IamInstanceProfileSpecification{Name: aws.String("amibake-build")},
		MetadataOptions:    &types.InstanceMetadataOptionsRequest{HttpTokens: types.HttpTokensStateRequired, HttpPutResponseHopLimit: aws.Int32(1)},
		UserData:           aws.String("IyEvYmluL3NoCg=="),
		TagSpecifications: []types.TagSpecification{
			{ResourceType: types.ResourceTypeInstance, Tags: []types.Tag{{Key: aws.String("amibake:role"), Value: aws.String("build")}}},
			{ResourceType: types.ResourceTypeVolume, Tags: []types.Tag{{Key: aws.String("amibake:role"), Value: aws.String("build-volume")}}},
		},
		BlockDeviceMappings: []types.BlockDeviceMapping{{DeviceName: aws.String("/dev/xvda"), Ebs: &types.EbsBlockDevice{
			VolumeSize: aws.Int32(16), VolumeType: types.VolumeTypeIo2, Iops: aws.Int32(4000), Encrypted: aws.Bool(true), KmsKeyId: aws.String("alias/amibake"),
		}}},
	})
	require.NoError(t, err)
	assert.Regexp(t, `^r-[0-9a-f]{17}$`, aws.ToString(out.ReservationId))
	assert.Equal(t, DefaultAccount, aws.ToString(out.OwnerId))
	inst := out.Instances[0]
	id := aws.ToString(inst.InstanceId)
	assert.Regexp(t, `^i-[0-9a-f]{17}$`, id)
	assert.Equal(t, types.InstanceStateNamePending, inst.State.Name)
	assert.Equal(t, int32(0), aws.ToInt32(inst.State.Code))

	require.NoError(t, ec2.NewInstanceRunningWaiter(c, ec2FastRunningWaiter).Wait(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}}, 5*time.Second))
	got := describeInstance(t, c, id)
	assert.Equal(t, types.InstanceStateNameRunning, got.State.Name)
	assert.Equal(t, int32(16), aws.ToInt32(got.State.Code))
	assert.Equal(t, aws.ToString(img.ImageId), aws.ToString(got.ImageId))
	assert.Equal(t, types.InstanceTypeT3Small, got.InstanceType)
	assert.Equal(t, "build", aws.ToString(got.KeyName))
	assert.Equal(t, types.HttpTokensStateRequired, got.MetadataOptions.HttpTokens)
	assert.Equal(t, int32(1), aws.ToInt32(got.MetadataOptions.HttpPutResponseHopLimit))
	assert.Equal(t, "arn:aws:iam::"+DefaultAccount+":instance-profile/amibake-build", aws.ToString(got.IamInstanceProfile.Arn))
	assert.Equal(t, "build", tagMap(got.Tags)["amibake:role"])
	assert.Equal(t, types.ArchitectureValuesX8664, got.Architecture)
	assert.Equal(t, "us-east-1a", aws.ToString(got.Placement.AvailabilityZone))
	assert.Regexp(t, `^subnet-`, aws.ToString(got.SubnetId))
	assert.Regexp(t, `^vpc-`, aws.ToString(got.VpcId))
	assert.Regexp(t, `^172\.31\.\d+\.\d+$`, aws.ToString(got.PrivateIpAddress))
	assert.Regexp(t, `^ip-172-31-\d+-\d+\.ec2\.internal$`, aws.ToString(got.PrivateDnsName))
	require.Len(t, got.SecurityGroups, 1)
	assert.Equal(t, aws.ToString(sg.GroupId), aws.ToString(got.SecurityGroups[0].GroupId))
	require.Len(t, got.BlockDeviceMappings, 1)
	assert.Equal(t, "/dev/xvda", aws.ToString(got.RootDeviceName))

	vols, err := c.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{Filters: []types.Filter{filter("attachment.instance-id", id)}})
	require.NoError(t, err)
	require.Len(t, vols.Volumes, 1)
	v := vols.Volumes[0]
	assert.Equal(t, int32(16), aws.ToInt32(v.Size))
	assert.Equal(t, types.VolumeTypeIo2, v.VolumeType)
	assert.Equal(t, int32(4000), aws.ToInt32(v.Iops))
	assert.True(t, aws.ToBool(v.Encrypted))
	assert.Equal(t, "alias/amibake", aws.ToString(v.KmsKeyId))
	assert.Equal(t, types.VolumeStateInUse, v.State)
	assert.Equal(t, "build-volume", tagMap(v.Tags)["amibake:role"])
	assert.Equal(t, aws.ToString(img.BlockDeviceMappings[0].Ebs.SnapshotId), aws.ToString(v.SnapshotId))
	require.Len(t, v.Attachments, 1)
	assert.True(t, aws.ToBool(v.Attachments[0].DeleteOnTermination))

	attr, err := c.DescribeInstanceAttribute(ctx, &ec2.DescribeInstanceAttributeInput{InstanceId: aws.String(id), Attribute: types.InstanceAttributeNameUserData})
	require.NoError(t, err)
	assert.Equal(t, "IyEvYmluL3NoCg==", aws.ToString(attr.UserData.Value))
	sb.Do(func(w *World) {
		// An instance starts with its image's content.
		assert.Equal(t, w.EC2.Images[aws.ToString(img.ImageId)].Content.Packages, w.EC2.Instances[id].Content.Packages)
	})
}

func TestRunInstancesDefaultsFromImage(t *testing.T) {
	sb := Start(t)
	c := ec2Client(sb)
	inst := ec2RunOne(t, c)
	// AL2023 images carry ImdsSupport v2.0: IMDSv2 is required by default.
	assert.Equal(t, types.HttpTokensStateRequired, inst.MetadataOptions.HttpTokens)
	require.Len(t, inst.SecurityGroups, 1)
	assert.Equal(t, "default", aws.ToString(inst.SecurityGroups[0].GroupName))

	// A placement picks the default subnet of that zone.
	out, err := c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: inst.ImageId, InstanceType: types.InstanceTypeT3Micro, MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		Placement: &types.Placement{AvailabilityZone: aws.String("us-east-1c")}})
	require.NoError(t, err)
	assert.Equal(t, "us-east-1c", aws.ToString(out.Instances[0].Placement.AvailabilityZone))
	_, err = c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: inst.ImageId, MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		Placement: &types.Placement{AvailabilityZone: aws.String("us-east-1z")}})
	ec2RequireCode(t, err, "InvalidParameterValue")
}

func TestRunInstancesCountsAndClientToken(t *testing.T) {
	sb := Start(t)
	c := ec2Client(sb)
	img := ec2LatestAL2023(t, c)
	in := &ec2.RunInstancesInput{ImageId: img.ImageId, InstanceType: types.InstanceTypeT3Micro, MinCount: aws.Int32(2), MaxCount: aws.Int32(3), ClientToken: aws.String("token-1")}
	out, err := c.RunInstances(ctx, in)
	require.NoError(t, err)
	require.Len(t, out.Instances, 3)
	for i, inst := range out.Instances {
		assert.Equal(t, int32(i), aws.ToInt32(inst.AmiLaunchIndex))
		assert.Equal(t, "token-1", aws.ToString(inst.ClientToken))
	}
	again, err := c.RunInstances(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, aws.ToString(out.ReservationId), aws.ToString(again.ReservationId))
	assert.Equal(t, instanceIDs(out.Instances), instanceIDs(again.Instances), "same token, same instances")
	all, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
	require.NoError(t, err)
	require.Len(t, all.Reservations, 1, "one reservation")
	assert.Len(t, all.Reservations[0].Instances, 3)

	other := ec2LatestAL2023(t, c)
	other.ImageId = aws.String("ami-0123456789abcdef0")
	_, err = c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: other.ImageId, MinCount: aws.Int32(1), MaxCount: aws.Int32(1), ClientToken: aws.String("token-1")})
	ec2RequireCode(t, err, "IdempotentParameterMismatch")
}

func TestRunInstancesErrors(t *testing.T) {
	sb := Start(t)
	c := ec2Client(sb)
	img := ec2LatestAL2023(t, c)
	base := func() *ec2.RunInstancesInput {
		return &ec2.RunInstancesInput{ImageId: img.ImageId, InstanceType: types.InstanceTypeT3Micro, MinCount: aws.Int32(1), MaxCount: aws.Int32(1)}
	}
	cases := []struct {
		name string
		mod  func(*ec2.RunInstancesInput)
		code string
	}{
		{"unknown image", func(in *ec2.RunInstancesInput) { in.ImageId = aws.String("ami-0123456789abcdef0") }, "InvalidAMIID.NotFound"},
		{"malformed image", func(in *ec2.RunInstancesInput) { in.ImageId = aws.String("ami-zz") }, "InvalidAMIID.Malformed"},
		{"arm instance type for x86 image", func(in *ec2.RunInstancesInput) { in.InstanceType = types.InstanceTypeT4gMicro }, "InvalidParameterValue"},
		{"bad instance type", func(in *ec2.RunInstancesInput) { in.InstanceType = "huge" }, "InvalidParameterValue"},
		{"unknown key", func(in *ec2.RunInstancesInput) { in.KeyName = aws.String("nope") }, "InvalidKeyPair.NotFound"},
		{"unknown group", func(in *ec2.RunInstancesInput) { in.SecurityGroupIds = []string{"sg-0123456789abcdef0"} }, "InvalidGroup.NotFound"},
		{"unknown subnet", func(in *ec2.RunInstancesInput) { in.SubnetId = aws.String("subnet-0123456789abcdef0") }, "InvalidSubnetID.NotFound"},
		{"bad http tokens", func(in *ec2.RunInstancesInput) {
			in.MetadataOptions = &types.InstanceMetadataOptionsRequest{HttpTokens: "sometimes"}
		}, "InvalidParameterValue"},
		{"counts", func(in *ec2.RunInstancesInput) { in.MinCount = aws.Int32(3) }, "InvalidParameterValue"},
		{"root volume smaller than snapshot", func(in *ec2.RunInstancesInput) {
			in.BlockDeviceMappings = []types.BlockDeviceMapping{{DeviceName: aws.String("/dev/xvda"), Ebs: &types.EbsBlockDevice{VolumeSize: aws.Int32(4)}}}
		}, "InvalidBlockDeviceMapping"},
		{"kms without encryption", func(in *ec2.RunInstancesInput) {
			in.BlockDeviceMappings = []types.BlockDeviceMapping{{DeviceName: aws.String("/dev/xvda"), Ebs: &types.EbsBlockDevice{KmsKeyId: aws.String("k")}}}
		}, "InvalidParameterDependency"},
		{"tag reserved prefix", func(in *ec2.RunInstancesInput) {
			in.TagSpecifications = []types.TagSpecification{{ResourceType: types.ResourceTypeInstance, Tags: []types.Tag{{Key: aws.String("aws:x"), Value: aws.String("y")}}}}
		}, "InvalidParameterValue"},
		{"tag resource type", func(in *ec2.RunInstancesInput) {
			in.TagSpecifications = []types.TagSpecification{{ResourceType: types.ResourceTypeImage, Tags: []types.Tag{{Key: aws.String("x"), Value: aws.String("y")}}}}
		}, "InvalidParameterValue"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := base()
			tc.mod(in)
			_, err := c.RunInstances(ctx, in)
			ec2RequireCode(t, err, tc.code)
		})
	}
	all, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
	require.NoError(t, err)
	assert.Empty(t, all.Reservations, "failed launches leave nothing behind")

	// A failed image is unavailable.
	id := ec2BakeImage(t, c, "broken")
	require.NoError(t, sb.FailImage(id, ""))
	_, err = c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(id), MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
	ec2RequireCode(t, err, "InvalidAMIID.Unavailable")
}

func TestInstanceStateMachineOnManualClock(t *testing.T) {
	sb := ec2ManualSandbox(t)
	c := ec2Client(sb)
	tm := RealisticTiming()
	inst := ec2RunOne(t, c)
	id := aws.ToString(inst.InstanceId)
	ids := []string{id}

	_, err := c.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: ids})
	ec2RequireCode(t, err, "IncorrectInstanceState")

	sb.AdvanceClock(tm.InstancePending)
	assert.Equal(t, types.InstanceStateNameRunning, describeInstance(t, c, id).State.Name)

	stop, err := c.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: ids})
	require.NoError(t, err)
	assert.Equal(t, types.InstanceStateNameRunning, stop.StoppingInstances[0].PreviousState.Name)
	assert.Equal(t, types.InstanceStateNameStopping, stop.StoppingInstances[0].CurrentState.Name)
	_, err = c.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: ids})
	ec2RequireCode(t, err, "IncorrectInstanceState")

	sb.AdvanceClock(tm.InstanceStopping - time.Second)
	assert.Equal(t, types.InstanceStateNameStopping, describeInstance(t, c, id).State.Name)
	done := make(chan error, 1)
	go func() {
		done <- ec2.NewInstanceStoppedWaiter(c, ec2FastStoppedWaiter).Wait(ctx, &ec2.DescribeInstancesInput{InstanceIds: ids}, 10*time.Second)
	}()
	time.Sleep(30 * time.Millisecond)
	sb.AdvanceClock(time.Second)
	require.NoError(t, <-done)
	stopped := describeInstance(t, c, id)
	assert.Equal(t, "Client.UserInitiatedShutdown", aws.ToString(stopped.StateReason.Code))
	assert.Contains(t, aws.ToString(stopped.StateTransitionReason), "User initiated")

	// Stopping a stopped instance is a no-op; start goes through pending.
	again, err := c.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: ids})
	require.NoError(t, err)
	assert.Equal(t, types.InstanceStateNameStopped, again.StoppingInstances[0].CurrentState.Name)
	start, err := c.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: ids})
	require.NoError(t, err)
	assert.Equal(t, types.InstanceStateNamePending, start.StartingInstances[0].CurrentState.Name)
	sb.AdvanceClock(tm.InstancePending)
	assert.Equal(t, types.InstanceStateNameRunning, describeInstance(t, c, id).State.Name)
	_, err = c.RebootInstances(ctx, &ec2.RebootInstancesInput{InstanceIds: ids})
	require.NoError(t, err)

	term, err := c.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids})
	require.NoError(t, err)
	assert.Equal(t, types.InstanceStateNameShuttingDown, term.TerminatingInstances[0].CurrentState.Name)
	go func() {
		done <- ec2.NewInstanceTerminatedWaiter(c, ec2FastTerminatedWaiter).Wait(ctx, &ec2.DescribeInstancesInput{InstanceIds: ids}, 10*time.Second)
	}()
	time.Sleep(30 * time.Millisecond)
	sb.AdvanceClock(tm.InstanceShutdown)
	require.NoError(t, <-done)
	_, err = c.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: ids})
	ec2RequireCode(t, err, "IncorrectInstanceState")
	_, err = c.RebootInstances(ctx, &ec2.RebootInstancesInput{InstanceIds: ids})
	ec2RequireCode(t, err, "IncorrectInstanceState")
	again2, err := c.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids})
	require.NoError(t, err, "terminating twice is fine")
	assert.Equal(t, types.InstanceStateNameTerminated, again2.TerminatingInstances[0].CurrentState.Name)

	// Terminated instances stay visible for a while, then disappear.
	sb.AdvanceClock(ec2TerminatedVisibleFor + time.Minute)
	_, err = c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: ids})
	ec2RequireCode(t, err, "InvalidInstanceID.NotFound")
}

func TestTerminateFromStoppedAndVolumeLifecycle(t *testing.T) {
	sb := Start(t)
	c := ec2Client(sb)
	inst := ec2RunOne(t, c, func(in *ec2.RunInstancesInput) {
		in.BlockDeviceMappings = []types.BlockDeviceMapping{{DeviceName: aws.String("/dev/sdf"),
			Ebs: &types.EbsBlockDevice{VolumeSize: aws.Int32(10), DeleteOnTermination: aws.Bool(false)}}}
	})
	id := aws.ToString(inst.InstanceId)
	require.Len(t, inst.BlockDeviceMappings, 2)
	data := aws.ToString(inst.BlockDeviceMappings[1].Ebs.VolumeId)
	_, err := c.DeleteVolume(ctx, &ec2.DeleteVolumeInput{VolumeId: aws.String(data)})
	ec2RequireCode(t, err, "VolumeInUse")

	_, err = c.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{id}})
	require.NoError(t, err)
	require.NoError(t, ec2.NewInstanceStoppedWaiter(c, ec2FastStoppedWaiter).Wait(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}}, 5*time.Second))
	_, err = c.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}})
	require.NoError(t, err)
	require.NoError(t, ec2.NewInstanceTerminatedWaiter(c, ec2FastTerminatedWaiter).Wait(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}}, 5*time.Second))

	vols, err := c.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{})
	require.NoError(t, err)
	require.Len(t, vols.Volumes, 1, "the root volume went with the instance")
	assert.Equal(t, data, aws.ToString(vols.Volumes[0].VolumeId))
	assert.Equal(t, types.VolumeStateAvailable, vols.Volumes[0].State)
	assert.Empty(t, vols.Volumes[0].Attachments)
	_, err = c.DeleteVolume(ctx, &ec2.DeleteVolumeInput{VolumeId: aws.String(data)})
	require.NoError(t, err)
	_, err = c.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{data}})
	ec2RequireCode(t, err, "InvalidVolume.NotFound")
}

func TestDescribeInstancesFiltersPaginationErrors(t *testing.T) {
	sb := Start(t)
	c := ec2Client(sb)
	img := ec2LatestAL2023(t, c)
	var ids []string
	for i := 0; i < 7; i++ {
		role := "web"
		if i%2 == 1 {
			role = "worker"
		}
		inst := ec2RunOne(t, c, func(in *ec2.RunInstancesInput) {
			in.TagSpecifications = []types.TagSpecification{{ResourceType: types.ResourceTypeInstance, Tags: []types.Tag{{Key: aws.String("role"), Value: aws.String(role)}}}}
		})
		ids = append(ids, aws.ToString(inst.InstanceId))
	}
	_, err := c.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids[:1]})
	require.NoError(t, err)

	count := func(fs ...types.Filter) int {
		out, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: fs})
		require.NoError(t, err)
		n := 0
		for _, r := range out.Reservations {
			n += len(r.Instances)
		}
		return n
	}
	assert.Equal(t, 7, count())
	assert.Equal(t, 6, count(filter("instance-state-name", "running", "pending")))
	assert.Equal(t, 1, count(filter("instance-state-name", "terminated")))
	assert.Equal(t, 4, count(filter("tag:role", "web")))
	assert.Equal(t, 3, count(filter("tag:role", "web"), filter("instance-state-name", "running")))
	assert.Equal(t, 7, count(filter("tag-key", "role")))
	assert.Equal(t, 7, count(filter("image-id", aws.ToString(img.ImageId))))
	assert.Equal(t, 1, count(filter("instance-id", ids[3])))
	assert.Equal(t, 7, count(filter("instance-type", "t3.*")))
	assert.Equal(t, 0, count(filter("availability-zone", "us-east-1b")))
	_, err = c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []types.Filter{filter("mood", "happy")}})
	ec2RequireCode(t, err, "InvalidParameterValue")

	p := ec2.NewDescribeInstancesPaginator(c, &ec2.DescribeInstancesInput{MaxResults: aws.Int32(5)})
	var seen []string
	pages := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		require.NoError(t, err)
		for _, r := range page.Reservations {
			seen = append(seen, instanceIDs(r.Instances)...)
		}
		pages++
	}
	assert.Equal(t, 2, pages)
	assert.ElementsMatch(t, ids, seen)

	_, err = c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: ids[:2], MaxResults: aws.Int32(5)})
	ec2RequireCode(t, err, "InvalidParameterCombination")
	_, err = c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{MaxResults: aws.Int32(2)})
	ec2RequireCode(t, err, "InvalidParameterValue")
	_, err = c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{"i-123"}})
	ec2RequireCode(t, err, "InvalidInstanceID.Malformed")
	_, err = c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{ids[0], "i-0123456789abcdef0"}})
	ec2RequireCode(t, err, "InvalidInstanceID.NotFound")
	_, err = c.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{"i-0123456789abcdef0"}})
	ec2RequireCode(t, err, "InvalidInstanceID.NotFound")

	// Instances are per account and region.
	out, err := ec2ClientFor(sb, ec2OtherAccount, DefaultRegion).DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
	require.NoError(t, err)
	assert.Empty(t, out.Reservations)
	_, err = ec2ClientFor(sb, DefaultAccount, "eu-west-1").DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: ids[1:2]})
	ec2RequireCode(t, err, "InvalidInstanceID.NotFound")
}

func TestDescribeInstanceStatus(t *testing.T) {
	sb := ec2ManualSandbox(t)
	c := ec2Client(sb)
	tm := RealisticTiming()
	a := aws.ToString(ec2RunOne(t, c).InstanceId)
	b := aws.ToString(ec2RunOne(t, c).InstanceId)

	out, err := c.DescribeInstanceStatus(ctx, &ec2.DescribeInstanceStatusInput{})
	require.NoError(t, err)
	assert.Empty(t, out.InstanceStatuses, "only running instances by default")
	out, err = c.DescribeInstanceStatus(ctx, &ec2.DescribeInstanceStatusInput{IncludeAllInstances: aws.Bool(true)})
	require.NoError(t, err)
	require.Len(t, out.InstanceStatuses, 2)
	assert.Equal(t, types.SummaryStatusNotApplicable, out.InstanceStatuses[0].InstanceStatus.Status)

	sb.AdvanceClock(tm.InstancePending)
	out, err = c.DescribeInstanceStatus(ctx, &ec2.DescribeInstanceStatusInput{InstanceIds: []string{a}})
	require.NoError(t, err)
	require.Len(t, out.InstanceStatuses, 1)
	assert.Equal(t, types.SummaryStatusInitializing, out.InstanceStatuses[0].InstanceStatus.Status)

	done := make(chan error, 1)
	go func() {
		done <- ec2.NewInstanceStatusOkWaiter(c, func(o *ec2.InstanceStatusOkWaiterOptions) {
			o.MinDelay, o.MaxDelay = 10*time.Millisecond, 50*time.Millisecond
		}).Wait(ctx, &ec2.DescribeInstanceStatusInput{InstanceIds: []string{a, b}}, 10*time.Second)
	}()
	time.Sleep(30 * time.Millisecond)
	sb.AdvanceClock(tm.InstancePending)
	require.NoError(t, <-done)

	_, err = c.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{b}})
	require.NoError(t, err)
	out, err = c.DescribeInstanceStatus(ctx, &ec2.DescribeInstanceStatusInput{
		IncludeAllInstances: aws.Bool(true), Filters: []types.Filter{filter("instance-status.status", "ok")}})
	require.NoError(t, err)
	require.Len(t, out.InstanceStatuses, 1)
	assert.Equal(t, a, aws.ToString(out.InstanceStatuses[0].InstanceId))
	assert.Equal(t, "use1-az1", aws.ToString(out.InstanceStatuses[0].AvailabilityZoneId))
	_, err = c.DescribeInstanceStatus(ctx, &ec2.DescribeInstanceStatusInput{InstanceIds: []string{"i-0123456789abcdef0"}})
	ec2RequireCode(t, err, "InvalidInstanceID.NotFound")
}

func TestModifyInstanceAttribute(t *testing.T) {
	sb := Start(t)
	c := ec2Client(sb)
	id := aws.ToString(ec2RunOne(t, c).InstanceId)
	_, err := c.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{InstanceId: aws.String(id), InstanceType: &types.AttributeValue{Value: aws.String("m5.large")}})
	ec2RequireCode(t, err, "IncorrectInstanceState")
	_, err = c.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{id}})
	require.NoError(t, err)
	require.NoError(t, ec2.NewInstanceStoppedWaiter(c, ec2FastStoppedWaiter).Wait(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}}, 5*time.Second))
	_, err = c.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{InstanceId: aws.String(id), InstanceType: &types.AttributeValue{Value: aws.String("m5.large")}})
	require.NoError(t, err)
	_, err = c.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{InstanceId: aws.String(id), InstanceType: &types.AttributeValue{Value: aws.String("m7g.large")}})
	ec2RequireCode(t, err, "InvalidParameterValue")
	_, err = c.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{InstanceId: aws.String(id), EnaSupport: &types.AttributeBooleanValue{Value: aws.Bool(true)}})
	require.NoError(t, err)
	a, err := c.DescribeInstanceAttribute(ctx, &ec2.DescribeInstanceAttributeInput{InstanceId: aws.String(id), Attribute: types.InstanceAttributeNameInstanceType})
	require.NoError(t, err)
	assert.Equal(t, "m5.large", aws.ToString(a.InstanceType.Value))
	_, err = c.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{InstanceId: aws.String(id)})
	ec2RequireCode(t, err, "InvalidParameterCombination")
}

func TestDescribeInstanceTypeOfferings(t *testing.T) {
	sb := Start(t)
	c := ec2Client(sb)
	out, err := c.DescribeInstanceTypeOfferings(ctx, &ec2.DescribeInstanceTypeOfferingsInput{
		LocationType: types.LocationTypeAvailabilityZone, Filters: []types.Filter{filter("instance-type", "t3.small")}})
	require.NoError(t, err)
	require.Len(t, out.InstanceTypeOfferings, 3)
	assert.Equal(t, "us-east-1a", aws.ToString(out.InstanceTypeOfferings[0].Location))
}

func TestInstanceTypeArchitecture(t *testing.T) {
	for typ, want := range map[string]string{
		"t3.micro": "x86_64", "t4g.small": "arm64", "m7gd.large": "arm64", "c6gn.xlarge": "arm64", "a1.large": "arm64",
		"g4dn.xlarge": "x86_64", "g5g.xlarge": "arm64", "m5.large": "x86_64", "r7iz.large": "x86_64", "im4gn.large": "arm64",
	} {
		assert.Equal(t, want, ec2InstanceTypeArch(typ), typ)
	}
}

func TestEventualConsistencyHidesNewInstances(t *testing.T) {
	sb := ec2ManualSandbox(t)
	c := ec2Client(sb)
	sb.SetFaults(FaultRule{Service: "ec2", Action: "RunInstances", InvisibleFor: Duration{4 * time.Second}})
	id := aws.ToString(ec2RunOne(t, c).InstanceId)
	sb.SetFaults()

	_, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	ec2RequireCode(t, err, "InvalidInstanceID.NotFound")
	vols, err := c.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{})
	require.NoError(t, err)
	assert.Empty(t, vols.Volumes, "its volumes are not visible yet either")

	// The SDK's waiter retries InvalidInstanceID.NotFound until it shows up.
	done := make(chan error, 1)
	go func() {
		done <- ec2.NewInstanceRunningWaiter(c, ec2FastRunningWaiter).Wait(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}}, 10*time.Second)
	}()
	time.Sleep(30 * time.Millisecond)
	sb.AdvanceClock(RealisticTiming().InstancePending)
	require.NoError(t, <-done)
	vols, err = c.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{})
	require.NoError(t, err)
	assert.Len(t, vols.Volumes, 1)
}
