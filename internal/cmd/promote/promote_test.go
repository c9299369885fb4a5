package promote_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/channel"
	"github.com/amibake/amibake/internal/channel/channeltest"
	"github.com/amibake/amibake/internal/channel/channeltest/clitest"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/lock"
	"github.com/amibake/amibake/internal/sandbox"
)

var paths = lineage.Paths{Prefix: channeltest.Prefix, Project: channeltest.Project}

func put(t *testing.T, sb *sandbox.Sandbox, name, ami string) {
	t.Helper()
	_, err := awsapi.NewClients(sb.Config).SSM("us-east-1").PutParameter(context.Background(), &ssm.PutParameterInput{
		Name: aws.String(name), Value: aws.String(ami), Type: ssmtypes.ParameterTypeString,
		DataType: aws.String(channel.DataType), Overwrite: aws.Bool(true),
	})
	require.NoError(t, err)
}

func get(t *testing.T, sb *sandbox.Sandbox, name string) string {
	t.Helper()
	v, err := channel.Get(context.Background(), awsapi.NewClients(sb.Config).SSM("us-east-1"), name)
	if _, ok := err.(*channel.NotSetError); ok {
		return ""
	}
	require.NoError(t, err)
	return v.AMI
}

func TestPromote(t *testing.T) {
	sb := sandbox.Start(t)
	dir := channeltest.CopyProject(t)
	fam := channeltest.SeedFamily(t, sb, channeltest.Project, "ami-source")
	put(t, sb, paths.Channel("base", "latest"), fam.Base.Home())

	// Flags after the layer, as documented.
	code, out, errOut := clitest.Run(t, sb, dir, "promote", "base", "--from", "latest", "--to", "stable")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "Promoted base latest → stable: "+fam.Base.Home()+" (was unset), /amibake/acme-golden/layers/base/stable version 1.\n", out)
	assert.Equal(t, fam.Base.Home(), get(t, sb, paths.Channel("base", "stable")))

	code, out, errOut = clitest.Run(t, sb, dir, "promote", "base")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "Nothing to do: base stable already holds "+fam.Base.Home()+" (version 1).\n", out)

	// A new latest moves stable; JSON says what changed.
	newer := channeltest.SeedBuild(t, sb, channeltest.Project, "base", "b9", &fam.Foundation, "")
	put(t, sb, paths.Channel("base", "latest"), newer.Home())
	code, out, errOut = clitest.Run(t, sb, dir, "-o", "json", "promote", "base", "--to=stable")
	require.Equal(t, 0, code, errOut)
	var res channel.Promotion
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	assert.Equal(t, channel.Promotion{
		Layer: "base", Region: "us-east-1", From: "latest", FromVersion: 2, To: "stable",
		Parameter: "/amibake/acme-golden/layers/base/stable", AMI: newer.Home(), Previous: fam.Base.Home(),
		Changed: true, Version: 2,
	}, res)

	// Any channel name, validated.
	code, _, errOut = clitest.Run(t, sb, dir, "promote", "base", "--from", "stable", "--to", "canary-1")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, newer.Home(), get(t, sb, paths.Channel("base", "canary-1")))
	code, _, errOut = clitest.Run(t, sb, dir, "promote", "base", "--to", "Prod")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, `invalid channel "Prod"`)
	code, _, errOut = clitest.Run(t, sb, dir, "promote", "nope")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, `unknown layer "nope"`)
	code, _, errOut = clitest.Run(t, sb, dir, "promote", "linux")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "channel /amibake/acme-golden/layers/linux/latest is not set")

	// The lock was released every time.
	code, out, _ = clitest.Run(t, sb, dir, "lock", "status")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "Unlocked")
}

func TestPromoteRefusesRevokedAndUnavailable(t *testing.T) {
	sb := sandbox.Start(t)
	dir := channeltest.CopyProject(t)
	fam := channeltest.SeedFamily(t, sb, channeltest.Project, "ami-source")
	put(t, sb, paths.Channel("app-web", "latest"), fam.AppWeb.Home())
	put(t, sb, paths.Channel("app-worker", "latest"), fam.AppWorker.Home())
	sb.Do(func(w *sandbox.World) {
		w.EC2.Images[fam.AppWeb.Home()].Tags[lineage.TagRevoked] = "CVE-2026-7"
		img := w.EC2.Images[fam.AppWorker.Home()]
		img.State, img.AvailableAt = "pending", img.AvailableAt.Add(time.Hour)
	})

	code, _, errOut := clitest.Run(t, sb, dir, "promote", "app-web")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "refusing to promote "+fam.AppWeb.Home()+": it is revoked (CVE-2026-7)")
	code, _, errOut = clitest.Run(t, sb, dir, "promote", "app-worker")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "it is pending, not available")
	assert.Empty(t, get(t, sb, paths.Channel("app-web", "stable")))
	assert.Empty(t, get(t, sb, paths.Channel("app-worker", "stable")))
}

func TestPromoteLockHeld(t *testing.T) {
	sb := sandbox.Start(t)
	dir := channeltest.CopyProject(t)
	fam := channeltest.SeedFamily(t, sb, channeltest.Project, "ami-source")
	put(t, sb, paths.Channel("base", "latest"), fam.Base.Home())

	l := &lock.Locker{SSM: awsapi.NewClients(sb.Config).SSM(""), Name: paths.Lock(), Holder: "ci:job-7", Command: "bake", TTL: time.Hour}
	held, err := l.Acquire(context.Background(), 0)
	require.NoError(t, err)

	code, _, errOut := clitest.Run(t, sb, dir, "promote", "base", "--to", "stable")
	assert.Equal(t, 4, code)
	assert.Contains(t, errOut, "is held by ci:job-7")
	assert.Empty(t, get(t, sb, paths.Channel("base", "stable")), "nothing written")

	require.NoError(t, held.Release(context.Background()))
	code, _, errOut = clitest.Run(t, sb, dir, "promote", "base", "--lock-timeout", "5s")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, fam.Base.Home(), get(t, sb, paths.Channel("base", "stable")))
}
