package rollout_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/cmd/root"
	"github.com/amibake/amibake/internal/iostreams"
	"github.com/amibake/amibake/internal/sandbox"
)

// runAt runs amibake with stdin and stderr a terminal, stdin holding answer.
func runAt(t *testing.T, sb *sandbox.Sandbox, dir, answer string, args ...string) (int, string, string) {
	t.Helper()
	ios, in, out, errOut := iostreams.Test()
	ios.SetStdinTTY(true)
	ios.SetStderrTTY(true)
	in.WriteString(answer)
	f := root.NewFactory(ios)
	f.AWSConfig = func(context.Context) (aws.Config, error) { return sb.Config, nil }
	f.Now = sb.Clock().Now
	code := root.Main(context.Background(), append([]string{"amibake", "--chdir", dir}, args...), f)
	return code, out.String(), errOut.String()
}

// A person at a terminal is asked after the plan; "n" changes nothing
// (no template version, no refresh, no lock written), --yes does not ask.
func TestRolloutApplyAsksAtATerminal(t *testing.T) {
	w := setup(t, "1s")
	puts := w.sb.CountCalls("ssm", "PutParameter")

	code, out, errOut := runAt(t, w.sb, w.dir, "n\n", "rollout", "web", "--apply", "--poll", "20ms")
	assert.Equal(t, 1, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	assert.Contains(t, out, "web-prod-a: web version 1", "the plan comes before the question")
	assert.Contains(t, errOut, "Apply 2 changes to account "+sandbox.DefaultAccount+" in us-east-1? [y/N] ")
	assert.Contains(t, errOut, "aborted: nothing was changed")
	_, versions := w.templateVersions(t)
	assert.Equal(t, []int{1}, versions, "no template version")
	assert.Zero(t, w.sb.CountCalls("autoscaling", "StartInstanceRefresh"))
	assert.Equal(t, puts, w.sb.CountCalls("ssm", "PutParameter"), "the lock was not even taken")

	code, out, errOut = runAt(t, w.sb, w.dir, "", "--yes", "rollout", "web", "--apply", "--poll", "20ms")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	assert.NotContains(t, errOut, "[y/N]")
	assert.Contains(t, out, "Fleet web: succeeded")
	assert.Equal(t, map[string]int{w.new.Home(): 20}, w.images(t))
}
