package window_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/channel/channeltest"
	"github.com/amibake/amibake/internal/channel/channeltest/clitest"
	"github.com/amibake/amibake/internal/sandbox"
)

func TestWindowApplyConfirmsOnATerminal(t *testing.T) {
	sb := sandbox.Start(t)
	dir := channeltest.CopyProject(t)
	cl := ssm.NewFromConfig(sb.Config)

	code, out, errOut := clitest.RunTerminal(t, sb, dir, true, "n\n", "patch", "window", "apply", "--apply")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "+ create window amibake-acme-golden-sun-0200-0400\n", "the preview comes before the question")
	assert.Contains(t, errOut, "Apply 3 changes to account "+sandbox.DefaultAccount+" in us-east-1? [y/N] ")
	assert.Empty(t, out)
	assert.Empty(t, windows(t, cl))

	code, out, errOut = clitest.RunTerminal(t, sb, dir, true, "", "--yes", "patch", "window", "apply", "--apply")
	require.Equal(t, 0, code, errOut)
	assert.NotContains(t, errOut, "[y/N]")
	assert.Contains(t, out, "Applied 3 change(s).")
	assert.Len(t, windows(t, cl), 1)
}
