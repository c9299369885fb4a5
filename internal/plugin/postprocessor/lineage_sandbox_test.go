package postprocessor

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/sandbox"
)

const (
	home    = sandbox.DefaultRegion
	away    = "eu-west-1"
	channel = "/amibake/test/layers/base/latest"
)

// bake makes an AMI in home and, unless homeOnly, copies it to away.
func bake(t *testing.T, sb *sandbox.Sandbox, name string, homeOnly ...bool) (homeAMI, awayAMI string) {
	t.Helper()
	ctx := context.Background()
	ec2c := ec2.NewFromConfig(sb.Config)
	imgs, err := ec2c.DescribeImages(ctx, &ec2.DescribeImagesInput{
		Owners:  []string{"amazon"},
		Filters: []ec2types.Filter{{Name: aws.String("name"), Values: []string{"al2023-ami-2023*-x86_64"}}},
	})
	require.NoError(t, err)
	require.NotEmpty(t, imgs.Images)
	run, err := ec2c.RunInstances(ctx, &ec2.RunInstancesInput{
		ImageId: imgs.Images[0].ImageId, InstanceType: ec2types.InstanceTypeT3Small,
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
	})
	require.NoError(t, err)
	img, err := ec2c.CreateImage(ctx, &ec2.CreateImageInput{InstanceId: run.Instances[0].InstanceId, Name: aws.String(name)})
	require.NoError(t, err)
	homeAMI = aws.ToString(img.ImageId)
	if len(homeOnly) > 0 && homeOnly[0] {
		return homeAMI, ""
	}
	sb.Do(func(w *sandbox.World) { w.EC2.Images[homeAMI].State = "available" })
	cp, err := ec2.NewFromConfig(sb.Config, func(o *ec2.Options) { o.Region = away }).CopyImage(ctx, &ec2.CopyImageInput{
		Name: aws.String(name), SourceImageId: aws.String(homeAMI), SourceRegion: aws.String(home),
	})
	require.NoError(t, err)
	return homeAMI, aws.ToString(cp.ImageId)
}

func newPublisher(sb *sandbox.Sandbox) *publisher {
	return &publisher{
		ec2: func(region string) awsapi.EC2 {
			return ec2.NewFromConfig(sb.Config, func(o *ec2.Options) { o.Region = region })
		},
		ssm:     ssm.NewFromConfig(sb.Config),
		say:     func(string) {},
		poll:    20 * time.Millisecond,
		timeout: 10 * time.Second,
	}
}

// setPending makes an image pending for d of wall time.
func setPending(sb *sandbox.Sandbox, ami string, d time.Duration) {
	sb.Do(func(w *sandbox.World) {
		img := w.EC2.Images[ami]
		img.State, img.AvailableAt = "pending", sb.Clock().Now().Add(d)
	})
}

func channelValue(t *testing.T, sb *sandbox.Sandbox) (string, bool) {
	t.Helper()
	out, err := ssm.NewFromConfig(sb.Config).GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String(channel)})
	var nf *ssmtypes.ParameterNotFound
	if errors.As(err, &nf) {
		return "", false
	}
	require.NoError(t, err)
	return aws.ToString(out.Parameter.Value), true
}

func TestPublishWaitsTagsEveryCopyAndMovesChannel(t *testing.T) {
	sb := sandbox.Start(t)
	homeAMI, awayAMI := bake(t, sb, "base-1")
	setPending(sb, awayAMI, 400*time.Millisecond)
	p := newPublisher(sb)
	tags := map[string]string{"amibake:layer": "base", "amibake:fingerprint": "fp-1"}

	start := time.Now()
	err := p.publish(context.Background(), []RegionAMI{{away, awayAMI}, {home, homeAMI}}, home, tags, []string{channel})
	require.NoError(t, err)
	assert.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond, "waited for the pending copy")

	sb.Do(func(w *sandbox.World) {
		for _, ami := range []string{homeAMI, awayAMI} {
			img := w.EC2.Images[ami]
			assert.Equal(t, "available", img.State)
			assert.Equal(t, "fp-1", img.Tags["amibake:fingerprint"], ami)
			assert.Equal(t, "base", img.Tags["amibake:layer"], ami)
			require.NotEmpty(t, img.BlockDevices)
			for _, bd := range img.BlockDevices {
				snap := w.EC2.Snapshots[bd.SnapshotID]
				require.NotNil(t, snap, "snapshot %s of %s", bd.SnapshotID, ami)
				assert.Equal(t, "fp-1", snap.Tags["amibake:fingerprint"], snap.ID)
			}
		}
	})
	out, err := ssm.NewFromConfig(sb.Config).GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String(channel)})
	require.NoError(t, err)
	assert.Equal(t, homeAMI, aws.ToString(out.Parameter.Value), "the channel points at the build region's copy")
	assert.Equal(t, "aws:ec2:image", aws.ToString(out.Parameter.DataType))
	assert.Equal(t, ssmtypes.ParameterTypeString, out.Parameter.Type)

	// Publishing the next build overwrites the channel.
	next, _ := bake(t, sb, "base-2")
	require.NoError(t, p.publish(context.Background(), []RegionAMI{{home, next}}, home, nil, []string{channel}))
	v, _ := channelValue(t, sb)
	assert.Equal(t, next, v)
}

