package patch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/sandbox"
)

// The patch level's digest is the one the sandbox's AWS-RunPatchBaseline
// Install records for the same baseline and moment; a new approved
// advisory changes it, a rejected one does not.
func TestResolveLevelMatchesInstall(t *testing.T) {
	sb := sandbox.Start(t)
	ctx := context.Background()
	client := ssm.NewFromConfig(sb.Config)
	out, err := client.CreatePatchBaseline(ctx, &ssm.CreatePatchBaselineInput{Name: aws.String("amibake-p-sec"),
		OperatingSystem: ssmtypes.OperatingSystemAmazonLinux2023, RejectedPatches: []string{"zlib"},
		ApprovalRules: &ssmtypes.PatchRuleGroup{PatchRules: []ssmtypes.PatchRule{{ApproveAfterDays: aws.Int32(0),
			PatchFilterGroup: &ssmtypes.PatchFilterGroup{PatchFilters: []ssmtypes.PatchFilter{
				{Key: ssmtypes.PatchFilterKeyClassification, Values: []string{"Security"}},
				{Key: ssmtypes.PatchFilterKeySeverity, Values: []string{"Critical", "Important"}}}}}}}})
	require.NoError(t, err)
	id := aws.ToString(out.BaselineId)
	want := func() string {
		var d string
		sb.Do(func(w *sandbox.World) {
			var b *sandbox.PatchBaseline
			for _, sc := range w.SSM.Scopes {
				if sc.Baselines[id] != nil {
					b = sc.Baselines[id]
				}
			}
			require.NotNil(t, b)
			var ids []string
			for _, p := range w.ApprovedPatches(b, sb.Clock().Now()) {
				ids = append(ids, p.ID)
			}
			sort.Strings(ids)
			sum := sha256.Sum256([]byte(id + "\n" + strings.Join(ids, "\n")))
			d = hex.EncodeToString(sum[:])
		})
		return d
	}
	level := func() *Level {
		lv, err := ResolveLevel(ctx, client, "p", "sec", sb.Clock().Now())
		require.NoError(t, err)
		return lv
	}
	l1 := level()
	assert.Equal(t, id, l1.BaselineID)
	assert.Len(t, l1.Digest, LevelDigestLen)
	assert.Equal(t, want()[:LevelDigestLen], l1.Digest)
	assert.Equal(t, id+":"+l1.Digest, l1.String())

	_, err = sb.ReleasePatch(sandbox.PatchRelease{Package: "zlib", Severity: "Critical"})
	require.NoError(t, err)
	assert.Equal(t, l1.Digest, level().Digest, "a rejected advisory is not in the approved set")

	_, err = sb.ReleasePatch(sandbox.PatchRelease{Package: "kernel", Severity: "Critical"})
	require.NoError(t, err)
	l2 := level()
	assert.NotEqual(t, l1.Digest, l2.Digest)
	assert.Equal(t, want()[:LevelDigestLen], l2.Digest)
	assert.Len(t, l2.Approved, len(l1.Approved)+1)
	assert.Equal(t, BasisApproved, l2.Basis)

	_, err = ResolveLevel(ctx, client, "p", "nope", sb.Clock().Now())
	assert.ErrorContains(t, err, "amibake-p-nope does not exist")
}

// fakeLevelSSM answers the three calls ResolveLevel makes; SSM lists no
// advisories for the OS (Amazon Linux 2023 on AWS).
type fakeLevelSSM struct {
	awsapi.SSM
	baseline *ssm.GetPatchBaselineOutput
}

func (f *fakeLevelSSM) DescribePatchBaselines(context.Context, *ssm.DescribePatchBaselinesInput, ...func(*ssm.Options)) (*ssm.DescribePatchBaselinesOutput, error) {
	return &ssm.DescribePatchBaselinesOutput{BaselineIdentities: []ssmtypes.PatchBaselineIdentity{
		{BaselineId: f.baseline.BaselineId, BaselineName: f.baseline.Name}}}, nil
}

func (f *fakeLevelSSM) GetPatchBaseline(context.Context, *ssm.GetPatchBaselineInput, ...func(*ssm.Options)) (*ssm.GetPatchBaselineOutput, error) {
	return f.baseline, nil
}

func (f *fakeLevelSSM) DescribeAvailablePatches(context.Context, *ssm.DescribeAvailablePatchesInput, ...func(*ssm.Options)) (*ssm.DescribeAvailablePatchesOutput, error) {
	return &ssm.DescribeAvailablePatchesOutput{}, nil
}

func TestResolveLevelWithoutAdvisoryList(t *testing.T) {
	b := &ssm.GetPatchBaselineOutput{BaselineId: aws.String("pb-0abc"), Name: aws.String("amibake-p-sec"),
		OperatingSystem: ssmtypes.OperatingSystemAmazonLinux2023,
		ApprovalRules: &ssmtypes.PatchRuleGroup{PatchRules: []ssmtypes.PatchRule{{ApproveAfterDays: aws.Int32(0),
			PatchFilterGroup: &ssmtypes.PatchFilterGroup{PatchFilters: []ssmtypes.PatchFilter{
				{Key: ssmtypes.PatchFilterKeySeverity, Values: []string{"Important", "Critical"}}}}}}}}
	client := &fakeLevelSSM{baseline: b}
	day := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	get := func(now time.Time) *Level {
		lv, err := ResolveLevel(context.Background(), client, "p", "sec", now)
		require.NoError(t, err)
		return lv
	}
	l1 := get(day)
	assert.Equal(t, BasisBaselineDay, l1.Basis)
	assert.Len(t, l1.Digest, LevelDigestLen)
	assert.Equal(t, l1.Digest, get(day.Add(10*time.Hour)).Digest, "same baseline, same day")
	assert.NotEqual(t, l1.Digest, get(day.Add(24*time.Hour)).Digest, "a new day may approve new advisories")
	b.RejectedPatches = []string{"zlib"}
	assert.NotEqual(t, l1.Digest, get(day).Digest, "a changed baseline")
}
