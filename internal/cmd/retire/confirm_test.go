package retire_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/channel/channeltest"
	"github.com/amibake/amibake/internal/cmd/root"
	"github.com/amibake/amibake/internal/iostreams"
	"github.com/amibake/amibake/internal/sandbox"
)

// runAt is run with stdin and stderr a terminal, stdin holding answer.
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

func TestRetireApplyAsksAtATerminal(t *testing.T) {
	sb := sandbox.Start(t, func(o *sandbox.Options) { o.Mode = sandbox.ClockManual })
	dir := channeltest.CopyProject(t)
	fam := channeltest.SeedFamily(t, sb, channeltest.Project, "ami-source")
	var old []channeltest.Build
	for i, id := range []string{"w1", "w2"} {
		b := channeltest.SeedBuild(t, sb, channeltest.Project, "app-web", id, &fam.Base, "")
		withSnapshots(t, sb, b, time.Duration(10-i)*24*time.Hour)
		old = append(old, b)
	}
	args := []string{"retire", "app-web", "--keep", "1", "--apply"}
	deprecated := func() int {
		n := 0
		for _, b := range old {
			for _, id := range b.All() {
				if _, dep := state(sb, id); dep {
					n++
				}
			}
		}
		return n
	}

	code, out, errOut := runAt(t, sb, dir, "n\n", args...)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "deprecate  app-web", "the dry run comes first")
	assert.Contains(t, errOut, "Apply 4 changes to account "+sandbox.DefaultAccount+" in us-east-1, eu-west-1? [y/N] ")
	assert.Empty(t, out)
	assert.Zero(t, deprecated())
	assert.Zero(t, sb.CountCalls("ec2", "EnableImageDeprecation"))
	assert.Zero(t, sb.CountCalls("ssm", "PutParameter"), "not even the lock: the question comes before it")

	code, out, errOut = runAt(t, sb, dir, "y\n", args...)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "Deprecated 4 AMIs")
	assert.Equal(t, 4, deprecated())

	// Not asked without a terminal.
	code, _, errOut = run(t, sb, dir, args...)
	require.Equal(t, 0, code, errOut)
	assert.NotContains(t, errOut, "[y/N]")
}
