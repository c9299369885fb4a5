package rollout_test

import (
	"context"
	"sort"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/rollout"
)

func templateVersions(t *testing.T, c *ec2.Client, name string) []int64 {
	t.Helper()
	out, err := c.DescribeLaunchTemplateVersions(context.Background(), &ec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateName: aws.String(name)})
	require.NoError(t, err)
	var vs []int64
	for _, v := range out.LaunchTemplateVersions {
		vs = append(vs, aws.ToInt64(v.VersionNumber))
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i] > vs[j] })
	return vs
}

// One DescribeLaunchTemplateVersions per group serves both the version the
// group runs and the prune after the rollout (bench: ≤ 5 calls per ASG),
// and the prune still keeps the newest retire.keep versions.
func TestReplaceReadsEachTemplateOnceAndPrunes(t *testing.T) {
	sb, r, old, _ := replaceWorld(t)
	ctx := context.Background()
	c := ec2.NewFromConfig(sb.Config)
	// Steady state: each template already holds 3 versions.
	for _, g := range []string{"web-a", "web-b"} {
		for i := 0; i < 2; i++ {
			_, err := c.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{LaunchTemplateName: aws.String(g), SourceVersion: aws.String("1"),
				LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(old)}})
			require.NoError(t, err)
		}
	}
	r.Fleet.Retire.Keep = 3
	sb.ResetLog()
	rep, err := r.Replace(ctx)
	require.NoError(t, err)
	require.Equal(t, rollout.OutcomeSucceeded, rep.Outcome)
	assert.Equal(t, 2, sb.CountFirstAttempts("ec2", "DescribeLaunchTemplateVersions"), "one read per group")
	assert.Equal(t, 2, sb.CountFirstAttempts("ec2", "DeleteLaunchTemplateVersions"))
	for _, g := range []string{"web-a", "web-b"} {
		assert.Equal(t, []int64{4, 3, 2}, templateVersions(t, c, g), "the new default and the two newest before it")
	}
}
