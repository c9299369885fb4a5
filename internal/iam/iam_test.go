package iam

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/config"
)

func exampleScope(t *testing.T) Scope {
	t.Helper()
	cfg, diags := config.Load("../..", config.LoadOptions{Now: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)})
	require.False(t, diags.HasErrors(), diags.Error())
	return ScopeFor(cfg, "aws", "123456789012")
}

func statement(d Document, sid string) *Statement {
	for i := range d.Statement {
		if d.Statement[i].Sid == sid {
			return &d.Statement[i]
		}
	}
	return nil
}

func TestScopeForExample(t *testing.T) {
	s := exampleScope(t)
	assert.Equal(t, "acme-golden", s.Project)
	assert.Equal(t, "/amibake", s.ParamPrefix)
	assert.Equal(t, "amibake-build", s.InstanceProfile)
	assert.NotEmpty(t, s.ASGs, "the example's replace fleets name ASGs")
	assert.Empty(t, s.SourceParams, "the example's source is AWS's public parameter")
}

func TestPolicyScoping(t *testing.T) {
	s := exampleScope(t)
	d := Policy(Bake, s)
	params := statement(d, "ProjectParameters")
	require.NotNil(t, params)
	assert.Equal(t, []string{
		"arn:aws:ssm:*:123456789012:parameter/amibake/acme-golden",
		"arn:aws:ssm:*:123456789012:parameter/amibake/acme-golden/*",
	}, params.Resource)

	term := statement(d, "ManageBuildInstances")
	require.NotNil(t, term)
	assert.Equal(t, map[string]map[string][]string{"StringEquals": {"ec2:ResourceTag/amibake:project": {"acme-golden"}}}, term.Condition)
	launch := statement(d, "LaunchTaggedInstances")
	require.NotNil(t, launch)
	assert.Equal(t, []string{"acme-golden"}, launch.Condition["StringEquals"]["aws:RequestTag/amibake:project"])
	send := statement(d, "RunCommandOnProjectInstances")
	require.NotNil(t, send)
	assert.Equal(t, []string{"acme-golden"}, send.Condition["StringEquals"]["ssm:ResourceTag/amibake:project"])

	assert.Nil(t, statement(d, "ReplaceFleets"), "bake does not touch fleets")
	assert.Nil(t, statement(d, "SessionManagerSSH"), "the example provisions over SSM, not SSH")
	assert.NotNil(t, statement(d, "ReadBuildProfile"))

	r := Policy(Rollout, s)
	asg := statement(r, "ReplaceFleets")
	require.NotNil(t, asg)
	for _, res := range asg.Resource {
		assert.Regexp(t, `^arn:aws:autoscaling:\*:123456789012:autoScalingGroup:\*:autoScalingGroupName/[A-Za-z0-9-]+$`, res)
	}
	assert.Len(t, asg.Resource, len(s.ASGs))

	s.ASGs = nil
	asg = statement(Policy(Rollout, s), "ReplaceFleets")
	assert.Equal(t, []string{"arn:aws:autoscaling:*:123456789012:autoScalingGroup:*:autoScalingGroupName/*"}, asg.Resource)

	s.SourceParams = []string{"/acme/base-ami"}
	src := statement(Policy(Bake, s), "SourceParameters")
	assert.Contains(t, src.Resource, "arn:aws:ssm:*:123456789012:parameter/acme/base-ami")

	s.Bucket = "inv"
	objs := statement(Policy(Patch, s), "InventoryObjects")
	require.NotNil(t, objs)
	assert.Equal(t, []string{"arn:aws:s3:::inv/acme-golden/inventory/*"}, objs.Resource)
	assert.NotNil(t, statement(Policy(Bake, s), "InventoryObjects"), "bake records inventory; inventory, diff and sbom read it")
	assert.Nil(t, statement(Policy(Retire, s), "InventoryObjects"))
}

