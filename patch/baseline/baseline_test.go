package baseline_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/patch/baseline"
)

func example(t *testing.T) *config.Config {
	t.Helper()
	cfg, diags := config.Load("../..", config.LoadOptions{})
	require.False(t, diags.HasErrors(), diags.Error())
	return cfg
}

func TestFromConfig(t *testing.T) {
	d, err := baseline.FromConfig(example(t))
	require.NoError(t, err)
	name := "amibake-acme-golden-al2023_security"
	require.Contains(t, d.Baselines, name)
	assert.Equal(t, "AMAZON_LINUX_2023", d.Baselines[name].OperatingSystem)
	assert.Equal(t, map[string]string{"golden-linux": name, "web": name, "worker": name}, d.Groups)
}

func TestFromConfigGroupConflict(t *testing.T) {
	cfg := example(t)
	cfg.PatchBaselines["other"] = &config.PatchBaseline{Name: "other", OperatingSystem: "AMAZON_LINUX_2023"}
	cfg.Fleets["web"].Patch = &config.PatchRef{Baseline: "other", PatchGroup: "golden-linux"}
	_, err := baseline.FromConfig(cfg)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `patch group "golden-linux" is bound to amibake-acme-golden-al2023_security by layer linux and to amibake-acme-golden-other by fleet web`)
}

func TestDiff(t *testing.T) {
	d := &baseline.Desired{Project: "p", Baselines: map[string]*baseline.Baseline{
		"amibake-p-a": {Name: "amibake-p-a", OperatingSystem: "AMAZON_LINUX_2023", Description: "new",
			ApprovalRules:   []baseline.Rule{{Classification: []string{"Security"}, Severity: []string{"Important", "Critical"}, ComplianceLevel: "HIGH"}},
			ApprovedPatches: []string{}, RejectedPatches: []string{"kernel-6.1.1", "bash"}},
	}, Groups: map[string]string{"g1": "amibake-p-a", "g2": "amibake-p-a"}}
	cur := &baseline.Current{Baselines: map[string]*baseline.Baseline{
		"amibake-p-a": {Name: "amibake-p-a", ID: "pb-1", OperatingSystem: "AMAZON_LINUX_2023", Description: "old",
			ApprovalRules: []baseline.Rule{
				{Classification: []string{"Security"}, Severity: []string{"Critical", "Important"}, ComplianceLevel: "HIGH"},
				{Classification: []string{"Bugfix"}, ApproveAfterDays: 7, ComplianceLevel: "UNSPECIFIED"},
			},
			ApprovedPatches: []string{}, RejectedPatches: []string{"bash", "kernel-6.1.1"}},
	}, Groups: map[string]baseline.GroupBinding{
		"g1":      {BaselineName: "amibake-p-a", BaselineID: "pb-1"},
		"g2":      {BaselineName: "amibake-p-old", BaselineID: "pb-0"},
		"stale":   {BaselineName: "amibake-p-old", BaselineID: "pb-0"},
		"foreign": {BaselineName: "theirs", BaselineID: "pb-9"},
	}}
	changes, err := baseline.Diff(d, cur)
	require.NoError(t, err)
	var lines []string
	for _, c := range changes {
		lines = append(lines, c.String())
	}
	assert.Equal(t, []string{
		"~ update baseline amibake-p-a (pb-1)",
		`- deregister patch group "g2" from amibake-p-old (moves to amibake-p-a)`,
		`- deregister patch group "stale" from amibake-p-old (no layer or fleet uses it)`,
		`+ register patch group "g2" → amibake-p-a`,
	}, lines)
	// Order of severities and rejected patches does not matter; a removed
	// rule and the description do.
	assert.Equal(t, []baseline.FieldChange{
		{Field: "description", Old: "old", New: "new"},
		{Field: "approval_rule[1]", Old: "classification=[Bugfix] severity=[] approve_after_days=7 compliance_level=UNSPECIFIED", New: ""},
	}, changes[0].Fields)
	assert.Equal(t, "pb-1", changes[3].BaselineID)

	// In sync: nothing.
	cur.Baselines["amibake-p-a"].Description = "new"
	cur.Baselines["amibake-p-a"].ApprovalRules = cur.Baselines["amibake-p-a"].ApprovalRules[:1]
	cur.Groups["g2"] = baseline.GroupBinding{BaselineName: "amibake-p-a", BaselineID: "pb-1"}
	delete(cur.Groups, "stale")
	changes, err = baseline.Diff(d, cur)
	require.NoError(t, err)
	assert.Empty(t, changes)

	// The operating system cannot change in place.
	cur.Baselines["amibake-p-a"].OperatingSystem = "AMAZON_LINUX_2"
	_, err = baseline.Diff(d, cur)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "SSM cannot change a baseline's operating system")
}
