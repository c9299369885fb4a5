package apply_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/channel/channeltest"
	"github.com/amibake/amibake/internal/channel/channeltest/clitest"
	"github.com/amibake/amibake/internal/sandbox"
	"github.com/amibake/amibake/patch/baseline"
)

func TestApplyConfirmsOnATerminal(t *testing.T) {
	sb := sandbox.Start(t)
	dir := channeltest.CopyProject(t)
	client := awsapi.NewClients(sb.Config).SSM("us-east-1")
	baselines := func() int {
		cur, err := baseline.Observe(context.Background(), client, "acme-golden")
		require.NoError(t, err)
		return len(cur.Baselines)
	}
	const question = "Apply 8 changes to account " + sandbox.DefaultAccount + " in us-east-1, eu-west-1? [y/N] "

	// "n": the changes are shown, the question asked, nothing written.
	code, out, errOut := clitest.RunTerminal(t, sb, dir, true, "n\n", "patch", "apply", "--apply")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "us-east-1: + create baseline "+baselineName+"\n", "the preview comes before the question")
	assert.Contains(t, errOut, question)
	assert.Contains(t, errOut, "aborted: nothing was changed")
	assert.Empty(t, out)
	assert.Equal(t, 0, baselines())
	assert.Equal(t, 0, sb.CountCalls("ssm", "CreatePatchBaseline"))

	// No answer at all (EOF) is a no.
	code, _, _ = clitest.RunTerminal(t, sb, dir, true, "", "patch", "apply", "--apply")
	assert.Equal(t, 1, code)
	assert.Equal(t, 0, baselines())

	// "y": applied.
	code, out, errOut = clitest.RunTerminal(t, sb, dir, true, "y\n", "patch", "apply", "--apply")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, errOut, question)
	assert.Contains(t, out, "Applied 8 change(s).")
	assert.Equal(t, 1, baselines())

	// Nothing to change: nothing to ask.
	code, out, errOut = clitest.RunTerminal(t, sb, dir, true, "", "patch", "apply", "--apply")
	require.Equal(t, 0, code, errOut)
	assert.NotContains(t, errOut, "[y/N]")
	assert.Contains(t, out, "No changes")
}

func TestApplyDoesNotAskWithYesJSONOrWithoutATerminal(t *testing.T) {
	cases := []struct {
		name string
		tty  bool
		args []string
	}{
		{"--yes", true, []string{"--yes", "patch", "apply", "--apply"}},
		{"-y", true, []string{"-y", "patch", "apply", "--apply"}},
		{"json", true, []string{"-o", "json", "patch", "apply", "--apply"}},
		{"pipeline", false, []string{"patch", "apply", "--apply"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sb := sandbox.Start(t)
			dir := channeltest.CopyProject(t)
			// "n" on stdin: had it asked, it would have aborted.
			code, out, errOut := clitest.RunTerminal(t, sb, dir, c.tty, "n\n", c.args...)
			require.Equal(t, 0, code, errOut)
			assert.NotContains(t, errOut, "[y/N]")
			assert.True(t, strings.Contains(out, "Applied 8 change(s).") || strings.Contains(out, `"applied": true`), out)
			assert.Equal(t, 2, sb.CountCalls("ssm", "CreatePatchBaseline"), "one baseline per region")
		})
	}
}
