package datasource

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

	"github.com/amibake/amibake/internal/sandbox"
)

const channelName = "/amibake/test/layers/base/latest"

// ownImage bakes an AMI in the sandbox account: launch, CreateImage, wait.
func ownImage(t *testing.T, sb *sandbox.Sandbox, ec2c *ec2.Client, name string, tags map[string]string) string {
	t.Helper()
	ctx := context.Background()
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
	id := aws.ToString(img.ImageId)
	var ts []ec2types.Tag
	for k, v := range tags {
		ts = append(ts, ec2types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	if len(ts) > 0 {
		_, err = ec2c.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{id}, Tags: ts})
		require.NoError(t, err)
	}
	w := ec2.NewImageAvailableWaiter(ec2c, func(o *ec2.ImageAvailableWaiterOptions) {
		o.MinDelay, o.MaxDelay = 10*time.Millisecond, 50*time.Millisecond
	})
	require.NoError(t, w.Wait(ctx, &ec2.DescribeImagesInput{ImageIds: []string{id}}, 10*time.Second))
	return id
}

func putChannel(t *testing.T, ssmc *ssm.Client, value string, dataType string) {
	t.Helper()
	in := &ssm.PutParameterInput{Name: aws.String(channelName), Value: aws.String(value), Type: ssmtypes.ParameterTypeString, Overwrite: aws.Bool(true)}
	if dataType != "" {
		in.DataType = aws.String(dataType)
	}
	_, err := ssmc.PutParameter(context.Background(), in)
	require.NoError(t, err)
}

func TestResolve(t *testing.T) {
	sb := sandbox.Start(t)
	ctx := context.Background()
	ec2c, ssmc := ec2.NewFromConfig(sb.Config), ssm.NewFromConfig(sb.Config)
	ami := ownImage(t, sb, ec2c, "base-1", map[string]string{TagFingerprint: "fp-1"})

	_, err := Resolve(ctx, ssmc, ec2c, channelName)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "does not exist")

	putChannel(t, ssmc, ami, "aws:ec2:image")
	putChannel(t, ssmc, ami, "aws:ec2:image")
	out, err := Resolve(ctx, ssmc, ec2c, channelName)
	require.NoError(t, err)
	assert.Equal(t, DatasourceOutput{ImageID: ami, ParameterVersion: "2", ImageName: "base-1", Fingerprint: "fp-1"}, out)

	// A version selector goes through.
	out, err = Resolve(ctx, ssmc, ec2c, channelName+":1")
	require.NoError(t, err)
	assert.Equal(t, "1", out.ParameterVersion)

	// Not available (the instant clock would finish a pending image on the
	// next request, so use an end state).
	sb.Do(func(w *sandbox.World) { w.EC2.Images[ami].State = "failed" })
	_, err = Resolve(ctx, ssmc, ec2c, channelName)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "which is failed, not available")
	sb.Do(func(w *sandbox.World) { w.EC2.Images[ami].State = "available" })

	// Revoked.
	_, err = ec2c.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{ami}, Tags: []ec2types.Tag{{Key: aws.String(TagRevoked), Value: aws.String("bad kernel")}}})
	require.NoError(t, err)
	_, err = Resolve(ctx, ssmc, ec2c, channelName)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is revoked (bad kernel): refusing to build on it")

	// Deregistered.
	_, err = ec2c.DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: aws.String(ami)})
	require.NoError(t, err)
	_, err = Resolve(ctx, ssmc, ec2c, channelName)
	require.Error(t, err)
	assert.Contains(t, err.Error(), ami)

	// Not an AMI id at all.
	_, err = ssmc.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/amibake/test/other"), Value: aws.String("hello"), Type: ssmtypes.ParameterTypeString})
	require.NoError(t, err)
	_, err = Resolve(ctx, ssmc, ec2c, "/amibake/test/other")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `holds "hello", not an AMI id`)
}

func TestExecuteThroughConfig(t *testing.T) {
	sb := sandbox.Start(t)
	ec2c, ssmc := ec2.NewFromConfig(sb.Config), ssm.NewFromConfig(sb.Config)
	ami := ownImage(t, sb, ec2c, "base-2", nil)
	putChannel(t, ssmc, ami, "aws:ec2:image")

	var d Datasource
	require.NoError(t, d.Configure(map[string]interface{}{
		"parameter":  channelName,
		"region":     sandbox.DefaultRegion,
		"endpoint":   sb.URL(),
		"access_key": sandbox.AccessKeyID,
		"secret_key": sandbox.SecretAccessKey,
	}))
	v, err := d.Execute()
	require.NoError(t, err)
	assert.Equal(t, ami, v.GetAttr("image_id").AsString())
	assert.Equal(t, "1", v.GetAttr("parameter_version").AsString())
	assert.Equal(t, "", v.GetAttr("fingerprint").AsString())
	assert.Positive(t, sb.CountCalls("sts", "GetCallerIdentity"), "credentials are validated first")
}
