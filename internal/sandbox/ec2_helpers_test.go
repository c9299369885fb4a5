package sandbox

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"
)

// Accounts used by the EC2 tests besides DefaultAccount.
const ec2OtherAccount = "210987654321"

var ctx = context.Background()

func ec2Client(sb *Sandbox) *ec2.Client { return ec2.NewFromConfig(sb.Config) }

func ec2ClientFor(sb *Sandbox, account, region string) *ec2.Client {
	return ec2.NewFromConfig(sb.ConfigFor(account, region))
}

// ec2ManualSandbox starts a sandbox whose clock only moves by AdvanceClock,
// with realistic transition delays.
func ec2ManualSandbox(t *testing.T) *Sandbox {
	t.Helper()
	return Start(t, func(o *Options) {
		o.Mode = ClockManual
		o.Start = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		tm := RealisticTiming()
		o.Timing = &tm
	})
}

// ec2RequireCode asserts err is an AWS API error with the exact code.
func ec2RequireCode(t *testing.T, err error, code string) {
	t.Helper()
	require.Error(t, err, "expected %s", code)
	var ae smithy.APIError
	require.True(t, errors.As(err, &ae), "not an API error: %v", err)
	require.Equal(t, code, ae.ErrorCode(), "message: %s", ae.ErrorMessage())
}

// fastWaiters keeps SDK waiters polling quickly in tests.
func ec2FastImageWaiter(o *ec2.ImageAvailableWaiterOptions) {
	o.MinDelay, o.MaxDelay = 10*time.Millisecond, 50*time.Millisecond
}

func ec2FastRunningWaiter(o *ec2.InstanceRunningWaiterOptions) {
	o.MinDelay, o.MaxDelay = 10*time.Millisecond, 50*time.Millisecond
}

func ec2FastStoppedWaiter(o *ec2.InstanceStoppedWaiterOptions) {
	o.MinDelay, o.MaxDelay = 10*time.Millisecond, 50*time.Millisecond
}

func ec2FastTerminatedWaiter(o *ec2.InstanceTerminatedWaiterOptions) {
	o.MinDelay, o.MaxDelay = 10*time.Millisecond, 50*time.Millisecond
}

// ec2LatestAL2023 returns the newest public AL2023 x86_64 image of the region.
func ec2LatestAL2023(t *testing.T, c *ec2.Client) types.Image {
	t.Helper()
	out, err := c.DescribeImages(ctx, &ec2.DescribeImagesInput{
		Owners:  []string{"amazon"},
		Filters: []types.Filter{{Name: aws.String("name"), Values: []string{"al2023-ami-2023.*-kernel-6.1-x86_64"}}},
	})
	require.NoError(t, err)
	require.NotEmpty(t, out.Images)
	best := out.Images[0]
	for _, img := range out.Images {
		if aws.ToString(img.CreationDate) > aws.ToString(best.CreationDate) {
			best = img
		}
	}
	return best
}

// ec2RunOne launches one instance of the newest AL2023 image and returns it.
func ec2RunOne(t *testing.T, c *ec2.Client, mods ...func(*ec2.RunInstancesInput)) types.Instance {
	t.Helper()
	in := &ec2.RunInstancesInput{
		ImageId: ec2LatestAL2023(t, c).ImageId, InstanceType: types.InstanceTypeT3Small,
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
	}
	for _, m := range mods {
		m(in)
	}
	out, err := c.RunInstances(ctx, in)
	require.NoError(t, err)
	require.Len(t, out.Instances, 1)
	return out.Instances[0]
}

// ec2BakeImage runs an instance, waits for it and creates an image from it,
// returning the image id once available (instant clock).
func ec2BakeImage(t *testing.T, c *ec2.Client, name string) string {
	t.Helper()
	inst := ec2RunOne(t, c)
	require.NoError(t, ec2.NewInstanceRunningWaiter(c, ec2FastRunningWaiter).Wait(ctx,
		&ec2.DescribeInstancesInput{InstanceIds: []string{*inst.InstanceId}}, 5*time.Second))
	out, err := c.CreateImage(ctx, &ec2.CreateImageInput{InstanceId: inst.InstanceId, Name: aws.String(name)})
	require.NoError(t, err)
	require.NoError(t, ec2.NewImageAvailableWaiter(c, ec2FastImageWaiter).Wait(ctx,
		&ec2.DescribeImagesInput{ImageIds: []string{*out.ImageId}}, 5*time.Second))
	return *out.ImageId
}
