package rollout_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/channel/channeltest/clitest"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/sandbox"
)

// withCanary adds a canary block to the world's web fleet: one canary and
// one baseline instance, p90 latency within 10%. The canary instances
// launch with the group's launch-template settings, so the template's key
// pair must exist (as on EC2) unless keyPair is false.
func withCanary(t *testing.T, w *world, keyPair bool) {
	t.Helper()
	if keyPair {
		_, err := ec2.NewFromConfig(w.sb.Config).CreateKeyPair(context.Background(), &ec2.CreateKeyPairInput{KeyName: aws.String("web-key")})
		require.NoError(t, err)
	}
	path := filepath.Join(w.dir, "fleets", "web.hcl")
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	s := string(b)
	i := strings.LastIndex(s, "}")
	s = s[:i] + `
  canary {
    instances = 1
    window    = "30m"
    metric "p90_latency" {
      namespace = "Web"
      name      = "Latency"
      statistic = "p90"
      direction = "lower-is-better"
      tolerance = "10%"
    }
  }
` + s[i:]
	require.NoError(t, os.WriteFile(path, []byte(s), 0o644))
}

// A fleet with a canary block is judged at the first checkpoint by the
// rollout command itself: a good AMI goes on to 100%.
func TestRolloutCanaryPasses(t *testing.T) {
	w := setup(t, "1s")
	withCanary(t, w, true)
	code, out, errOut := clitest.Run(t, w.sb, w.dir, "rollout", "web", "--apply", "--poll", "20ms", "--canary-no-wait")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	assert.Contains(t, out, "Fleet web: succeeded")
	assert.Equal(t, map[string]int{w.new.Home(): 20}, w.images(t))
}

// A 30% slower AMI fails the canary: the refresh rolls back, every
// instance stays on the old AMI, the old AMI is not retired, exit 1.
func TestRolloutCanaryFailsAndRollsBack(t *testing.T) {
	w := setup(t, "1s")
	withCanary(t, w, true)
	require.NoError(t, w.sb.SlowImage(w.new.Home(), "Latency", 1.3))
	code, out, errOut := clitest.Run(t, w.sb, w.dir, "rollout", "web", "--apply", "--poll", "20ms", "--canary-no-wait")
	require.Equal(t, 1, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	assert.Contains(t, out+errOut, "canary failed (p90_latency")
	assert.Equal(t, map[string]int{w.old.Home(): 20}, w.images(t), "rolled back")
	for _, id := range w.old.All() {
		assert.False(t, w.deprecated(t, id), "the old AMI stays: %s", id)
	}
	// The new AMI is revoked (every region's copy) with the canary's
	// report as the reason, and the report says so.
	assert.Contains(t, errOut, "revoked "+w.new.Home())
	w.sb.Do(func(sw *sandbox.World) {
		for _, id := range w.new.All() {
			assert.Contains(t, sw.EC2.Images[id].Tags[lineage.TagRevoked], "canary failed in fleet web", id)
		}
	})
	code, _, errOut = clitest.Run(t, w.sb, w.dir, "rollout", "web", "--apply")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "revoked")
}

// No verdict is not a pass: when the analysis cannot run (here: the
// template's key pair is gone, so the canary instances cannot launch), the
// refresh is rolled back rather than left to pass the checkpoint by itself.
func TestRolloutCanaryErrorRollsBack(t *testing.T) {
	w := setup(t, "1s")
	withCanary(t, w, false)
	code, out, errOut := clitest.Run(t, w.sb, w.dir, "rollout", "web", "--apply", "--poll", "20ms", "--canary-no-wait")
	require.Equal(t, 1, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	assert.Contains(t, errOut, "canary analysis failed (")
	assert.Contains(t, errOut, "InvalidKeyPair.NotFound")
	assert.Equal(t, map[string]int{w.old.Home(): 20}, w.images(t), "rolled back")
}
