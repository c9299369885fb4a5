package rollout_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/retire"
	"github.com/amibake/amibake/internal/rollout"
	"github.com/amibake/amibake/internal/sandbox"
)

// finishWorld is replaceWorld with the old build copied to a second
// region and a Retirer over both regions.
func finishWorld(t *testing.T) (*sandbox.Sandbox, *rollout.Rollout, string, string, string) {
	t.Helper()
	sb, r, old, newAMI := replaceWorld(t)
	var oldCopy string
	sb.Do(func(sw *sandbox.World) {
		src := sw.EC2.Images[old]
		oldCopy = sw.NewID("ami")
		cp := *src
		cp.ID, cp.Region = oldCopy, "eu-west-1"
		sw.EC2.Images[oldCopy] = &cp
	})
	c := awsapi.NewClients(sb.Config)
	r.Retirer = &retire.Retirer{EC2: c.EC2, AutoScaling: c.AutoScaling, SSM: c.SSM, Paths: paths,
		Regions: []string{"us-east-1", "eu-west-1"}, Now: sb.Clock().Now}
	return sb, r, old, oldCopy, newAMI
}

func deprecated(sb *sandbox.Sandbox, ami string) bool {
	var dep bool
	sb.Do(func(sw *sandbox.World) {
		img := sw.EC2.Images[ami]
		dep = img != nil && !img.DeprecationTime.IsZero() // EC2 rounds it to the nearest minute
	})
	return dep
}

// A run killed after finish moved the default version, before the prune
// and the retire (crash point rollout.default-version-set): the re-run
// finishes them instead of "Nothing to do", and the next one does nothing.
func TestReplaceRerunFinishesAfterTheDefaultMoved(t *testing.T) {
	sb, r, old, oldCopy, newAMI := finishWorld(t)
	ctx := context.Background()
	c := ec2.NewFromConfig(sb.Config)
	// What the killed run left: the default moved, nothing pruned or retired.
	retirer := r.Retirer
	r.Retirer, r.Fleet.Retire.Keep = nil, 10
	rep, err := r.Replace(ctx)
	require.NoError(t, err)
	require.Equal(t, rollout.OutcomeSucceeded, rep.Outcome)
	for _, g := range []string{"web-a", "web-b"} {
		require.Equal(t, []int64{2, 1}, templateVersions(t, c, g))
	}
	require.False(t, deprecated(sb, old))

	r.Retirer, r.Fleet.Retire.Keep = retirer, 1
	// The dry run says what the re-run will do and changes nothing.
	r.Apply = false
	var out bytes.Buffer
	r.Out = &out
	rep, err = r.Replace(ctx)
	require.NoError(t, err)
	assert.Equal(t, rollout.OutcomePlanned, rep.Outcome)
	assert.Contains(t, out.String(), "stopped before it finished: prune the old versions, retire "+old)
	assert.Contains(t, out.String(), "--apply to finish the interrupted rollout")
	assert.Equal(t, []int64{2, 1}, templateVersions(t, c, "web-a"))

	r.Apply = true
	out.Reset()
	sb.ResetLog()
	rep, err = r.Replace(ctx)
	require.NoError(t, err, out.String())
	assert.Equal(t, rollout.OutcomeSucceeded, rep.Outcome)
	assert.Contains(t, rep.Reason, "finished an interrupted rollout")
	assert.Contains(t, out.String(), "Finished the interrupted rollout of web")
	assert.Zero(t, sb.CountFirstAttempts("ec2", "ModifyLaunchTemplate"), "the default had moved already")
	assert.Zero(t, sb.CountFirstAttempts("ec2", "CreateLaunchTemplateVersion"))
	assert.Zero(t, sb.CountFirstAttempts("autoscaling", "StartInstanceRefresh"))
	for _, g := range []string{"web-a", "web-b"} {
		assert.Equal(t, []int64{2}, templateVersions(t, c, g), "retire.keep 1: only the default")
		assert.Equal(t, map[string]int{newAMI: 4}, groupImages(sb, g))
	}
	assert.True(t, deprecated(sb, old), "the replaced AMI is retired\n%s", out.String())
	assert.True(t, deprecated(sb, oldCopy), "in every region")
	assert.False(t, deprecated(sb, newAMI))

	// Idempotent: the next re-run does nothing, cheaply (no retire sweep).
	out.Reset()
	sb.ResetLog()
	rep, err = r.Replace(ctx)
	require.NoError(t, err)
	assert.Equal(t, rollout.OutcomeNothing, rep.Outcome, out.String())
	assert.Empty(t, rep.Changed)
	assert.Zero(t, sb.CountFirstAttempts("ec2", "DeleteLaunchTemplateVersions"))
	assert.Zero(t, sb.CountFirstAttempts("ec2", "DescribeInstances"), "no retire sweep")
	assert.Equal(t, 2, sb.CountFirstAttempts("ec2", "DescribeImages")-1, "the target, then the layer once per region")
}

