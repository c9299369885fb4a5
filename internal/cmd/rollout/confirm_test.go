package rollout_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/channel/channeltest/clitest"
	"github.com/amibake/amibake/internal/sandbox"
)

// A person at a terminal is asked after the plan; "n" changes nothing
// (no template version, no refresh, no lock written), --yes does not ask.
func TestRolloutApplyAsksAtATerminal(t *testing.T) {
	w := setup(t, "1s")
	puts := w.sb.CountCalls("ssm", "PutParameter")

	code, out, errOut := clitest.RunTerminal(t, w.sb, w.dir, true, "n\n", "rollout", "web", "--apply", "--poll", "20ms")
	assert.Equal(t, 1, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	assert.Contains(t, out, "web-prod-a: web version 1", "the plan comes before the question")
	assert.Contains(t, errOut, "Apply 2 changes to account "+sandbox.DefaultAccount+" in us-east-1? [y/N] ")
	assert.Contains(t, errOut, "aborted: nothing was changed")
	_, versions := w.templateVersions(t)
	assert.Equal(t, []int{1}, versions, "no template version")
	assert.Zero(t, w.sb.CountCalls("autoscaling", "StartInstanceRefresh"))
	assert.Equal(t, puts, w.sb.CountCalls("ssm", "PutParameter"), "the lock was not even taken")

	code, out, errOut = clitest.RunTerminal(t, w.sb, w.dir, true, "", "--yes", "rollout", "web", "--apply", "--poll", "20ms")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	assert.NotContains(t, errOut, "[y/N]")
	assert.Contains(t, out, "Fleet web: succeeded")
	assert.Equal(t, map[string]int{w.new.Home(): 20}, w.images(t))
}
