package sandbox

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func securityBaseline(t *testing.T, cl *ssm.Client, name string, days int32) string {
	t.Helper()
	out, err := cl.CreatePatchBaseline(context.Background(), &ssm.CreatePatchBaselineInput{
		Name: aws.String(name), OperatingSystem: ssmtypes.OperatingSystemAmazonLinux2023, Description: aws.String("security now"),
		ApprovalRules: &ssmtypes.PatchRuleGroup{PatchRules: []ssmtypes.PatchRule{{
			PatchFilterGroup: &ssmtypes.PatchFilterGroup{PatchFilters: []ssmtypes.PatchFilter{
				{Key: ssmtypes.PatchFilterKeyClassification, Values: []string{"Security"}},
				{Key: ssmtypes.PatchFilterKeySeverity, Values: []string{"Critical", "Important"}},
			}},
			ApproveAfterDays: aws.Int32(days), ComplianceLevel: ssmtypes.PatchComplianceLevelCritical,
		}}},
	})
	require.NoError(t, err)
	return aws.ToString(out.BaselineId)
}

func TestPatchBaselineLifecycle(t *testing.T) {
	sb := Start(t)
	cl := ssmClient(sb)
	ctx := context.Background()

	// AWS's default for AL2023 is there and is the default.
	def, err := cl.GetDefaultPatchBaseline(ctx, &ssm.GetDefaultPatchBaselineInput{OperatingSystem: ssmtypes.OperatingSystemAmazonLinux2023})
	require.NoError(t, err)
	awsID := aws.ToString(def.BaselineId)
	assert.True(t, strings.HasPrefix(awsID, "arn:aws:ssm:us-east-1:"), awsID)
	awsB, err := cl.GetPatchBaseline(ctx, &ssm.GetPatchBaselineInput{BaselineId: def.BaselineId})
	require.NoError(t, err)
	assert.Equal(t, "AWS-AmazonLinux2023DefaultPatchBaseline", aws.ToString(awsB.Name))
	require.Len(t, awsB.ApprovalRules.PatchRules, 2)
	assert.Equal(t, int32(7), aws.ToInt32(awsB.ApprovalRules.PatchRules[0].ApproveAfterDays))

	id := securityBaseline(t, cl, "al2023-security", 0)
	assert.Regexp(t, `^pb-[0-9a-f]{17}$`, id)
	// ClientToken makes create idempotent.
	tok1, err := cl.CreatePatchBaseline(ctx, &ssm.CreatePatchBaselineInput{Name: aws.String("tokened"), OperatingSystem: ssmtypes.OperatingSystemAmazonLinux2023, ClientToken: aws.String("abc")})
	require.NoError(t, err)
	tok2, err := cl.CreatePatchBaseline(ctx, &ssm.CreatePatchBaselineInput{Name: aws.String("tokened"), OperatingSystem: ssmtypes.OperatingSystemAmazonLinux2023, ClientToken: aws.String("abc")})
	require.NoError(t, err)
	assert.Equal(t, aws.ToString(tok1.BaselineId), aws.ToString(tok2.BaselineId))

	_, err = cl.CreatePatchBaseline(ctx, &ssm.CreatePatchBaselineInput{Name: aws.String("al2023-security"), OperatingSystem: ssmtypes.OperatingSystemAmazonLinux2023})
	var exists *ssmtypes.AlreadyExistsException
	require.ErrorAs(t, err, &exists)
	_, err = cl.CreatePatchBaseline(ctx, &ssm.CreatePatchBaselineInput{Name: aws.String("bad-filter"), OperatingSystem: ssmtypes.OperatingSystemAmazonLinux2023,
		ApprovalRules: &ssmtypes.PatchRuleGroup{PatchRules: []ssmtypes.PatchRule{{PatchFilterGroup: &ssmtypes.PatchFilterGroup{PatchFilters: []ssmtypes.PatchFilter{
			{Key: ssmtypes.PatchFilterKeyMsrcSeverity, Values: []string{"Critical"}}}}, ApproveAfterDays: aws.Int32(1)}}}})
	ssmRequireCode(t, err, "ValidationException")
	_, err = cl.CreatePatchBaseline(ctx, &ssm.CreatePatchBaselineInput{Name: aws.String("no-days"), OperatingSystem: ssmtypes.OperatingSystemAmazonLinux2023,
		ApprovalRules: &ssmtypes.PatchRuleGroup{PatchRules: []ssmtypes.PatchRule{{PatchFilterGroup: &ssmtypes.PatchFilterGroup{PatchFilters: []ssmtypes.PatchFilter{
			{Key: ssmtypes.PatchFilterKeyClassification, Values: []string{"Security"}}}}}}}})
	ssmRequireCode(t, err, "ValidationException")

	got, err := cl.GetPatchBaseline(ctx, &ssm.GetPatchBaselineInput{BaselineId: aws.String(id)})
	require.NoError(t, err)
	assert.Equal(t, "al2023-security", aws.ToString(got.Name))
	assert.Equal(t, ssmtypes.OperatingSystemAmazonLinux2023, got.OperatingSystem)
	assert.Equal(t, ssmtypes.PatchComplianceLevelCritical, got.ApprovalRules.PatchRules[0].ComplianceLevel)
	assert.Equal(t, ssmtypes.PatchActionAllowAsDependency, got.RejectedPatchesAction)
	assert.NotNil(t, got.CreatedDate)

	upd, err := cl.UpdatePatchBaseline(ctx, &ssm.UpdatePatchBaselineInput{BaselineId: aws.String(id), RejectedPatches: []string{"kernel*"}, Description: aws.String("no kernels")})
	require.NoError(t, err)
	assert.Equal(t, []string{"kernel*"}, upd.RejectedPatches)
	assert.Len(t, upd.ApprovalRules.PatchRules, 1, "not replaced")
	upd, err = cl.UpdatePatchBaseline(ctx, &ssm.UpdatePatchBaselineInput{BaselineId: aws.String(id), Replace: aws.Bool(true), Name: aws.String("al2023-security")})
	require.NoError(t, err)
	assert.Empty(t, upd.ApprovalRules.PatchRules, "replaced")
	assert.Empty(t, upd.RejectedPatches)
	_, err = cl.UpdatePatchBaseline(ctx, &ssm.UpdatePatchBaselineInput{BaselineId: aws.String(awsID), Description: aws.String("x")})
	require.Error(t, err)

	// Patch groups.
	reg, err := cl.RegisterPatchBaselineForPatchGroup(ctx, &ssm.RegisterPatchBaselineForPatchGroupInput{BaselineId: aws.String(id), PatchGroup: aws.String("golden-linux")})
	require.NoError(t, err)
	assert.Equal(t, "golden-linux", aws.ToString(reg.PatchGroup))
	_, err = cl.RegisterPatchBaselineForPatchGroup(ctx, &ssm.RegisterPatchBaselineForPatchGroupInput{BaselineId: tok1.BaselineId, PatchGroup: aws.String("golden-linux")})
	require.ErrorAs(t, err, &exists)
	pg, err := cl.GetPatchBaselineForPatchGroup(ctx, &ssm.GetPatchBaselineForPatchGroupInput{PatchGroup: aws.String("golden-linux"), OperatingSystem: ssmtypes.OperatingSystemAmazonLinux2023})
	require.NoError(t, err)
	assert.Equal(t, id, aws.ToString(pg.BaselineId))
	pg, err = cl.GetPatchBaselineForPatchGroup(ctx, &ssm.GetPatchBaselineForPatchGroupInput{PatchGroup: aws.String("other"), OperatingSystem: ssmtypes.OperatingSystemAmazonLinux2023})
	require.NoError(t, err)
	assert.Equal(t, awsID, aws.ToString(pg.BaselineId), "unregistered groups use the default")
	groups, err := cl.DescribePatchGroups(ctx, &ssm.DescribePatchGroupsInput{})
	require.NoError(t, err)
	require.Len(t, groups.Mappings, 1)
	assert.Equal(t, id, aws.ToString(groups.Mappings[0].BaselineIdentity.BaselineId))
	got, err = cl.GetPatchBaseline(ctx, &ssm.GetPatchBaselineInput{BaselineId: aws.String(id)})
	require.NoError(t, err)
	assert.Equal(t, []string{"golden-linux"}, got.PatchGroups)

	_, err = cl.DeletePatchBaseline(ctx, &ssm.DeletePatchBaselineInput{BaselineId: aws.String(id)})
	var inUse *ssmtypes.ResourceInUseException
	require.ErrorAs(t, err, &inUse)

	// Default registration.
	_, err = cl.RegisterDefaultPatchBaseline(ctx, &ssm.RegisterDefaultPatchBaselineInput{BaselineId: tok1.BaselineId})
	require.NoError(t, err)
	def, err = cl.GetDefaultPatchBaseline(ctx, &ssm.GetDefaultPatchBaselineInput{OperatingSystem: ssmtypes.OperatingSystemAmazonLinux2023})
	require.NoError(t, err)
	assert.Equal(t, aws.ToString(tok1.BaselineId), aws.ToString(def.BaselineId))
	_, err = cl.DeletePatchBaseline(ctx, &ssm.DeletePatchBaselineInput{BaselineId: tok1.BaselineId})
	require.ErrorAs(t, err, &inUse)

	// Describe with filters and pages.
	var all []ssmtypes.PatchBaselineIdentity
	bp := ssm.NewDescribePatchBaselinesPaginator(cl, &ssm.DescribePatchBaselinesInput{MaxResults: aws.Int32(4)})
	for bp.HasMorePages() {
		p, err := bp.NextPage(ctx)
		require.NoError(t, err)
		all = append(all, p.BaselineIdentities...)
	}
	assert.Greater(t, len(all), 4)
	self, err := cl.DescribePatchBaselines(ctx, &ssm.DescribePatchBaselinesInput{Filters: []ssmtypes.PatchOrchestratorFilter{{Key: aws.String("OWNER"), Values: []string{"Self"}}}})
	require.NoError(t, err)
	assert.Len(t, self.BaselineIdentities, 2)
	al, err := cl.DescribePatchBaselines(ctx, &ssm.DescribePatchBaselinesInput{Filters: []ssmtypes.PatchOrchestratorFilter{
		{Key: aws.String("OWNER"), Values: []string{"AWS"}}, {Key: aws.String("OPERATING_SYSTEM"), Values: []string{"AMAZON_LINUX_2023"}}}})
	require.NoError(t, err)
	require.Len(t, al.BaselineIdentities, 1)
	assert.False(t, al.BaselineIdentities[0].DefaultBaseline, "no longer the default")
	np, err := cl.DescribePatchBaselines(ctx, &ssm.DescribePatchBaselinesInput{Filters: []ssmtypes.PatchOrchestratorFilter{{Key: aws.String("NAME_PREFIX"), Values: []string{"al2023-"}}}})
	require.NoError(t, err)
	assert.Len(t, np.BaselineIdentities, 1)

	// Deregister, then delete.
	_, err = cl.DeregisterPatchBaselineForPatchGroup(ctx, &ssm.DeregisterPatchBaselineForPatchGroupInput{BaselineId: aws.String(id), PatchGroup: aws.String("golden-linux")})
	require.NoError(t, err)
	del, err := cl.DeletePatchBaseline(ctx, &ssm.DeletePatchBaselineInput{BaselineId: aws.String(id)})
	require.NoError(t, err)
	assert.Equal(t, id, aws.ToString(del.BaselineId))
	_, err = cl.GetPatchBaseline(ctx, &ssm.GetPatchBaselineInput{BaselineId: aws.String(id)})
	var dne *ssmtypes.DoesNotExistException
	require.ErrorAs(t, err, &dne)

	// Windows-only API.
	_, err = cl.DescribeEffectivePatchesForPatchBaseline(ctx, &ssm.DescribeEffectivePatchesForPatchBaselineInput{BaselineId: aws.String(awsID)})
	var unsupported *ssmtypes.UnsupportedOperatingSystem
	require.ErrorAs(t, err, &unsupported)
}