// Killed after the prune, before or inside the retire (rollout.finished,
// retire.deprecated#1: the home copy deprecated, the other region's not):
// nothing in the template tells, the layer's AMIs do.
func TestReplaceRerunFinishesTheRetire(t *testing.T) {
	sb, r, old, oldCopy, _ := finishWorld(t)
	ctx := context.Background()
	retirer := r.Retirer
	r.Retirer = nil
	rep, err := r.Replace(ctx)
	require.NoError(t, err)
	require.Equal(t, rollout.OutcomeSucceeded, rep.Outcome)
	require.Equal(t, []int64{2}, templateVersions(t, ec2.NewFromConfig(sb.Config), "web-a"), "pruned")
	// The home copy deprecated by the killed run's retire, the copy not.
	sb.Do(func(sw *sandbox.World) { sw.EC2.Images[old].DeprecationTime = sb.Clock().Now() })
	sb.AdvanceClock(time.Minute)

	r.Retirer = retirer
	sb.ResetLog()
	rep, err = r.Replace(ctx)
	require.NoError(t, err)
	assert.Equal(t, rollout.OutcomeSucceeded, rep.Outcome)
	assert.Contains(t, rep.Reason, "finished an interrupted rollout")
	assert.True(t, deprecated(sb, oldCopy), "the copy the killed run left is deprecated")
	assert.Zero(t, sb.CountFirstAttempts("ec2", "DeleteLaunchTemplateVersions"))

	rep, err = r.Replace(ctx)
	require.NoError(t, err)
	assert.Equal(t, rollout.OutcomeNothing, rep.Outcome)
}

// The default retire.keep (3) keeps the replaced AMI: a finished rollout
// leaves it undeprecated on purpose, and a re-run must not take that for
// a retire left to do (nor sweep the project to find out).
func TestReplaceRerunAfterAKeptAMIDoesNothing(t *testing.T) {
	sb, r, old, _, _ := finishWorld(t)
	ctx := context.Background()
	r.Fleet.Retire.Keep = 3
	rep, err := r.Replace(ctx)
	require.NoError(t, err)
	require.Equal(t, rollout.OutcomeSucceeded, rep.Outcome)
	require.False(t, deprecated(sb, old), "among the newest 3")

	sb.ResetLog()
	rep, err = r.Replace(ctx)
	require.NoError(t, err)
	assert.Equal(t, rollout.OutcomeNothing, rep.Outcome)
	assert.Zero(t, sb.CountFirstAttempts("ec2", "DescribeInstances"), "no retire sweep")
	assert.Equal(t, 2, sb.CountFirstAttempts("autoscaling", "DescribeAutoScalingGroups"), "only the fleet's groups (preflight, read)")
}

// Resume after the default moved finishes the same way, and does not move
// the default again.
func TestResumeAfterTheDefaultMovedFinishes(t *testing.T) {
	sb, r, old, _, _ := finishWorld(t)
	ctx := context.Background()
	retirer := r.Retirer
	r.Retirer, r.Fleet.Retire.Keep = nil, 10
	_, err := r.Replace(ctx)
	require.NoError(t, err)

	r.Retirer, r.Fleet.Retire.Keep = retirer, 1
	sb.ResetLog()
	rep, err := r.Resume(ctx)
	require.NoError(t, err)
	assert.Equal(t, rollout.OutcomeSucceeded, rep.Outcome)
	assert.Zero(t, sb.CountFirstAttempts("ec2", "ModifyLaunchTemplate"), "the default had moved already")
	assert.NotContains(t, rep.Changed, "launch template web-a default version 2")
	assert.Equal(t, []int64{2}, templateVersions(t, ec2.NewFromConfig(sb.Config), "web-a"))
	assert.True(t, deprecated(sb, old))
}

// prunable keeps a version made after the rollout's (by someone else).
func TestRerunKeepsAVersionMadeSince(t *testing.T) {
	sb, r, old, _, _ := finishWorld(t)
	ctx := context.Background()
	c := ec2.NewFromConfig(sb.Config)
	retirer := r.Retirer
	r.Retirer, r.Fleet.Retire.Keep = nil, 10
	_, err := r.Replace(ctx)
	require.NoError(t, err)
	_, err = c.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{LaunchTemplateName: aws.String("web-a"), SourceVersion: aws.String("1"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(old)}, VersionDescription: aws.String("by hand")})
	require.NoError(t, err)
	r.Retirer, r.Fleet.Retire.Keep = retirer, 1
	_, err = r.Replace(ctx)
	require.NoError(t, err)
	assert.Equal(t, []int64{3, 2}, templateVersions(t, c, "web-a"), "version 1 pruned, 3 (made since) kept")
}
