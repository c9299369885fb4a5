package rollout_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/canary"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/rollout"
	"github.com/amibake/amibake/internal/sandbox"
)

// canaryWorld is replaceWorld with a canary block judged at the first
// checkpoint.
func canaryWorld(t *testing.T) (*sandbox.Sandbox, *rollout.Rollout, string, string) {
	t.Helper()
	sb, r, old, newAMI := replaceWorld(t)
	r.Fleet.Canary = &config.Canary{Instances: 1, Window: 30 * time.Minute, Interval: time.Minute, Metrics: []*config.CanaryMetric{
		{Name: "p90_latency", Namespace: "Web", MetricName: "Latency", Statistic: "p90", Direction: canary.LowerIsBetter, Tolerance: "10%"},
	}}
	c := awsapi.NewClients(sb.Config)
	r.Canary = rollout.NewCanary(c.EC2("us-east-1"), c.CloudWatch("us-east-1"), c.AutoScaling("us-east-1"), paths.Project, r.Fleet,
		true, sb.Clock().Now, r.Sleep, nil)
	return sb, r, old, newAMI
}

func liveCanaries(sb *sandbox.Sandbox) int {
	n := 0
	sb.Do(func(w *sandbox.World) {
		for _, in := range w.EC2.Instances {
			if r := in.Tags[canary.TagRole]; (r == canary.RoleCanary || r == canary.RoleBase) && in.State != "terminated" && in.State != "shutting-down" {
				n++
			}
		}
	})
	return n
}

func TestReplaceCanaryPassGoesOn(t *testing.T) {
	sb, r, old, newAMI := canaryWorld(t)
	rep, err := r.Replace(context.Background())
	require.NoError(t, err)
	assert.Equal(t, rollout.OutcomeSucceeded, rep.Outcome)
	require.NotNil(t, rep.Canary)
	assert.Equal(t, canary.Pass, rep.Canary.Verdict)
	assert.Equal(t, old, rep.Canary.BaselineAMI)
	assert.Equal(t, newAMI, rep.Canary.AMI)
	assert.Equal(t, map[string]int{newAMI: 4}, groupImages(sb, "web-a"))
	assert.Zero(t, liveCanaries(sb))
}

func TestReplaceCanaryFailRollsBack(t *testing.T) {
	sb, r, old, newAMI := canaryWorld(t)
	require.NoError(t, sb.SlowImage(newAMI, "Latency", 1.3))
	rep, err := r.Replace(context.Background())
	require.Error(t, err)
	var fe *rollout.FailedError
	require.True(t, errors.As(err, &fe), "%v", err)
	assert.Equal(t, rollout.OutcomeRolledBack, rep.Outcome)
	assert.Contains(t, rep.Reason, "canary failed (p90_latency")
	assert.Equal(t, canary.Fail, rep.Canary.Verdict)
	assert.Equal(t, map[string]int{old: 4}, groupImages(sb, "web-a"))
	assert.Equal(t, map[string]int{old: 4}, groupImages(sb, "web-b"))
	assert.Zero(t, liveCanaries(sb))
	sb.Do(func(sw *sandbox.World) {
		assert.True(t, sw.EC2.Images[old].DeprecationTime.IsZero(), "old AMI not retired")
	})
	// Without a RevokeFunc nothing is revoked.
	assert.Empty(t, rep.Revoked)
	sb.Do(func(sw *sandbox.World) { assert.NotContains(t, sw.EC2.Images[newAMI].Tags, lineage.TagRevoked) })
}

// A failed canary revokes the AMI it judged, with the report as the
// reason, so the next rollout or plan does not pick it again.
func TestReplaceCanaryFailRevokes(t *testing.T) {
	sb, r, old, newAMI := canaryWorld(t)
	require.NoError(t, sb.SlowImage(newAMI, "Latency", 1.3))
	c := awsapi.NewClients(sb.Config)
	r.Revoke = rollout.NewRevoke(c.EC2, "us-east-1", []string{"us-east-1"}, paths.Project, sb.Clock().Now)
	rep, err := r.Replace(context.Background())
	require.Error(t, err)
	assert.Equal(t, rollout.OutcomeRolledBack, rep.Outcome)
	assert.Equal(t, []string{newAMI}, rep.Revoked)
	assert.Contains(t, rep.Reason, "revoked "+newAMI)
	assert.Contains(t, err.Error(), "revoked "+newAMI)
	sb.Do(func(sw *sandbox.World) {
		reason := sw.EC2.Images[newAMI].Tags[lineage.TagRevoked]
		assert.Contains(t, reason, "canary failed in fleet web")
		assert.Contains(t, reason, "p90_latency")
		assert.False(t, sw.EC2.Images[newAMI].DeprecationTime.IsZero(), "revoked AMIs are deprecated")
		assert.NotContains(t, sw.EC2.Images[old].Tags, lineage.TagRevoked)
	})
	assert.Equal(t, map[string]int{old: 4}, groupImages(sb, "web-a"))
	// The next rollout refuses the revoked AMI the channel still holds.
	r.Canary = nil
	_, err = r.Replace(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "revoked")
}

func TestReplaceCanaryMarginalPauses(t *testing.T) {
	sb, r, old, newAMI := canaryWorld(t)
	// Between 1× and 2× the 10% tolerance as measured: with one canary and
	// one baseline instance each instance's own offset adds a few percent
	// to the AMI's 12% (the world's start is fixed, so this is exact).
	require.NoError(t, sb.SlowImage(newAMI, "Latency", 1.12))
	rep, err := r.Replace(context.Background())
	var pe *rollout.PausedError
	require.True(t, errors.As(err, &pe), "%v", err)
	assert.Equal(t, 5, pe.ExitCode())
	assert.Equal(t, rollout.OutcomePaused, rep.Outcome)
	assert.Contains(t, rep.Reason, "canary-marginal: score ")
	assert.Equal(t, rollout.PauseCanaryMarginal, rep.PauseKind)
	// The pause holds: the refreshes are cancelled, so hours later the
	// groups still run half and half.
	letTimePass(sb, 3*time.Hour)
	assert.Equal(t, map[string]int{old: 2, newAMI: 2}, groupImages(sb, "web-a"))
	assert.Equal(t, rollout.StatePaused, asgTags(t, sb, "web-a")[rollout.TagState])
	assert.Contains(t, asgTags(t, sb, "web-a")[rollout.TagReason], "canary-marginal: score ")
	assert.Zero(t, liveCanaries(sb))
}
