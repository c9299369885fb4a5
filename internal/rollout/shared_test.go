package rollout_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/retire"
	"github.com/amibake/amibake/internal/rollout"
	"github.com/amibake/amibake/internal/sandbox"
)

// sharedWorld is replaceWorld with web-b moved onto web-a's launch
// template: on its version 1 (shared), or on a version 2 made for it.
func sharedWorld(t *testing.T, ownVersion bool) (*sandbox.Sandbox, *rollout.Rollout, string, string) {
	t.Helper()
	sb, r, old, newAMI := replaceWorld(t)
	ctx := context.Background()
	c := ec2.NewFromConfig(sb.Config)
	lt, err := c.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{LaunchTemplateNames: []string{"web-a"}})
	require.NoError(t, err)
	id := aws.ToString(lt.LaunchTemplates[0].LaunchTemplateId)
	version := "1"
	if ownVersion {
		v, err := c.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{LaunchTemplateId: aws.String(id), SourceVersion: aws.String("1"),
			LaunchTemplateData: &ec2types.RequestLaunchTemplateData{InstanceType: ec2types.InstanceTypeT3Small}})
		require.NoError(t, err)
		version = "2"
		require.Equal(t, int64(2), aws.ToInt64(v.LaunchTemplateVersion.VersionNumber))
	}
	_, err = autoscaling.NewFromConfig(sb.Config).UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String("web-b"),
		LaunchTemplate: &astypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(id), Version: aws.String(version)}})
	require.NoError(t, err)
	// web-b's own template would keep the old AMI in use for ever.
	_, err = c.DeleteLaunchTemplate(ctx, &ec2.DeleteLaunchTemplateInput{LaunchTemplateName: aws.String("web-b")})
	require.NoError(t, err)
	return sb, r, old, newAMI
}

func groupVersion(t *testing.T, sb *sandbox.Sandbox, name string) string {
	t.Helper()
	out, err := autoscaling.NewFromConfig(sb.Config).DescribeAutoScalingGroups(context.Background(),
		&autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}})
	require.NoError(t, err)
	require.Len(t, out.AutoScalingGroups, 1)
	return aws.ToString(out.AutoScalingGroups[0].LaunchTemplate.Version)
}

// Two groups on one version of one template: one new version, both
// refreshed to it, its default set and the old version pruned once.
func TestSharedTemplateGetsOneVersion(t *testing.T) {
	sb, r, _, newAMI := sharedWorld(t, false)
	asked := -1
	r.Confirm = func(_ context.Context, n int) error { asked = n; return nil }
	sb.ResetLog()
	rep, err := r.Replace(context.Background())
	require.NoError(t, err)
	assert.Equal(t, rollout.OutcomeSucceeded, rep.Outcome)
	assert.Equal(t, 1, sb.CountFirstAttempts("ec2", "CreateLaunchTemplateVersion"))
	assert.Equal(t, 1, sb.CountFirstAttempts("ec2", "ModifyLaunchTemplate"))
	assert.Equal(t, 1, sb.CountFirstAttempts("ec2", "DeleteLaunchTemplateVersions"), "pruned once")
	assert.Equal(t, 2, sb.CountFirstAttempts("autoscaling", "StartInstanceRefresh"))
	assert.Equal(t, 3, asked, "one template version and two refreshes")
	for _, g := range rep.Groups {
		assert.Equal(t, int64(2), g.ToVersion, g.Name)
		assert.Equal(t, map[string]int{newAMI: 4}, groupImages(sb, g.Name), g.Name)
		assert.Equal(t, "2", groupVersion(t, sb, g.Name), g.Name)
	}
	assert.Equal(t, []int64{2}, templateVersions(t, ec2.NewFromConfig(sb.Config), "web-a"), "retire.keep 1")

	st, err := r.Status(context.Background())
	require.NoError(t, err)
	assert.Equal(t, rollout.OutcomeSucceeded, st.Outcome)
	rep, err = r.Replace(context.Background())
	require.NoError(t, err)
	assert.Equal(t, rollout.OutcomeNothing, rep.Outcome)
}

// A pause holds both groups on the shared version; abort brings both back
// to the version they shared.
func TestSharedTemplatePauseAndAbort(t *testing.T) {
	sb, r, old, newAMI := sharedWorld(t, false)
	rep := pause(t, r)
	for _, g := range rep.Groups {
		assert.Equal(t, int64(2), g.ToVersion, g.Name)
		assert.Equal(t, "lt", asgTags(t, sb, g.Name)[rollout.TagVersion][:2], g.Name)
	}
	assert.Equal(t, asgTags(t, sb, "web-a")[rollout.TagVersion], asgTags(t, sb, "web-b")[rollout.TagVersion], "one version held")
	st, err := r.Status(context.Background())
	require.NoError(t, err)
	assert.Equal(t, rollout.OutcomePaused, st.Outcome)

	rep, err = r.Abort(context.Background())
	require.NoError(t, err)
	assert.Equal(t, rollout.OutcomeAborted, rep.Outcome)
	for _, name := range []string{"web-a", "web-b"} {
		assert.Equal(t, map[string]int{old: 4}, groupImages(sb, name), name)
		assert.Equal(t, "1", groupVersion(t, sb, name), name)
	}
	letTimePass(sb, time.Hour)
	assert.Equal(t, map[string]int{old: 4}, groupImages(sb, "web-b"), "held")

	// A new rollout shares one version again and finishes.
	rep, err = r.Replace(context.Background())
	require.NoError(t, err)
	assert.Equal(t, rollout.OutcomeSucceeded, rep.Outcome)
	assert.Equal(t, rep.Groups[0].ToVersion, rep.Groups[1].ToVersion)
	for _, name := range []string{"web-a", "web-b"} {
		assert.Equal(t, map[string]int{newAMI: 4}, groupImages(sb, name), name)
	}
}

