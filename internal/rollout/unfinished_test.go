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
	old := v("made by hand", true)
	assert.True(t, rolloutUnfinished("web", "ami-0b", v(ours, false), old), "refreshed, default not moved")
	assert.False(t, rolloutUnfinished("web", "ami-0b", v(ours, true), v(ours, true)), "finished: the default moved")
	assert.False(t, rolloutUnfinished("worker", "ami-0b", v(ours, false), old), "another fleet's version")
	assert.False(t, rolloutUnfinished("web", "ami-0c", v(ours, false), old), "a version to another AMI")
	assert.False(t, rolloutUnfinished("web", "ami-0b", v("made by hand", false), old), "not a rollout's version")
	assert.False(t, rolloutUnfinished("web", "ami-0b", nil, old))
	// Two groups on different versions of one template: the rollout made
	// a version for each, the default is the other group's.
	other := v(versionDescription("web", "ami-0a", "ami-0b", 2), true)
	assert.False(t, rolloutUnfinished("web", "ami-0b", v(ours, false), other), "finished: the default is the same rollout's")
	assert.True(t, rolloutUnfinished("web", "ami-0b", v(ours, false), v(versionDescription("web", "ami-09", "ami-0a", 1), true)),
		"the default is an earlier rollout's")
}

func TestRolloutReplaced(t *testing.T) {
	v := func(desc string, def bool) *ec2types.LaunchTemplateVersion {
		return &ec2types.LaunchTemplateVersion{VersionDescription: aws.String(desc), DefaultVersion: aws.Bool(def)}
	}
	ours := versionDescription("web", "ami-0a", "ami-0b", 1)
	from, ok := rolloutReplaced("web", "ami-0b", v(ours, true))
	assert.True(t, ok, "the default moved: what it replaced may be left")
	assert.Equal(t, "ami-0a", from)
	_, ok = rolloutReplaced("web", "ami-0b", v(ours, false))
	assert.False(t, ok, "not the default yet: rolloutUnfinished's case")
	_, ok = rolloutReplaced("worker", "ami-0b", v(ours, true))
	assert.False(t, ok, "another fleet's version")
	_, ok = rolloutReplaced("web", "ami-0c", v(ours, true))
	assert.False(t, ok, "a version to another AMI")
	_, ok = rolloutReplaced("web", "ami-0b", v("made by hand", true))
	assert.False(t, ok)
	_, ok = rolloutReplaced("web", "ami-0b", nil)
	assert.False(t, ok)
}

func TestPrunable(t *testing.T) {
	// A normal run: the versions read before the rollout made version 4.
	assert.Equal(t, []int64{1}, prunable([]int64{1, 2, 3}, 4, 3, nil), "the default and the two newest before it stay")
	assert.Equal(t, []int64{3, 2, 1}, prunable([]int64{1, 2, 3}, 4, 1, nil))
	// A re-run after the default moved reads the rollout's own version
	// too: the same versions go.
	assert.Equal(t, []int64{1}, prunable([]int64{1, 2, 3, 4}, 4, 3, nil))
	assert.Empty(t, prunable([]int64{2, 3, 4}, 4, 3, nil), "pruned already")
	// Newer than the rollout's: someone made it since.
	assert.Equal(t, []int64{1}, prunable([]int64{1, 2, 3, 4, 5}, 4, 1, map[int64]bool{2: true, 3: true}), "in use stays; 5 is not the rollout's to prune")
	assert.Empty(t, prunable(nil, 4, 1, nil))
}
