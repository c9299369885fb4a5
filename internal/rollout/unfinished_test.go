package rollout

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/stretchr/testify/assert"
)

func TestRolloutUnfinished(t *testing.T) {
	v := func(desc string, def bool) *ec2types.LaunchTemplateVersion {
		return &ec2types.LaunchTemplateVersion{VersionDescription: aws.String(desc), DefaultVersion: aws.Bool(def)}
	}
	ours := versionDescription("web", "ami-0a", "ami-0b", 1)
	assert.True(t, rolloutUnfinished("web", "ami-0b", v(ours, false)), "refreshed, default not moved")
	assert.False(t, rolloutUnfinished("web", "ami-0b", v(ours, true)), "finished: the default moved")
	assert.False(t, rolloutUnfinished("worker", "ami-0b", v(ours, false)), "another fleet's version")
	assert.False(t, rolloutUnfinished("web", "ami-0c", v(ours, false)), "a version to another AMI")
	assert.False(t, rolloutUnfinished("web", "ami-0b", v("made by hand", false)), "not a rollout's version")
	assert.False(t, rolloutUnfinished("web", "ami-0b", nil))
}