// Groups on different versions of one template each get their own new
// version; the rollout still finishes (the newest is the default, the
// other is not taken for an unfinished rollout).
func TestTemplateOnDifferentVersionsGetsTwo(t *testing.T) {
	sb, r, _, newAMI := sharedWorld(t, true)
	asked := -1
	r.Confirm = func(_ context.Context, n int) error { asked = n; return nil }
	sb.ResetLog()
	rep, err := r.Replace(context.Background())
	require.NoError(t, err)
	assert.Equal(t, rollout.OutcomeSucceeded, rep.Outcome)
	assert.Equal(t, 2, sb.CountFirstAttempts("ec2", "CreateLaunchTemplateVersion"))
	assert.Equal(t, 4, asked, "two template versions and two refreshes")
	assert.Equal(t, int64(3), rep.Groups[0].ToVersion)
	assert.Equal(t, int64(4), rep.Groups[1].ToVersion)
	for _, g := range rep.Groups {
		assert.Equal(t, map[string]int{newAMI: 4}, groupImages(sb, g.Name), g.Name)
	}
	out, err := ec2.NewFromConfig(sb.Config).DescribeLaunchTemplates(context.Background(), &ec2.DescribeLaunchTemplatesInput{LaunchTemplateNames: []string{"web-a"}})
	require.NoError(t, err)
	assert.Equal(t, int64(4), aws.ToInt64(out.LaunchTemplates[0].DefaultVersionNumber))
	assert.Equal(t, []int64{4, 3}, templateVersions(t, ec2.NewFromConfig(sb.Config), "web-a"), "both in use, the older pruned")

	st, err := r.Status(context.Background())
	require.NoError(t, err)
	assert.Equal(t, rollout.OutcomeSucceeded, st.Outcome, "web-a's version 3 is not the default, but the rollout finished")
	assert.Empty(t, st.Reason, "nothing left to prune")
	rep, err = r.Replace(context.Background())
	require.NoError(t, err)
	assert.Equal(t, rollout.OutcomeNothing, rep.Outcome)
}

// The dry run plans one CreateLaunchTemplateVersion for the shared version.
func TestSharedTemplatePlan(t *testing.T) {
	sb, r, _, newAMI := sharedWorld(t, false)
	r.Apply = false
	var out bytes.Buffer
	r.Out = &out
	rep, err := r.Replace(context.Background())
	require.NoError(t, err)
	assert.Equal(t, rollout.OutcomePlanned, rep.Outcome)
	creates := 0
	for _, c := range rep.Calls {
		if strings.HasPrefix(c, "ec2:CreateLaunchTemplateVersion") {
			creates++
		}
	}
	assert.Equal(t, 1, creates, "%v", rep.Calls)
	assert.Contains(t, out.String(), "web-a: web-a version 1")
	assert.Contains(t, out.String(), "→ new version with ImageId "+newAMI)
	assert.Contains(t, out.String(), "web-b: web-a version 1 (")
	assert.Contains(t, out.String(), "→ the new version of web-a;")
	assert.Zero(t, sb.CountFirstAttempts("ec2", "CreateLaunchTemplateVersion"))
}

// A finish cut short after the shared version became the default: the
// re-run prunes the template once and retires once.
func TestSharedTemplateFinishRerun(t *testing.T) {
	sb, r, old, _ := sharedWorld(t, false)
	ctx := context.Background()
	r.Fleet.Retire.Keep = 10
	_, err := r.Replace(ctx)
	require.NoError(t, err)
	require.Equal(t, []int64{2, 1}, templateVersions(t, ec2.NewFromConfig(sb.Config), "web-a"))

	c := awsapi.NewClients(sb.Config)
	r.Retirer = &retire.Retirer{EC2: c.EC2, AutoScaling: c.AutoScaling, SSM: c.SSM, Paths: paths, Regions: []string{"us-east-1"}, Now: sb.Clock().Now}
	r.Fleet.Retire.Keep = 1
	st, err := r.Status(ctx)
	require.NoError(t, err)
	assert.Contains(t, st.Reason, "finish pending")

	asked := -1
	r.Confirm = func(_ context.Context, n int) error { asked = n; return nil }
	sb.ResetLog()
	rep, err := r.Replace(ctx)
	require.NoError(t, err)
	assert.Contains(t, rep.Reason, "finished an interrupted rollout")
	assert.Equal(t, 2, asked, "one prune of the shared template, one retire")
	assert.Equal(t, 1, sb.CountFirstAttempts("ec2", "DeleteLaunchTemplateVersions"))
	assert.Zero(t, sb.CountFirstAttempts("ec2", "ModifyLaunchTemplate"))
	assert.Equal(t, []int64{2}, templateVersions(t, ec2.NewFromConfig(sb.Config), "web-a"))
	assert.True(t, deprecated(sb, old))
}