func TestPublishNeverMovesChannelToUnavailableAMI(t *testing.T) {
	sb := sandbox.Start(t)
	homeAMI, awayAMI := bake(t, sb, "base-1")
	p := newPublisher(sb)

	// A failed copy ends the wait at once.
	sb.Do(func(w *sandbox.World) {
		w.EC2.Images[awayAMI].State = "failed"
	})
	err := p.publish(context.Background(), []RegionAMI{{home, homeAMI}, {away, awayAMI}}, home, map[string]string{"k": "v"}, []string{channel})
	require.Error(t, err)
	assert.Contains(t, err.Error(), awayAMI+" in eu-west-1 is failed")
	_, exists := channelValue(t, sb)
	assert.False(t, exists)
	sb.Do(func(w *sandbox.World) { assert.Empty(t, w.EC2.Images[homeAMI].Tags["k"], "nothing tagged either") })

	// A copy that stays pending past the bound.
	sb.Do(func(w *sandbox.World) { w.EC2.Images[awayAMI].State = "available" })
	setPending(sb, awayAMI, time.Hour)
	p.timeout = 300 * time.Millisecond
	err = p.publish(context.Background(), []RegionAMI{{home, homeAMI}, {away, awayAMI}}, home, nil, []string{channel})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not available after 300ms")
	assert.Contains(t, err.Error(), "eu-west-1:"+awayAMI+" (pending)")
	assert.True(t, errors.Is(err, context.DeadlineExceeded))
	_, exists = channelValue(t, sb)
	assert.False(t, exists)

	// Cancellation ends the wait too.
	p.timeout = time.Minute
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	err = p.publish(ctx, []RegionAMI{{home, homeAMI}, {away, awayAMI}}, home, nil, []string{channel})
	require.Error(t, err)
	assert.True(t, errors.Is(err, context.Canceled))
	_, exists = channelValue(t, sb)
	assert.False(t, exists)

	// No AMI in the build region: nothing to point the channel at.
	err = p.publish(context.Background(), []RegionAMI{{away, awayAMI}}, home, nil, []string{channel})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no AMI in region us-east-1")
}

func TestPublishWaitsForAnImageNotVisibleYet(t *testing.T) {
	sb := sandbox.Start(t)
	sb.SetFaults(sandbox.FaultRule{Service: "ec2", Action: "CreateImage", InvisibleFor: sandbox.Duration{Duration: 400 * time.Millisecond}})
	homeAMI, _ := bake(t, sb, "base-1", true)
	sb.SetFaults()
	require.NoError(t, newPublisher(sb).publish(context.Background(), []RegionAMI{{home, homeAMI}}, home, nil, []string{channel}))
	notYet := 0
	for _, e := range sb.Log() {
		if e.Action == "DescribeImages" && e.Error == "InvalidAMIID.NotFound" {
			notYet++
		}
	}
	assert.Positive(t, notYet, "the image was invisible at first")
	v, _ := channelValue(t, sb)
	assert.Equal(t, homeAMI, v)
}

func TestPostProcessKeepsTheArtifact(t *testing.T) {
	sb := sandbox.Start(t)
	homeAMI, awayAMI := bake(t, sb, "base-1")
	var p PostProcessor
	require.NoError(t, p.Configure(map[string]interface{}{
		"region":        home,
		"endpoint":      sb.URL(),
		"access_key":    sandbox.AccessKeyID,
		"secret_key":    sandbox.SecretAccessKey,
		"channels":      []string{channel},
		"tags":          map[string]string{"amibake:build-id": "b-1"},
		"poll_interval": "20ms",
	}))
	in := &packersdk.MockArtifact{BuilderIdValue: "mitchellh.amazonebs", IdValue: home + ":" + homeAMI + "," + away + ":" + awayAMI}
	out, keep, force, err := p.PostProcess(context.Background(), packersdk.TestUi(t), in)
	require.NoError(t, err)
	assert.Same(t, in, out)
	assert.False(t, in.DestroyCalled)
	assert.True(t, keep)
	assert.True(t, force)
	v, _ := channelValue(t, sb)
	assert.Equal(t, homeAMI, v)
	sb.Do(func(w *sandbox.World) { assert.Equal(t, "b-1", w.EC2.Images[awayAMI].Tags["amibake:build-id"]) })
}
