package revoke_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/channel/channeltest"
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

func TestRevokeApplyAsksAtATerminal(t *testing.T) {
	sb := sandbox.Start(t)
	dir := channeltest.CopyProject(t)
	fam := channeltest.SeedFamily(t, sb, channeltest.Project, "ami-source")
	before := snapshot(sb)
	args := []string{"revoke", fam.Foundation.Home(), "--cascade", "--reason", "CVE-2026-1", "--apply"}

	code, out, errOut := runAt(t, sb, dir, "no\n", args...)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "would tag", "the preview")
	assert.Contains(t, errOut, "Apply 8 changes to account "+sandbox.DefaultAccount+" in us-east-1, eu-west-1? [y/N] ")
	assert.Contains(t, errOut, "aborted: nothing was changed")
	assert.Empty(t, out)
	assert.Equal(t, before, snapshot(sb), "nothing changed")
	assert.Zero(t, sb.CountCalls("ec2", "CreateTags"))
	assert.Equal(t, 1, sb.CountCalls("ssm", "PutParameter"), "only the lock was written")
	assert.Equal(t, 1, sb.CountCalls("ssm", "DeleteParameter"), "and released")

	code, out, errOut = runAt(t, sb, dir, "y\n", args...)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "Revoked 8 AMIs")
	assert.NotEqual(t, before, snapshot(sb))

	// --yes: no question (and nothing left to do is still done quietly).
	code, _, errOut = runAt(t, sb, dir, "", append([]string{"--yes"}, args...)...)
	require.Equal(t, 0, code, errOut)
	assert.NotContains(t, errOut, "[y/N]")
}