func runPatch(t *testing.T, sb *Sandbox, targets []ssmtypes.Target, op, reboot string) string {
	t.Helper()
	cl := ssmClient(sb)
	params := map[string][]string{"Operation": {op}}
	if reboot != "" {
		params["RebootOption"] = []string{reboot}
	}
	out, err := cl.SendCommand(context.Background(), &ssm.SendCommandInput{DocumentName: aws.String("AWS-RunPatchBaseline"), Targets: targets, Parameters: params})
	require.NoError(t, err)
	id := aws.ToString(out.Command.CommandId)
	cmds, err := cl.ListCommands(context.Background(), &ssm.ListCommandsInput{CommandId: aws.String(id)})
	require.NoError(t, err)
	require.Equal(t, ssmtypes.CommandStatusSuccess, cmds.Commands[0].Status)
	return id
}

func patchState(t *testing.T, cl *ssm.Client, id string) ssmtypes.InstancePatchState {
	t.Helper()
	out, err := cl.DescribeInstancePatchStates(context.Background(), &ssm.DescribeInstancePatchStatesInput{InstanceIds: []string{id}})
	require.NoError(t, err)
	require.Len(t, out.InstancePatchStates, 1)
	return out.InstancePatchStates[0]
}

func TestPatchScanInstallAndNewCriticalPatch(t *testing.T) {
	sb := Start(t)
	cl := ssmClient(sb)
	ctx := context.Background()
	id := securityBaseline(t, cl, "al2023-security", 0)
	_, err := cl.RegisterPatchBaselineForPatchGroup(ctx, &ssm.RegisterPatchBaselineForPatchGroupInput{BaselineId: aws.String(id), PatchGroup: aws.String("golden-linux")})
	require.NoError(t, err)
	ids := launchManaged(t, sb, 2, Tags{"Patch Group": "golden-linux"})
	group := []ssmtypes.Target{{Key: aws.String("tag:Patch Group"), Values: []string{"golden-linux"}}}

	// What the baseline approves that the image lacks.
	var wantMissing []string
	sb.Do(func(w *World) {
		inst := w.EC2.Instances[ids[0]]
		b := w.ssmScope(DefaultAccount, DefaultRegion).baseline(id)
		for _, p := range w.ApprovedPatches(b, sb.Clock().Now()) {
			for _, pp := range p.Packages {
				if cur, ok := inst.Content.Packages[pp.Name]; ok && vercmp(cur, pp.Version) < 0 && !ssmContains(wantMissing, pp.Name) {
					wantMissing = append(wantMissing, pp.Name)
				}
			}
		}
	})
	require.NotEmpty(t, wantMissing, "the seeded image should miss recent patches")

	runPatch(t, sb, group, "Scan", "")
	st := patchState(t, cl, ids[0])
	assert.Equal(t, ssmtypes.PatchOperationTypeScan, st.Operation)
	assert.Equal(t, id, aws.ToString(st.BaselineId))
	assert.Equal(t, "golden-linux", aws.ToString(st.PatchGroup))
	assert.Equal(t, int32(len(wantMissing)), aws.ToInt32(&st.MissingCount))
	assert.Equal(t, int32(len(wantMissing)), aws.ToInt32(st.CriticalNonCompliantCount), "rule compliance level is CRITICAL")
	assert.Greater(t, st.InstalledOtherCount, int32(0))
	assert.Greater(t, st.NotApplicableCount, int32(0), "nginx patches, nginx not installed")
	require.NotNil(t, st.OperationEndTime)

	var missing []ssmtypes.PatchComplianceData
	pp := ssm.NewDescribeInstancePatchesPaginator(cl, &ssm.DescribeInstancePatchesInput{InstanceId: aws.String(ids[0]), MaxResults: aws.Int32(10),
		Filters: []ssmtypes.PatchOrchestratorFilter{{Key: aws.String("State"), Values: []string{"Missing"}}}})
	for pp.HasMorePages() {
		p, err := pp.NextPage(ctx)
		require.NoError(t, err)
		missing = append(missing, p.Patches...)
	}
	require.Len(t, missing, len(wantMissing))
	for _, m := range missing {
		assert.Equal(t, ssmtypes.PatchComplianceDataStateMissing, m.State)
		assert.Equal(t, "Security", aws.ToString(m.Classification))
		assert.Contains(t, []string{"Critical", "Important"}, aws.ToString(m.Severity))
		assert.Regexp(t, `^[a-z0-9.+_-]+\.(x86_64|noarch):0:.+$`, aws.ToString(m.Title))
		assert.True(t, ssmContains(wantMissing, strings.TrimSuffix(strings.TrimSuffix(aws.ToString(m.KBId), ".x86_64"), ".noarch")), aws.ToString(m.KBId))
	}

	// Group views.
	gs, err := cl.DescribeInstancePatchStatesForPatchGroup(ctx, &ssm.DescribeInstancePatchStatesForPatchGroupInput{PatchGroup: aws.String("golden-linux"),
		Filters: []ssmtypes.InstancePatchStateFilter{{Key: aws.String("MissingCount"), Values: []string{"0"}, Type: ssmtypes.InstancePatchStateOperatorTypeGreaterThan}}})
	require.NoError(t, err)
	assert.Len(t, gs.InstancePatchStates, 2)
	state, err := cl.DescribePatchGroupState(ctx, &ssm.DescribePatchGroupStateInput{PatchGroup: aws.String("golden-linux")})
	require.NoError(t, err)
	assert.Equal(t, int32(2), state.Instances)
	assert.Equal(t, int32(2), state.InstancesWithMissingPatches)

	// Install without reboot: nothing missing, the step is recorded.
	before := instanceContent(sb, ids[0])
	runPatch(t, sb, []ssmtypes.Target{{Key: aws.String("InstanceIds"), Values: ids[:1]}}, "Install", "NoReboot")
	st = patchState(t, cl, ids[0])
	assert.Equal(t, ssmtypes.PatchOperationTypeInstall, st.Operation)
	assert.Equal(t, int32(0), st.MissingCount)
	assert.Equal(t, ssmtypes.RebootOptionNoReboot, st.RebootOption)
	assert.NotNil(t, st.LastNoRebootInstallOperationTime)
	after := instanceContent(sb, ids[0])
	for _, name := range wantMissing {
		assert.Equal(t, 1, vercmp(after.Packages[name], before.Packages[name]), name)
	}
	require.Len(t, after.Steps, len(before.Steps)+1)
	assert.Equal(t, "patch-baseline/install", after.Steps[len(after.Steps)-1].Name)
	if ssmContains(wantMissing, "systemd") || ssmContains(wantMissing, "kernel") || ssmContains(wantMissing, "glibc") {
		assert.Greater(t, aws.ToInt32(st.InstalledPendingRebootCount), int32(0))
	}
	// The other instance was not touched.
	assert.Equal(t, int32(len(wantMissing)), patchState(t, cl, ids[1]).MissingCount)

	// Same approved set → same step digest on the other instance.
	runPatch(t, sb, []ssmtypes.Target{{Key: aws.String("InstanceIds"), Values: ids[1:]}}, "Install", "")
	other := instanceContent(sb, ids[1])
	assert.Equal(t, after.Steps[len(after.Steps)-1], other.Steps[len(other.Steps)-1])
	assert.Equal(t, int32(0), aws.ToInt32(patchState(t, cl, ids[1]).InstalledPendingRebootCount))

	// A new critical advisory: the next scan reports it missing.
	p, err := sb.ReleasePatch(PatchRelease{Package: "openssl", Packages: []string{"openssl-libs"}, Severity: "Critical", CVEs: []string{"CVE-2026-0001"}})
	require.NoError(t, err)
	runPatch(t, sb, group, "Scan", "")
	st = patchState(t, cl, ids[0])
	assert.Equal(t, int32(2), st.MissingCount)
	out, err := cl.DescribeInstancePatches(ctx, &ssm.DescribeInstancePatchesInput{InstanceId: aws.String(ids[0]),
		Filters: []ssmtypes.PatchOrchestratorFilter{{Key: aws.String("State"), Values: []string{"Missing"}}}})
	require.NoError(t, err)
	require.Len(t, out.Patches, 2)
	for _, m := range out.Patches {
		assert.Equal(t, "Critical", aws.ToString(m.Severity))
		assert.Equal(t, "CVE-2026-0001", aws.ToString(m.CVEIds))
		assert.True(t, strings.HasSuffix(aws.ToString(m.Title), ":"+p.Packages[0].Version))
	}

	// Compliance views.
	items, err := cl.ListComplianceItems(ctx, &ssm.ListComplianceItemsInput{ResourceIds: ids[:1], ResourceTypes: []string{"ManagedInstance"},
		Filters: []ssmtypes.ComplianceStringFilter{{Key: aws.String("Status"), Values: []string{"NON_COMPLIANT"}, Type: ssmtypes.ComplianceQueryOperatorTypeEqual}}})
	require.NoError(t, err)
	require.Len(t, items.ComplianceItems, 2)
	assert.Equal(t, ssmtypes.ComplianceSeverityCritical, items.ComplianceItems[0].Severity)
	sums, err := cl.ListResourceComplianceSummaries(ctx, &ssm.ListResourceComplianceSummariesInput{})
	require.NoError(t, err)
	require.Len(t, sums.ResourceComplianceSummaryItems, 2)
	for _, s := range sums.ResourceComplianceSummaryItems {
		assert.Equal(t, ssmtypes.ComplianceStatusNonCompliant, s.Status)
		assert.Equal(t, ssmtypes.ComplianceSeverityCritical, s.OverallSeverity)
		assert.Equal(t, int32(2), s.NonCompliantSummary.NonCompliantCount)
	}
}

