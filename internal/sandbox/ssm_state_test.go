package sandbox

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSSMStateSurvivesRestart persists a world with parameters, a command,
// a patch baseline, a window and content, and reads it back.
func TestSSMStateSurvivesRestart(t *testing.T) {
	file := filepath.Join(t.TempDir(), "state.json")
	ctx := context.Background()
	sb := Start(t, func(o *Options) { o.StateFile = file })
	cl := ssmClient(sb)
	putString(t, cl, "/persist/me", "v1", false)
	ids := launchManaged(t, sb, 1, nil)
	out, err := cl.SendCommand(ctx, &ssm.SendCommandInput{DocumentName: aws.String("AWS-RunShellScript"), InstanceIds: ids,
		Parameters: shell("# amibake-step: r/s", "dnf install -y nginx")})
	require.NoError(t, err)
	bid := securityBaseline(t, cl, "persisted", 0)
	_, err = cl.CreateMaintenanceWindow(ctx, &ssm.CreateMaintenanceWindowInput{Name: aws.String("persisted"), Schedule: aws.String("cron(0 2 ? * SUN *)"),
		Duration: aws.Int32(2), Cutoff: 1})
	require.NoError(t, err)
	p, err := sb.ReleasePatch(PatchRelease{Package: "nginx"})
	require.NoError(t, err)
	require.NoError(t, sb.Close())

	again := Start(t, func(o *Options) { o.StateFile = file })
	cl = ssmClient(again)
	got, err := cl.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/persist/me")})
	require.NoError(t, err)
	assert.Equal(t, "v1", aws.ToString(got.Parameter.Value))
	inv, err := cl.GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{CommandId: out.Command.CommandId, InstanceId: aws.String(ids[0])})
	require.NoError(t, err)
	assert.Equal(t, ssmtypes.CommandInvocationStatusSuccess, inv.Status)
	_, err = cl.GetPatchBaseline(ctx, &ssm.GetPatchBaselineInput{BaselineId: aws.String(bid)})
	require.NoError(t, err)
	mws, err := cl.DescribeMaintenanceWindows(ctx, &ssm.DescribeMaintenanceWindowsInput{})
	require.NoError(t, err)
	require.Len(t, mws.WindowIdentities, 1)
	assert.NotEmpty(t, aws.ToString(mws.WindowIdentities[0].NextExecutionTime))
	content, ok := again.ContentOf(ids[0])
	require.True(t, ok)
	assert.Contains(t, content.Packages, "nginx")
	assert.Equal(t, "r/s", content.Steps[len(content.Steps)-1].Name)
	again.Do(func(w *World) { assert.NotNil(t, w.Catalogue.Patch(p.ID)) })
	pub, err := cl.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64")})
	require.NoError(t, err)
	assert.NotEmpty(t, aws.ToString(pub.Parameter.Value))
}
