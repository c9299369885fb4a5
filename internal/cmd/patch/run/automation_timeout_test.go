package run_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/bake/automationtest"
	"github.com/amibake/amibake/internal/channel/channeltest/clitest"
	"github.com/amibake/amibake/internal/sandbox"
)

// --timeout bounds an automation execution too: the patch step never
// ends (manual clock), so the execution is stopped after --timeout and
// the layer fails, its channel unmoved.
func TestPatchRunEngineAutomationTimeout(t *testing.T) {
	timing := sandbox.ZeroTiming()
	timing.PatchInstall = time.Hour
	sb := sandbox.Start(t, func(o *sandbox.Options) { o.Mode, o.Timing = sandbox.ClockManual, &timing })
	dir := automationtest.WriteProject(t, automationtest.Files())
	automationtest.Seed(t, sb, dir)
	_, err := sb.ReleasePatch(sandbox.PatchRelease{Package: "openssl", Severity: "Critical"})
	require.NoError(t, err)

	code, out, errOut := clitest.Run(t, sb, dir, "patch", "run", "--apply", "--engine", "automation", "--poll", "5ms", "--timeout", "300ms")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, out+errOut, "not done after 300ms (stopped)")
	assert.Equal(t, 1, sb.CountFirstAttempts("ssm", "StartAutomationExecution"))
	assert.Equal(t, 1, sb.CountFirstAttempts("ssm", "StopAutomationExecution"))
}