func TestDefaultBaselineWaitsSevenDays(t *testing.T) {
	sb := Start(t)
	cl := ssmClient(sb)
	ids := launchManaged(t, sb, 1, nil)
	sb.Do(func(w *World) {
		// Bring the instance fully up to date, then release a fresh patch.
		inst := w.EC2.Instances[ids[0]]
		for name := range inst.Content.Packages {
			if v := w.Catalogue.Latest(name, sb.Clock().Now()); v != "" {
				inst.Content.Packages[name] = v
			}
		}
	})
	_, err := sb.ReleasePatch(PatchRelease{Package: "curl", Packages: []string{"libcurl"}, Severity: "Important"})
	require.NoError(t, err)
	target := []ssmtypes.Target{{Key: aws.String("InstanceIds"), Values: ids}}
	runPatch(t, sb, target, "Scan", "")
	st := patchState(t, cl, ids[0])
	assert.Equal(t, int32(0), st.MissingCount, "not approved before seven days")
	assert.Contains(t, aws.ToString(st.BaselineId), "patchbaseline/pb-")

	sb.AdvanceClock(8 * 24 * time.Hour)
	runPatch(t, sb, target, "Scan", "")
	st = patchState(t, cl, ids[0])
	assert.Equal(t, int32(2), st.MissingCount)
	assert.Equal(t, int32(0), aws.ToInt32(st.CriticalNonCompliantCount))
	assert.Equal(t, int32(2), aws.ToInt32(st.SecurityNonCompliantCount))

	// An explicit rejection wins over the rules.
	bid := securityBaseline(t, cl, "rejecting", 0)
	_, err = cl.UpdatePatchBaseline(context.Background(), &ssm.UpdatePatchBaselineInput{BaselineId: aws.String(bid), RejectedPatches: []string{"curl", "libcurl"}})
	require.NoError(t, err)
	_, err = cl.RegisterDefaultPatchBaseline(context.Background(), &ssm.RegisterDefaultPatchBaselineInput{BaselineId: aws.String(bid)})
	require.NoError(t, err)
	runPatch(t, sb, target, "Scan", "")
	assert.Equal(t, int32(0), patchState(t, cl, ids[0]).MissingCount)
}

