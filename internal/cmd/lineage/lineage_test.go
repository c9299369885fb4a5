package lineage_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/channel/channeltest"
	"github.com/amibake/amibake/internal/channel/channeltest/clitest"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/sandbox"
)

func TestLineage(t *testing.T) {
	sb := sandbox.Start(t)
	dir := channeltest.CopyProject(t)
	fam := channeltest.SeedFamily(t, sb, channeltest.Project, "ami-source")
	sb.Do(func(w *sandbox.World) {
		w.EC2.Images[fam.AppWorker.IDs["eu-west-1"]].Tags[lineage.TagRevoked] = "CVE-9"
	})
	eu := func(b channeltest.Build) string { return b.IDs["eu-west-1"] }

	before := sb.CountCalls("ec2", "DescribeImages")
	code, out, errOut := clitest.Run(t, sb, dir, "lineage", fam.Foundation.Home())
	require.Equal(t, 0, code, errOut)
	// Find (1) + linux (1) + copies (2 regions) + 3 generations × 2 regions.
	assert.Equal(t, 10, sb.CountCalls("ec2", "DescribeImages")-before)
	assert.Equal(t, "ami-source (source)\n"+
		"└── linux  "+fam.Linux.Home()+" us-east-1  "+eu(fam.Linux)+" eu-west-1\n"+
		"    └── foundation  "+fam.Foundation.Home()+" us-east-1  "+eu(fam.Foundation)+" eu-west-1  ◀\n"+
		"        └── base  "+fam.Base.Home()+" us-east-1  "+eu(fam.Base)+" eu-west-1\n"+
		"            ├── app-web  "+fam.AppWeb.Home()+" us-east-1  "+eu(fam.AppWeb)+" eu-west-1\n"+
		"            └── app-worker  "+fam.AppWorker.Home()+" us-east-1  "+eu(fam.AppWorker)+" eu-west-1  REVOKED: CVE-9\n", out)

	// From a copy, with flags after the argument.
	code, out, errOut = clitest.Run(t, sb, dir, "-o", "json", "lineage", eu(fam.Base), "--region", "eu-west-1")
	require.Equal(t, 0, code, errOut)
	var lin lineage.Lineage
	require.NoError(t, json.Unmarshal([]byte(out), &lin))
	assert.Equal(t, "ami-source", lin.Source)
	require.Len(t, lin.Ancestors, 2)
	assert.Equal(t, fam.Linux.All(), lin.Ancestors[0].IDs())
	assert.Equal(t, fam.Foundation.All(), lin.Ancestors[1].IDs())
	assert.Equal(t, "base", lin.Target.Layer)
	assert.Equal(t, fam.Base.All(), lin.Target.IDs())
	require.Len(t, lin.Target.Children, 2)
	assert.Equal(t, "app-web", lin.Target.Children[0].Layer)
	assert.Equal(t, "CVE-9", lin.Target.Children[1].Revoked)

	code, _, errOut = clitest.Run(t, sb, dir, "lineage", "ami-0123456789abcdef0")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "AMI ami-0123456789abcdef0 not found in us-east-1, eu-west-1")
	code, _, errOut = clitest.Run(t, sb, dir, "lineage", "base")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, `"base" is not an AMI id`)
}
