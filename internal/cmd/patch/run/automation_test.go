package run_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/bake/automationtest"
	"github.com/amibake/amibake/internal/channel/channeltest/clitest"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/sandbox"
)

// `patch run --apply --engine automation`: a critical patch is released;
// linux and app (built on it) are rebaked without packer by the project's
// Automation runbook, each verified compliant and published; a second run
// has nothing to do.
func TestPatchRunEngineAutomation(t *testing.T) {
	sb := sandbox.Start(t)
	dir := automationtest.WriteProject(t, automationtest.Files())
	before := automationtest.Seed(t, sb, dir)
	_, err := sb.ReleasePatch(sandbox.PatchRelease{Package: "openssl", Packages: []string{"openssl-libs"}, Severity: "Critical"})
	require.NoError(t, err)
	clients := awsapi.NewClients(sb.Config)
	latest := func(layer string) string {
		out, err := clients.SSM("").GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String(automationtest.Paths.Channel(layer, lineage.ChannelLatest))})
		require.NoError(t, err)
		return aws.ToString(out.Parameter.Value)
	}

	code, out, errOut := clitest.Run(t, sb, dir, "patch", "run", "--engine", "automation", "--poll", "5ms")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "Engine automation: each is patched from its current AMI")
	assert.Equal(t, 0, sb.CountFirstAttempts("ssm", "StartAutomationExecution"), "dry run")

	code, out, errOut = clitest.Run(t, sb, dir, "-o", "json", "patch", "run", "--apply", "--engine", "automation", "--poll", "5ms")
	require.Equal(t, 0, code, "stderr:\n%s\nstdout:\n%s", errOut, out)
	var rep report
	require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
	assert.Equal(t, 2, rep.Rebaked)
	require.Len(t, rep.Results, 2)
	for _, r := range rep.Results {
		assert.Equal(t, "built", r.Status, r.Error)
		assert.Equal(t, "patch-drift", r.Reason)
		assert.True(t, r.Verified, r.Layer)
		assert.True(t, r.Published, r.Layer)
		ami := r.AMI[automationtest.Region]
		assert.Equal(t, ami, latest(r.Layer), "%s: latest moved", r.Layer)
		assert.NotEqual(t, before[r.Layer], ami)
		img, err := clients.EC2("").DescribeImages(context.Background(), &ec2.DescribeImagesInput{ImageIds: []string{ami}})
		require.NoError(t, err)
		tags := map[string]string{}
		for _, tg := range img.Images[0].Tags {
			tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
		}
		assert.Equal(t, r.PatchLevel, tags[lineage.TagPatchLevel])
	}
	assert.Contains(t, errOut, "automation ", "progress names the execution and its steps")
	assert.Contains(t, errOut, "installPatches (aws:runCommand) success")
	assert.Equal(t, 2, sb.CountFirstAttempts("ssm", "StartAutomationExecution"))
	assert.Equal(t, 1, sb.CountFirstAttempts("ssm", "CreateDocument"), "one runbook for the project")

	code, out, errOut = clitest.Run(t, sb, dir, "patch", "run", "--apply", "--engine", "automation", "--poll", "5ms")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "Nothing to rebake")
	assert.Equal(t, 2, sb.CountFirstAttempts("ssm", "StartAutomationExecution"))

	code, _, errOut = clitest.Run(t, sb, dir, "patch", "run", "--engine", "ansible")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, `--engine must be packer or automation, got "ansible"`)
}
