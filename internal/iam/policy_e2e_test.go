package iam_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/iam"
	"github.com/amibake/amibake/internal/testutil"
)

// familyOf says which --for family each driven command belongs to.
var familyOf = map[string]iam.Family{
	"bake": iam.Bake, "plan": iam.Bake, "promote": iam.Bake, "history": iam.Bake,
	"lineage": iam.Bake, "lock": iam.Bake, "revoke": iam.Bake,
	"patch": iam.Patch, "retire": iam.Retire, "rollout": iam.Rollout,
}

// interfacePrefix maps internal/awsapi's interfaces to IAM prefixes.
var interfacePrefix = map[string]string{
	"EC2": "ec2", "SSM": "ssm", "SSMInventory": "ssm", "SSMAssociations": "ssm", "SSMWindows": "ssm", "SSMAutomation": "ssm", "S3": "s3",
	"AutoScaling": "autoscaling", "STS": "sts", "CloudWatch": "cloudwatch",
}

// declared lists every call internal/awsapi's interfaces declare, as IAM
// actions: amibake's own code makes no AWS call outside them.
func declared(t *testing.T) map[string]bool {
	t.Helper()
	root, err := testutil.RepoRoot()
	require.NoError(t, err)
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, filepath.Join(root, "internal", "awsapi"), nil, 0)
	require.NoError(t, err)
	out := map[string]bool{}
	for _, pkg := range pkgs {
		for name, file := range pkg.Files {
			if filepath.Ext(name) != ".go" || len(name) > 8 && name[len(name)-8:] == "_test.go" {
				continue
			}
			ast.Inspect(file, func(n ast.Node) bool {
				ts, ok := n.(*ast.TypeSpec)
				if !ok {
					return true
				}
				it, ok := ts.Type.(*ast.InterfaceType)
				if !ok || !ts.Name.IsExported() {
					return false
				}
				prefix, known := interfacePrefix[ts.Name.Name]
				require.True(t, known, "internal/awsapi declares interface %s: add its IAM prefix to interfacePrefix and its actions to internal/iam/rules.go", ts.Name.Name)
				for _, m := range it.Methods.List {
					for _, id := range m.Names {
						out[iam.IAMAction(prefix+":"+id.Name)] = true
					}
				}
				return false
			})
		}
	}
	require.NotEmpty(t, out)
	return out
}

// maximal is a scope in which every rule applies.
var maximal = iam.Scope{
	Partition: "aws", Account: "123456789012", Project: "acme-golden", ParamPrefix: "/amibake",
	Bucket: "acme-amibake-inventory", InstanceProfile: "amibake-build", Provisioner: "ssh",
	ASGs: []string{"web-prod-a"}, SourceParams: []string{"/acme/base-ami"},
}

func TestPolicyCoversObservedFlows(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: bake with real packer on the sandbox")
	}
	o := runFlows(t)
	observed := o.observed()
	t.Logf("observed %d actions: %v", len(observed), observed)

	// 1. Every action a driven command made is in its family's policy, and in all's.
	all := iam.Policy(iam.All, maximal).Actions()
	for _, s := range o.steps {
		fam, ok := familyOf[s.args[0]]
		require.True(t, ok, "no family for %v", s.args)
		famActions := iam.Policy(fam, maximal).Actions()
		for a := range s.actions {
			assert.Contains(t, famActions, a, "amibake %v called %s, which --for %s lacks", s.args, a, fam)
			assert.Contains(t, all, a, "amibake %v called %s, which --for all lacks", s.args, a)
		}
	}

	// 2. The policy names nothing beyond what was observed, what
	// internal/awsapi declares for flows this test cannot drive yet, and
	// the documented real-AWS-only actions.
	decl := declared(t)
	var notDriven []string
	for _, a := range all {
		switch {
		case slices.Contains(observed, a):
		case iam.RealAWSOnly[a] != "":
		case decl[a]:
			notDriven = append(notDriven, a)
		default:
			t.Errorf("the policy grants %s, which no flow made, internal/awsapi does not declare, and RealAWSOnly does not justify", a)
		}
	}
	t.Logf("granted for declared calls of flows this test does not drive: %v", notDriven)

	// 3. Every declared call is granted.
	for a := range decl {
		assert.Contains(t, all, a, "internal/awsapi declares %s: grant it in internal/iam/rules.go", a)
	}

	// 4. The allow-list stays honest: each entry is granted and never seen.
	for a, why := range iam.RealAWSOnly {
		assert.NotEmpty(t, why, a)
		assert.Contains(t, all, a, "RealAWSOnly lists %s, which no rule grants", a)
		assert.NotContains(t, observed, a, "RealAWSOnly lists %s, but the sandbox saw it: drop it from the list", a)
	}
}
