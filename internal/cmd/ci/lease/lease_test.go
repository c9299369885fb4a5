package lease_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/channel/channeltest"
	"github.com/amibake/amibake/internal/channel/channeltest/clitest"
	"github.com/amibake/amibake/internal/lock"
	"github.com/amibake/amibake/internal/sandbox"
)

const lockName = "/amibake/acme-golden/lock"

func TestLeaseAcquireRelease(t *testing.T) {
	sb := sandbox.Start(t)
	dir := channeltest.CopyProject(t)

	code, _, errOut := clitest.Run(t, sb, dir, "ci", "lease", "acquire")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "no batch id: pass --batch or set $AMIBAKE_BATCH_ID")

	t.Setenv("AMIBAKE_BATCH_ID", "proj:b1")
	code, out, errOut := clitest.Run(t, sb, dir, "-o", "json", "ci", "lease", "acquire", "--ttl", "3h")
	require.Equal(t, 0, code, errOut)
	var rep struct {
		Schema string     `json:"schema"`
		Action string     `json:"action"`
		Lease  lock.Lease `json:"lease"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	assert.Equal(t, "amibake/ci-lease-acquire/v1", rep.Schema)
	assert.Equal(t, "acquired", rep.Action)
	assert.Equal(t, "codebuild-batch:proj:b1", rep.Lease.Holder)
	assert.Equal(t, 3*60*60.0, rep.Lease.Expires.Sub(rep.Lease.Acquired).Seconds())

	// Another batch waits for this one: exit 4.
	code, _, errOut = clitest.Run(t, sb, dir, "ci", "lease", "acquire", "--batch", "proj:b2")
	assert.Equal(t, 4, code, errOut)
	code, _, errOut = clitest.Run(t, sb, dir, "ci", "lease", "release", "--batch", "proj:b2")
	assert.Equal(t, 4, code, "another batch's lease is not released: %s", errOut)

	code, out, errOut = clitest.Run(t, sb, dir, "ci", "lease", "release")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "Released project lock "+lockName+" of batch proj:b1.\n", out)
	_, err := ssm.NewFromConfig(sb.Config).GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String(lockName)})
	require.Error(t, err, "the lease is gone")

	code, out, _ = clitest.Run(t, sb, dir, "ci", "lease", "release")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "nothing to release")
}
