package revoke_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/channel/channeltest"
	"github.com/amibake/amibake/internal/channel/channeltest/clitest"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/lock"
	"github.com/amibake/amibake/internal/sandbox"
)

// snapshot is every own image's tags, state and deprecation time.
func snapshot(sb *sandbox.Sandbox) map[string]string {
	out := map[string]string{}
	sb.Do(func(w *sandbox.World) {
		for id, img := range w.EC2.Images {
			if img.Account != sandbox.DefaultAccount {
				continue
			}
			b, _ := json.Marshal(struct {
				Tags  sandbox.Tags
				State string
				Dep   time.Time
			}{img.Tags, img.State, img.DeprecationTime})
			out[id] = string(b)
		}
	})
	return out
}

func TestRevokeDryRunChangesNothing(t *testing.T) {
	sb := sandbox.Start(t)
	dir := channeltest.CopyProject(t)
	fam := channeltest.SeedFamily(t, sb, channeltest.Project, "ami-source")
	before := snapshot(sb)
	calls := sb.CountCalls("", "")

	code, out, errOut := clitest.Run(t, sb, dir, "revoke", fam.Foundation.Home(), "--reason", "CVE-2026-1")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "Would revoke 2 AMIs (amibake:revoked=\"CVE-2026-1\"); nothing is deregistered:\n")
	assert.Contains(t, out, "3 descendant builds are built on it and stay as they are; --cascade revokes them too.\n")
	assert.Contains(t, out, "Dry run: run again with --apply to do it.\n")

	code, out, errOut = clitest.Run(t, sb, dir, "-o", "json", "revoke", "--cascade", fam.Foundation.Home())
	require.Equal(t, 0, code, errOut)
	var res struct {
		Applied bool                   `json:"applied"`
		Actions []lineage.RevokeAction `json:"actions"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	assert.False(t, res.Applied)
	assert.Len(t, res.Actions, 8)

	assert.Equal(t, before, snapshot(sb), "dry run changed nothing")
	for _, c := range []string{"CreateTags", "EnableImageDeprecation", "PutParameter", "DeregisterImage"} {
		assert.Zero(t, sb.CountCalls("ec2", c)+sb.CountCalls("ssm", c), c)
	}
	assert.Positive(t, sb.CountCalls("", "")-calls)
}

func TestRevokeApplyCascade(t *testing.T) {
	sb := sandbox.Start(t)
	dir := channeltest.CopyProject(t)
	fam := channeltest.SeedFamily(t, sb, channeltest.Project, "ami-source")
	channeltest.PutChannel(t, sb, "us-east-1", "/amibake/acme-golden/layers/base/latest", fam.Base.Home())
	before := snapshot(sb)

	code, out, errOut := clitest.Run(t, sb, dir, "revoke", fam.Foundation.Home(), "--cascade", "--reason", "CVE-2026-1", "--apply")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "Revoked 8 AMIs")
	assert.NotContains(t, out, "Dry run")
	assert.Equal(t, 2, sb.CountCalls("ec2", "CreateTags"), "one CreateTags per region")
	assert.Equal(t, 8, sb.CountCalls("ec2", "EnableImageDeprecation"))

	subtree := map[string]bool{}
	for _, b := range []channeltest.Build{fam.Foundation, fam.Base, fam.AppWeb, fam.AppWorker} {
		for _, id := range b.All() {
			subtree[id] = true
		}
	}
	after := snapshot(sb)
	require.Len(t, after, len(before))
	for id := range before {
		img := channeltest.Image(sb, id)
		if !subtree[id] {
			assert.Equal(t, before[id], after[id], "%s untouched", id)
			continue
		}
		assert.Equal(t, "CVE-2026-1", img.Tags[lineage.TagRevoked], id)
		assert.Equal(t, "available", img.State, "never deregistered")
		assert.False(t, img.DeprecationTime.IsZero(), id)
		assert.WithinDuration(t, time.Now(), img.DeprecationTime, 2*time.Minute, id)
	}

	// Promote refuses the revoked AMI; the lock was released.
	code, _, errOut = clitest.Run(t, sb, dir, "promote", "base")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "it is revoked (CVE-2026-1)")

	// A second apply finds nothing left to do.
	code, out, errOut = clitest.Run(t, sb, dir, "revoke", fam.Foundation.Home(), "--cascade", "--reason", "CVE-2026-1", "--apply")
	require.Equal(t, 0, code, errOut)
	assert.NotRegexp(t, `-1\s+tagged`, out)
	assert.Contains(t, out, "already tagged  already deprecated")
	assert.Equal(t, 8, sb.CountCalls("ec2", "EnableImageDeprecation"), "nothing deprecated twice")
}

func TestRevokeLockHeld(t *testing.T) {
	sb := sandbox.Start(t)
	dir := channeltest.CopyProject(t)
	fam := channeltest.SeedFamily(t, sb, channeltest.Project, "ami-source")
	l := &lock.Locker{SSM: awsapi.NewClients(sb.Config).SSM(""), Name: "/amibake/acme-golden/lock", Holder: "ci:job-9", Command: "bake", TTL: time.Hour}
	_, err := l.Acquire(context.Background(), 0)
	require.NoError(t, err)
	before := snapshot(sb)

	code, _, errOut := clitest.Run(t, sb, dir, "revoke", fam.Base.Home(), "--apply")
	assert.Equal(t, 4, code)
	assert.Contains(t, errOut, "held by ci:job-9")
	assert.Equal(t, before, snapshot(sb))

	// A dry run is read-only and needs no lock.
	code, _, errOut = clitest.Run(t, sb, dir, "revoke", fam.Base.Home())
	assert.Equal(t, 0, code, errOut)

	// Not a project AMI.
	var jeos string
	sb.Do(func(w *sandbox.World) { jeos = w.LatestAmazonLinux("us-east-1", "x86_64", false).ID })
	code, _, errOut = clitest.Run(t, sb, dir, "revoke", jeos)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, `not an AMI of project "acme-golden"`)
}
