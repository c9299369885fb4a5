package rollout_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/channel/channeltest/clitest"
)

func (w *world) status(t *testing.T, want int, args ...string) string {
	t.Helper()
	code, out, errOut := clitest.Run(t, w.sb, w.dir, append([]string{"rollout", "status", "web"}, args...)...)
	require.Equal(t, want, code, "status %v\nstdout:\n%s\nstderr:\n%s", args, out, errOut)
	return out
}

// --exit-status: 0 nothing in progress, 5 paused, 1 aborted; without the
// flag status always exits 0.
func TestStatusExitStatusPausedAndAborted(t *testing.T) {
	w := setup(t, "1h")
	assert.NotContains(t, w.status(t, 0, "--exit-status"), "Fleet web:", "no rollout yet")

	code, out, errOut := clitest.Run(t, w.sb, w.dir, "rollout", "web", "--apply", "--poll", "20ms", "--wait", "100ms")
	require.Equal(t, 5, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	assert.Contains(t, w.status(t, 5, "--exit-status"), "Fleet web: paused")
	w.status(t, 0)
	code, _, errOut = clitest.Run(t, w.sb, w.dir, "-o", "json", "rollout", "status", "web", "--exit-status")
	assert.Equal(t, 5, code, errOut)

	code, out, errOut = clitest.Run(t, w.sb, w.dir, "rollout", "abort", "web", "--poll", "20ms")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	assert.Contains(t, w.status(t, 1, "--exit-status"), "Fleet web: aborted")
	w.status(t, 0)
}

// A refresh still running is 2 (not done: ask again), rolled back by abort
// 1, a finished rollout 0.
func TestStatusExitStatusRunningAndSucceeded(t *testing.T) {
	w := setup(t, "1s")
	ctx := context.Background()
	// A rollout's refresh as a run that was killed while following it
	// left it: its version, and the refresh waiting at its first checkpoint.
	v, err := ec2.NewFromConfig(w.sb.Config).CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{
		LaunchTemplateId: aws.String(w.ltID), SourceVersion: aws.String("1"),
		VersionDescription: aws.String(fmt.Sprintf("amibake rollout web: %s → %s (from version 1)", w.old.Home(), w.new.Home())),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(w.new.Home())}})
	require.NoError(t, err)
	_, err = autoscaling.NewFromConfig(w.sb.Config).StartInstanceRefresh(ctx, &autoscaling.StartInstanceRefreshInput{
		AutoScalingGroupName: aws.String("web-prod-a"),
		DesiredConfiguration: &astypes.DesiredConfiguration{LaunchTemplate: &astypes.LaunchTemplateSpecification{
			LaunchTemplateId: aws.String(w.ltID), Version: aws.String(fmt.Sprint(aws.ToInt64(v.LaunchTemplateVersion.VersionNumber)))}},
		Preferences: &astypes.RefreshPreferences{CheckpointPercentages: []int32{10, 100}, CheckpointDelay: aws.Int32(3600),
			MinHealthyPercentage: aws.Int32(90), SkipMatching: aws.Bool(true)}})
	require.NoError(t, err)
	assert.Contains(t, w.status(t, 2, "--exit-status"), "Fleet web: in-progress")
	w.status(t, 0)

	code, out, errOut := clitest.Run(t, w.sb, w.dir, "rollout", "abort", "web", "--poll", "20ms")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	assert.Contains(t, w.status(t, 1, "--exit-status"), "Fleet web: aborted")

	code, out, errOut = clitest.Run(t, w.sb, w.dir, "rollout", "web", "--apply", "--poll", "20ms")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	assert.Contains(t, w.status(t, 0, "--exit-status"), "Fleet web: succeeded")
}
