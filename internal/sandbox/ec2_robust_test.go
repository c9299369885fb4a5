package sandbox

import (
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEC2ActionsSurviveGarbage sends every EC2 action malformed and
// half-filled requests: each must answer with an AWS client error or
// success, never a 500 (a handler panic or a broken response).
func TestEC2ActionsSurviveGarbage(t *testing.T) {
	sb := Start(t)
	c := ec2Client(sb)
	img := ec2BakeImage(t, c, "garbage-target")
	inst := aws.ToString(ec2RunOne(t, c).InstanceId)
	var snap, vol, sg, vpc, subnet string
	sb.Do(func(w *World) {
		for id, s := range w.EC2.Snapshots {
			if s.Account == DefaultAccount {
				snap = id
			}
		}
		for id := range w.EC2.Volumes {
			vol = id
		}
		for id := range w.EC2.SecurityGroups {
			sg = id
		}
		vpc = w.ec2DefaultVPC(DefaultAccount, DefaultRegion).ID
		for id, s := range w.EC2.Subnets {
			if s.Account == DefaultAccount && s.Region == DefaultRegion {
				subnet = id
			}
		}
	})
	ids := map[string]string{"ImageId": img, "InstanceId": inst, "SnapshotId": snap, "VolumeId": vol, "GroupId": sg, "VpcId": vpc, "SubnetId": subnet}

	garbage := []url.Values{
		{},
		{"MaxResults": {"-1"}, "NextToken": {"%%%"}},
		{"MaxResults": {"abc"}, "MinCount": {"x"}, "MaxCount": {"99999999999999999999"}},
		{"Filter.1.Name": {""}, "Filter.1.Value.1": {"*"}},
		{"Filter.1.Name": {"tag:"}, "Filter.2.Value.1": {"x"}},
		{"ImageId": {"ami-zz"}, "InstanceId": {"i-"}, "InstanceId.1": {"i-zz"}, "ImageId.1": {""}},
		{"TagSpecification.1.ResourceType": {"instance"}, "TagSpecification.1.Tag.1.Value": {"no key"}},
		{"TagSpecification.1.Tag.1.Key": {"k"}},
		{"BlockDeviceMapping.1.Ebs.VolumeSize": {"abc"}, "BlockDeviceMapping.1.DeviceName": {"/dev/xvda"}},
		{"BlockDeviceMapping.1.NoDevice": {""}},
		{"LaunchTemplateData.ImageId": {"x"}, "LaunchTemplateName": {"a"}},
		{"LaunchTemplateData.BlockDeviceMapping.1.Ebs.Iops": {"-5"}, "LaunchTemplateName": {"okname"}, "SourceVersion": {"$Nope"}},
		{"DeprecateAt": {"yesterday"}, "SourceRegion": {"nowhere-1"}, "Name": {""}},
		{"Attribute": {"launchPermission"}, "OperationType": {"sideways"}, "UserId.1": {"me"}},
		{"LaunchPermission.Add.1.Group": {"some"}, "CreateVolumePermission.Remove.1.UserId": {"x"}},
		{"IpPermissions.1.IpProtocol": {"tcp"}, "IpPermissions.1.FromPort": {"x"}, "IpPermissions.1.IpRanges.1.CidrIp": {"1.2.3.4"}},
		{"IpProtocol": {"999"}, "CidrIp": {""}},
		{"KeyName": {strings.Repeat("k", 300)}, "KeyType": {"dsa"}, "PublicKeyMaterial": {"!!"}},
		{"ResourceId.1": {"ami-"}, "Tag.1.Key": {""}},
		{"LaunchTemplateVersion.1": {"-1"}, "LaunchTemplateVersion.2": {"$Latest"}, "MinVersion": {"z"}},
		{"RegionName.1": {""}, "ZoneName.1": {"x"}, "AttributeName.1": {"nope"}, "LocationType": {"planet"}},
		{"MetadataOptions.HttpPutResponseHopLimit": {"0"}, "MetadataOptions.HttpTokens": {"maybe"}},
		{"Placement.AvailabilityZone": {"us-east-1q"}, "SubnetId": {"subnet-"}},
	}
	// The same garbage once more, with real ids filled in.
	for _, g := range garbage[:len(garbage):len(garbage)] {
		withIDs := url.Values{}
		for k, v := range g {
			withIDs[k] = v
		}
		for k, v := range ids {
			withIDs[k] = []string{v}
			withIDs[k+".1"] = []string{v}
		}
		withIDs["ResourceId.1"] = []string{img}
		withIDs["Tag.1.Key"] = []string{"k"}
		garbage = append(garbage, withIDs)
	}

	actions := sb.Actions()["ec2"]
	sort.Strings(actions)
	require.NotEmpty(t, actions)
	for _, action := range actions {
		for i, g := range garbage {
			form := url.Values{"Action": {action}, "Version": {"2016-11-15"}}
			for k, v := range g {
				form[k] = v
			}
			req, err := http.NewRequest(http.MethodPost, sb.URL(), strings.NewReader(form.Encode()))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+AccessKeyID+"/20260101/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=0")
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			assert.Less(t, resp.StatusCode, 500, "%s garbage #%d: %s", action, i, body)
		}
	}
}
