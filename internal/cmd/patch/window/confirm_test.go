package window_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/channel/channeltest"
	"github.com/amibake/amibake/internal/cmd/root"
	"github.com/amibake/amibake/internal/iostreams"
	"github.com/amibake/amibake/internal/sandbox"
)

// runTerminal runs amibake as at a terminal with stdin holding answer.
func runTerminal(t *testing.T, sb *sandbox.Sandbox, dir, answer string, args ...string) (int, string, string) {
	t.Helper()
	ios, in, out, errOut := iostreams.Test()
	ios.SetStdinTTY(true)
	ios.SetStderrTTY(true)
	ios.SetStdoutTTY(true)
	in.WriteString(answer)
	f := root.NewFactory(ios)
	f.AWSConfig = func(context.Context) (aws.Config, error) { return sb.Config, nil }
	f.Now = sb.Clock().Now
	code := root.Main(context.Background(), append([]string{"amibake", "--chdir", dir}, args...), f)
	return code, out.String(), errOut.String()
}

func TestWindowApplyConfirmsOnATerminal(t *testing.T) {
	sb := sandbox.Start(t)
	dir := channeltest.CopyProject(t)
	cl := ssm.NewFromConfig(sb.Config)

	code, out, errOut := runTerminal(t, sb, dir, "n\n", "patch", "window", "apply", "--apply")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "+ create window amibake-acme-golden-sun-0200-0400\n", "the preview comes before the question")
	assert.Contains(t, errOut, "Apply 3 changes to account "+sandbox.DefaultAccount+" in us-east-1? [y/N] ")
	assert.Empty(t, out)
	assert.Empty(t, windows(t, cl))

	code, out, errOut = runTerminal(t, sb, dir, "", "--yes", "patch", "window", "apply", "--apply")
	require.Equal(t, 0, code, errOut)
	assert.NotContains(t, errOut, "[y/N]")
	assert.Contains(t, out, "Applied 3 change(s).")
	assert.Len(t, windows(t, cl), 1)
}