func TestDescribeAvailablePatches(t *testing.T) {
	sb := Start(t)
	cl := ssmClient(sb)
	ctx := context.Background()
	var all []ssmtypes.Patch
	pg := ssm.NewDescribeAvailablePatchesPaginator(cl, &ssm.DescribeAvailablePatchesInput{MaxResults: aws.Int32(10),
		Filters: []ssmtypes.PatchOrchestratorFilter{{Key: aws.String("CLASSIFICATION"), Values: []string{"Security"}}, {Key: aws.String("SEVERITY"), Values: []string{"Critical"}}}})
	for pg.HasMorePages() {
		p, err := pg.NextPage(ctx)
		require.NoError(t, err)
		all = append(all, p.Patches...)
	}
	require.NotEmpty(t, all)
	for _, p := range all {
		assert.Equal(t, "Critical", aws.ToString(p.Severity))
		assert.NotEmpty(t, p.AdvisoryIds)
		assert.NotEmpty(t, aws.ToString(p.Name))
		assert.NotEmpty(t, aws.ToString(p.Version))
		assert.NotNil(t, p.ReleaseDate)
	}
	_, err := cl.DescribeAvailablePatches(ctx, &ssm.DescribeAvailablePatchesInput{Filters: []ssmtypes.PatchOrchestratorFilter{{Key: aws.String("MSRC_SEVERITY"), Values: []string{"x"}}}})
	ssmRequireCode(t, err, "ValidationException")
}
