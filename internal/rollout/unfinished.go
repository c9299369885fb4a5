package rollout

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// rolloutUnfinished: v, the version a group runs, was made by a rollout of
// fleet to target and is not the template's default: the rollout died
// (kill -9, a lost machine) after its refresh and before finish moved the
// default, pruned the old versions and retired the replaced AMI. The
// refresh went on in AWS without it, so the group looks up to date; only
// the default version tells (found by the crash harness, issue 9).
func rolloutUnfinished(fleet, target string, v *ec2types.LaunchTemplateVersion) bool {
	if v == nil || aws.ToBool(v.DefaultVersion) {
		return false
	}
	f, from, to, _, ok := parseDescription(aws.ToString(v.VersionDescription))
	return ok && f == fleet && to == target && from != to
}
