package sandbox

import (
	"context"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestASGEndToEndWithEC2Client drives a group the way amibake's rollout
// does: launch templates and instances through the EC2 API, the group and
// its refreshes through Auto Scaling, a bad AMI marked through the admin API.
func TestASGEndToEndWithEC2Client(t *testing.T) {
	sb := Start(t, asgManual(Timing{InstancePending: 5 * time.Second, InstanceShutdown: 5 * time.Second}))
	ctx := context.Background()
	e := ec2.NewFromConfig(sb.Config)
	c := autoscaling.NewFromConfig(sb.Config)

	imgs, err := e.DescribeImages(ctx, &ec2.DescribeImagesInput{
		Owners:  []string{"amazon"},
		Filters: []ec2types.Filter{{Name: aws.String("name"), Values: []string{"al2023-ami-2023.*-x86_64"}}},
	})
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(imgs.Images), 3, "the region is seeded with AL2023 releases")
	sort.Slice(imgs.Images, func(i, j int) bool {
		return aws.ToString(imgs.Images[i].CreationDate) < aws.ToString(imgs.Images[j].CreationDate)
	})
	old, cur, next := aws.ToString(imgs.Images[0].ImageId), aws.ToString(imgs.Images[1].ImageId), aws.ToString(imgs.Images[2].ImageId)

	lt, err := e.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String("web"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{
			ImageId: aws.String(old), InstanceType: ec2types.InstanceTypeT3Small,
			TagSpecifications: []ec2types.LaunchTemplateTagSpecificationRequest{{
				ResourceType: ec2types.ResourceTypeInstance, Tags: []ec2types.Tag{{Key: aws.String("role"), Value: aws.String("web")}},
			}},
		},
	})
	require.NoError(t, err)
	ltID := aws.ToString(lt.LaunchTemplate.LaunchTemplateId)
	subnets, err := e.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{{Name: aws.String("default-for-az"), Values: []string{"true"}}}})
	require.NoError(t, err)
	var ids []string
	for _, s := range subnets.Subnets {
		ids = append(ids, aws.ToString(s.SubnetId))
	}
	require.NotEmpty(t, ids)

	_, err = c.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String("web-prod-a"), MinSize: aws.Int32(3), MaxSize: aws.Int32(6),
		LaunchTemplate:    &types.LaunchTemplateSpecification{LaunchTemplateName: aws.String("web"), Version: aws.String("1")},
		VPCZoneIdentifier: aws.String(joinComma(ids)), HealthCheckGracePeriod: aws.Int32(30),
		Tags: []types.Tag{{Key: aws.String("fleet"), Value: aws.String("web"), PropagateAtLaunch: aws.Bool(true)}},
	})
	require.NoError(t, err)
	sb.AdvanceClock(5 * time.Second)

	running := func() map[string]string {
		out, err := e.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
			{Name: aws.String("tag:aws:autoscaling:groupName"), Values: []string{"web-prod-a"}},
			{Name: aws.String("instance-state-name"), Values: []string{"running"}},
		}})
		require.NoError(t, err)
		m := map[string]string{}
		for _, r := range out.Reservations {
			for _, i := range r.Instances {
				m[aws.ToString(i.InstanceId)] = aws.ToString(i.ImageId)
			}
		}
		return m
	}
	first := running()
	require.Len(t, first, 3)
	for _, img := range first {
		assert.Equal(t, old, img)
	}

	// An instance terminated through EC2 is replaced.
	var victim string
	for id := range first {
		victim = id
		break
	}
	_, err = e.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{victim}})
	require.NoError(t, err)
	sb.AdvanceClock(10 * time.Second)
	second := running()
	require.Len(t, second, 3)
	assert.NotContains(t, second, victim)

	// Version 2 (a newer AMI) rolls out with a refresh.
	v2, err := e.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{
		LaunchTemplateId: aws.String(ltID), SourceVersion: aws.String("1"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(cur)},
	})
	require.NoError(t, err)
	require.Equal(t, int64(2), aws.ToInt64(v2.LaunchTemplateVersion.VersionNumber))
	asgStartRefresh(t, c, "web-prod-a", "2", ltID, &types.RefreshPreferences{
		MinHealthyPercentage: aws.Int32(66), InstanceWarmup: aws.Int32(10), AutoRollback: aws.Bool(true),
	})
	sb.AdvanceClock(5 * time.Minute)
	require.Equal(t, types.InstanceRefreshStatusSuccessful, asgRefresh(t, c, "web-prod-a").Status)
	for _, img := range running() {
		assert.Equal(t, cur, img)
	}
	now := running()
	sb.Do(func(w *World) {
		for id := range now {
			inst := w.EC2.Instances[id]
			assert.Equal(t, "web", inst.Tags["role"], "launch template tags")
			assert.Equal(t, "web", inst.Tags["fleet"], "propagated group tags")
			assert.Equal(t, "2", inst.LaunchTemplateVersion)
		}
	})

	// Version 3's AMI is marked bad (EC2 admin API): the refresh rolls back to 2.
	_, err = e.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{
		LaunchTemplateId: aws.String(ltID), SourceVersion: aws.String("2"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(next)},
	})
	require.NoError(t, err)
	resp, err := http.Post(sb.URL()+"/_sandbox/images/"+next+"/bad", "application/json", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	asgStartRefresh(t, c, "web-prod-a", "3", ltID, &types.RefreshPreferences{
		MinHealthyPercentage: aws.Int32(66), InstanceWarmup: aws.Int32(60), AutoRollback: aws.Bool(true),
	})
	sb.AdvanceClock(10 * time.Minute)
	r := asgRefresh(t, c, "web-prod-a")
	assert.Equal(t, types.InstanceRefreshStatusRollbackSuccessful, r.Status)
	assert.Contains(t, aws.ToString(r.RollbackDetails.RollbackReason), "failed its health check")
	g := asgDescribe(t, c, "web-prod-a")
	assert.Equal(t, "2", aws.ToString(g.LaunchTemplate.Version))
	assert.Equal(t, map[string]int{"InService:v2": 3}, asgVersions(g))
	for _, img := range running() {
		assert.Equal(t, cur, img)
	}
}

func joinComma(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ","
		}
		out += x
	}
	return out
}
