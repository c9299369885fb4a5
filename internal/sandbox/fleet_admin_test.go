package sandbox

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// POST /_sandbox/seed/fleets makes groups on a launch template, tagged
// SSM-managed instances and alarms, all visible through the SDK.
func TestSeedFleetsAdmin(t *testing.T) {
	sb := Start(t)
	c := ec2Client(sb)
	ami := aws.ToString(ec2LatestAL2023(t, c).ImageId)
	body := `{"launch_templates":[{"name":"web","image_id":"` + ami + `"}],
	  "groups":[{"name":"web-prod-a","launch_template":"web","size":2},{"name":"web-prod-b","launch_template":"web","size":3}],
	  "instances":[{"image_id":"` + ami + `","count":2,"tags":{"role":"worker","Patch Group":"worker"},"iam_instance_profile":"demo"}],
	  "alarms":[{"name":"web-5xx-high"}]}`
	resp, err := http.Post(sb.URL()+"/_sandbox/seed/fleets", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var out FleetSeeded
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	assert.Len(t, out.Groups["web-prod-a"], 2)
	assert.Len(t, out.Groups["web-prod-b"], 3)
	require.Len(t, out.Instances, 2)
	assert.NotEmpty(t, out.LaunchTemplates["web"])

	ctx := context.Background()
	g, err := autoscaling.NewFromConfig(sb.Config).DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{"web-prod-b"}})
	require.NoError(t, err)
	require.Len(t, g.AutoScalingGroups, 1)
	assert.Equal(t, out.LaunchTemplates["web"], aws.ToString(g.AutoScalingGroups[0].LaunchTemplate.LaunchTemplateId))
	d, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: out.Instances})
	require.NoError(t, err)
	for _, r := range d.Reservations {
		for _, i := range r.Instances {
			assert.Equal(t, ami, aws.ToString(i.ImageId))
			tags := map[string]string{}
			for _, tg := range i.Tags {
				tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
			}
			assert.Equal(t, "worker", tags["role"])
			assert.Equal(t, "worker", tags["Patch Group"])
		}
	}
	// The workers are SSM-managed: Run Command can reach them.
	info, err := ssm.NewFromConfig(sb.Config).DescribeInstanceInformation(ctx, &ssm.DescribeInstanceInformationInput{})
	require.NoError(t, err)
	managed := map[string]bool{}
	for _, i := range info.InstanceInformationList {
		managed[aws.ToString(i.InstanceId)] = true
	}
	for _, id := range out.Instances {
		assert.True(t, managed[id], id)
	}
	require.Len(t, out.Alarms, 1)
	assert.Equal(t, AlarmStateOK, out.Alarms[0].State)
	sb.Do(func(w *World) {
		assert.Equal(t, AlarmStateOK, w.AlarmState(DefaultAccount, DefaultRegion, "web-5xx-high"))
	})

	// A group on an unknown launch template is a 400 naming it.
	resp2, err := http.Post(sb.URL()+"/_sandbox/seed/fleets", "application/json", strings.NewReader(`{"groups":[{"name":"x","launch_template":"nope","size":1}]}`))
	require.NoError(t, err)
	defer resp2.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp2.StatusCode)
}
