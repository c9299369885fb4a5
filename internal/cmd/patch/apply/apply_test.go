package apply_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/channel/channeltest"
	"github.com/amibake/amibake/internal/channel/channeltest/clitest"
	"github.com/amibake/amibake/internal/cmd/patch/apply"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/lock"
	"github.com/amibake/amibake/internal/sandbox"
	"github.com/amibake/amibake/patch/baseline"
)

const baselineName = "amibake-acme-golden-al2023_security"

func TestApplyCreatesThenIsIdempotentThenUpdates(t *testing.T) {
	sb := sandbox.Start(t)
	dir := channeltest.CopyProject(t)
	client := awsapi.NewClients(sb.Config).SSM("us-east-1")
	ctx := context.Background()

	// Dry run: the whole diff, nothing created.
	code, out, errOut := clitest.Run(t, sb, dir, "patch", "apply")
	require.Equal(t, 0, code, errOut)
	for _, r := range []string{"us-east-1", "eu-west-1"} {
		assert.Contains(t, out, r+": + create baseline "+baselineName+"\n", "baselines are regional")
	}
	assert.Contains(t, out, "    approval_rule[0]: classification=[Security] severity=[Critical,Important] approve_after_days=0 compliance_level=CRITICAL\n")
	assert.Contains(t, out, "    approval_rule[1]: classification=[Bugfix] severity=[] approve_after_days=7 compliance_level=UNSPECIFIED\n")
	for _, g := range []string{"golden-linux", "web", "worker"} {
		assert.Contains(t, out, `us-east-1: + register patch group "`+g+`" → `+baselineName+"\n")
		assert.Contains(t, out, `eu-west-1: + register patch group "`+g+`" → `+baselineName+"\n")
	}
	assert.Contains(t, out, "8 change(s). Dry run")
	cur, err := baseline.Observe(ctx, client, "acme-golden")
	require.NoError(t, err)
	assert.Empty(t, cur.Baselines)
	assert.Equal(t, 0, sb.CountCalls("ssm", "CreatePatchBaseline"))

	// A stale registration of ours and a foreign one: the stale one goes,
	// the foreign one stays.
	stale, err := client.CreatePatchBaseline(ctx, &ssm.CreatePatchBaselineInput{Name: aws.String("amibake-acme-golden-old"),
		OperatingSystem: ssmtypes.OperatingSystemAmazonLinux2023})
	require.NoError(t, err)
	_, err = client.RegisterPatchBaselineForPatchGroup(ctx, &ssm.RegisterPatchBaselineForPatchGroupInput{BaselineId: stale.BaselineId, PatchGroup: aws.String("retired")})
	require.NoError(t, err)
	foreign, err := client.CreatePatchBaseline(ctx, &ssm.CreatePatchBaselineInput{Name: aws.String("someone-else"),
		OperatingSystem: ssmtypes.OperatingSystemAmazonLinux2023})
	require.NoError(t, err)
	_, err = client.RegisterPatchBaselineForPatchGroup(ctx, &ssm.RegisterPatchBaselineForPatchGroupInput{BaselineId: foreign.BaselineId, PatchGroup: aws.String("theirs")})
	require.NoError(t, err)

	code, out, errOut = clitest.Run(t, sb, dir, "patch", "apply", "--apply")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, `us-east-1: - deregister patch group "retired" from amibake-acme-golden-old (no layer or fleet uses it)`)
	assert.NotContains(t, out, "theirs")
	assert.Contains(t, out, "Applied 9 change(s).")

	cur, err = baseline.Observe(ctx, client, "acme-golden")
	require.NoError(t, err)
	b := cur.Baselines[baselineName]
	require.NotNil(t, b)
	assert.Equal(t, "AMAZON_LINUX_2023", b.OperatingSystem)
	assert.Equal(t, []baseline.Rule{
		{Classification: []string{"Security"}, Severity: []string{"Critical", "Important"}, ApproveAfterDays: 0, ComplianceLevel: "CRITICAL"},
		{Classification: []string{"Bugfix"}, ApproveAfterDays: 7, ComplianceLevel: "UNSPECIFIED"},
	}, b.ApprovalRules)
	for _, g := range []string{"golden-linux", "web", "worker"} {
		assert.Equal(t, baselineName, cur.Groups[g].BaselineName, g)
	}
	assert.NotContains(t, cur.Groups, "retired")
	assert.Equal(t, "someone-else", cur.Groups["theirs"].BaselineName)
	tags, err := ssm.NewFromConfig(sb.Config).ListTagsForResource(ctx, &ssm.ListTagsForResourceInput{ResourceId: aws.String(b.ID), ResourceType: ssmtypes.ResourceTypeForTaggingPatchBaseline})
	require.NoError(t, err)
	require.Len(t, tags.TagList, 1)
	assert.Equal(t, lineage.TagProject, aws.ToString(tags.TagList[0].Key))
	assert.Equal(t, "acme-golden", aws.ToString(tags.TagList[0].Value))

	eu, err := baseline.Observe(ctx, awsapi.NewClients(sb.Config).SSM("eu-west-1"), "acme-golden")
	require.NoError(t, err)
	require.Contains(t, eu.Baselines, baselineName)
	assert.Equal(t, baselineName, eu.Groups["worker"].BaselineName)

	// Idempotent.
	creates := sb.CountCalls("ssm", "CreatePatchBaseline")
	code, out, errOut = clitest.Run(t, sb, dir, "patch", "apply", "--apply")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "No changes: SSM patch baselines and patch groups match the HCL.\n", out)
	assert.Equal(t, creates, sb.CountCalls("ssm", "CreatePatchBaseline"))
	assert.Equal(t, 0, sb.CountCalls("ssm", "UpdatePatchBaseline"))

	// A changed approval rule is an update, field by field.
	hcl := filepath.Join(dir, "patch.hcl")
	src, err := os.ReadFile(hcl)
	require.NoError(t, err)
	changed := strings.Replace(string(src), "approve_after_days = 7", "approve_after_days = 3", 1)
	require.NotEqual(t, string(src), changed)
	require.NoError(t, os.WriteFile(hcl, []byte(changed), 0o644))

	code, out, errOut = clitest.Run(t, sb, dir, "-o", "json", "patch", "apply")
	require.Equal(t, 0, code, errOut)
	var res apply.Result
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	require.Len(t, res.Changes, 2, "one update per region")
	assert.False(t, res.Applied)
	assert.Equal(t, "us-east-1", res.Changes[0].Region)
	assert.Equal(t, "eu-west-1", res.Changes[1].Region)
	for _, c := range res.Changes {
		assert.Equal(t, baseline.ActionUpdate, c.Action)
		assert.Equal(t, []baseline.FieldChange{{Field: "approval_rule[1]",
			Old: "classification=[Bugfix] severity=[] approve_after_days=7 compliance_level=UNSPECIFIED",
			New: "classification=[Bugfix] severity=[] approve_after_days=3 compliance_level=UNSPECIFIED"}}, c.Fields)
	}

	code, out, errOut = clitest.Run(t, sb, dir, "patch", "apply", "--apply")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "us-east-1: ~ update baseline "+baselineName+" ("+b.ID+")\n    approval_rule[1]: classification=[Bugfix] severity=[] approve_after_days=7 compliance_level=UNSPECIFIED → classification=[Bugfix] severity=[] approve_after_days=3 compliance_level=UNSPECIFIED\n")
	cur, err = baseline.Observe(ctx, client, "acme-golden")
	require.NoError(t, err)
	assert.Equal(t, 3, cur.Baselines[baselineName].ApprovalRules[1].ApproveAfterDays)
	code, out, _ = clitest.Run(t, sb, dir, "patch", "apply")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "No changes")

	// The lock was released.
	code, out, _ = clitest.Run(t, sb, dir, "lock", "status")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "Unlocked")
}

func TestApplyLockHeld(t *testing.T) {
	sb := sandbox.Start(t)
	dir := channeltest.CopyProject(t)
	l := &lock.Locker{SSM: awsapi.NewClients(sb.Config).SSM(""), Name: "/amibake/acme-golden/lock", Holder: "ci:job-9", Command: "bake", TTL: time.Hour}
	_, err := l.Acquire(context.Background(), 0)
	require.NoError(t, err)

	code, _, errOut := clitest.Run(t, sb, dir, "patch", "apply", "--apply")
	assert.Equal(t, 4, code)
	assert.Contains(t, errOut, "is held by ci:job-9")
	assert.Equal(t, 0, sb.CountCalls("ssm", "CreatePatchBaseline"))

	// The dry run never takes the lock.
	code, out, errOut := clitest.Run(t, sb, dir, "patch", "apply")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "Dry run")
}