func TestFleetRunCommand(t *testing.T) {
	s := exampleScope(t)
	require.Equal(t, []FleetTarget{
		{Fleet: "web", Tags: map[string]string{"Patch Group": "web"}},
		{Fleet: "worker", Tags: map[string]string{"role": "worker"}},
	}, s.FleetTargets)
	for _, f := range []Family{Patch, Rollout} {
		d := Policy(f, s)
		web := statement(d, "RunCommandOnFleetWeb")
		require.NotNil(t, web, f)
		assert.Equal(t, []string{"ssm:SendCommand"}, web.Action)
		assert.Equal(t, map[string]map[string][]string{"StringEquals": {"ssm:resourceTag/Patch Group": {"web"}}}, web.Condition)
		worker := statement(d, "RunCommandOnFleetWorker")
		require.NotNil(t, worker, f)
		assert.Equal(t, map[string]map[string][]string{"StringEquals": {"ssm:resourceTag/role": {"worker"}}}, worker.Condition)
	}
	assert.Nil(t, statement(Policy(Bake, s), "RunCommandOnFleetWeb"))
	s.FleetTargets = nil
	for _, st := range Policy(All, s).Statement {
		if st.Condition == nil && slices.Contains(st.Action, "ssm:SendCommand") {
			for _, r := range st.Resource {
				assert.NotContains(t, r, ":instance/", "%s: Run Command on any instance", st.Sid)
			}
		}
	}
	assert.Equal(t, "AppWeb2", sidPart("app-web_2"))
}

func TestFamilies(t *testing.T) {
	s := exampleScope(t)
	s.Bucket = "inv"
	bake := Policy(Bake, s).Actions()
	patch := Policy(Patch, s).Actions()
	all := Policy(All, s).Actions()
	for _, a := range bake {
		assert.Contains(t, patch, a, "patch run rebakes: --for patch includes bake's %s", a)
	}
	for _, f := range []Family{Bake, Patch, Rollout, Retire} {
		for _, a := range Policy(f, s).Actions() {
			assert.Contains(t, all, a)
		}
	}
	assert.NotContains(t, Policy(Retire, s).Actions(), "ec2:RunInstances")
	assert.Contains(t, Policy(Retire, s).Actions(), "ec2:DeregisterImage")

	_, err := ParseFamily("nope")
	assert.EqualError(t, err, `unknown command family "nope": want one of bake, patch, rollout, retire, all`)
	f, err := ParseFamily("retire")
	require.NoError(t, err)
	assert.Equal(t, Retire, f)
}

// TestRulesWellFormed checks what IAM itself would reject.
func TestRulesWellFormed(t *testing.T) {
	sids := map[string]bool{}
	actionRe := regexp.MustCompile(`^(ec2|ssm|sts|s3|autoscaling|iam|kms|cloudwatch):[A-Z][A-Za-z0-9]+$`)
	for _, r := range Rules {
		assert.Regexp(t, `^[A-Za-z0-9]+$`, r.Sid, "IAM Sids are alphanumeric")
		assert.False(t, sids[r.Sid], "duplicate Sid %s", r.Sid)
		sids[r.Sid] = true
		assert.NotEmpty(t, r.Families, r.Sid)
		assert.NotEmpty(t, r.Resources, r.Sid)
		assert.NotEmpty(t, r.Why, r.Sid)
		for _, a := range r.Actions {
			assert.Regexp(t, actionRe, a, r.Sid)
		}
	}
	s := exampleScope(t)
	s.Provisioner, s.Bucket = "ssh", "inv"
	d := Policy(All, s)
	seen := map[string]bool{}
	for _, st := range d.Statement {
		assert.Regexp(t, `^[A-Za-z0-9]+$`, st.Sid)
		assert.False(t, seen[st.Sid], "duplicate Sid %s", st.Sid)
		seen[st.Sid] = true
	}
	data, err := json.Marshal(d)
	require.NoError(t, err)
	assert.NotRegexp(t, `\{[a-zA-Z]+\}`, string(data), "every template placeholder is filled")
	var back map[string]any
	require.NoError(t, json.Unmarshal(data, &back))
	assert.Less(t, len(data), 10240, "an inline role policy is at most 10,240 characters")
	for _, st := range d.Statement {
		for _, res := range st.Resource {
			assert.Regexp(t, `^(\*|arn:aws:[a-z0-9-]+:(\*|[a-z0-9-]*):(\*|[0-9]{12})?:.+)$`, res, st.Sid)
		}
	}
}

// TestDocsListRealAWSOnly: docs/pipelines.md names every action of the
// allow-list, so the documented list cannot drift from the code.
func TestDocsListRealAWSOnly(t *testing.T) {
	b, err := os.ReadFile("../../docs/pipelines.md")
	require.NoError(t, err)
	for a := range RealAWSOnly {
		assert.Contains(t, string(b), "`"+a+"`", "docs/pipelines.md does not list %s", a)
	}
}
