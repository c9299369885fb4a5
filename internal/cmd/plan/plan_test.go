package plan

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/graph"
	"github.com/amibake/amibake/internal/iostreams"
	"github.com/amibake/amibake/internal/plan/plantest"
	"github.com/amibake/amibake/internal/sandbox"
)

var now = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../../..")
	require.NoError(t, err)
	return root
}

func newFactory(t *testing.T, sb *sandbox.Sandbox, output string) (*cmdutil.Factory, *iostreams.IOStreams, *bytes.Buffer, *bytes.Buffer) {
	ios, _, out, errOut := iostreams.Test()
	f := &cmdutil.Factory{
		IOStreams: ios,
		Output:    output,
		WorkDir:   repoRoot(t),
		Now:       func() time.Time { return now },
		AWSConfig: func(context.Context) (aws.Config, error) {
			if sb == nil {
				return aws.Config{}, errors.New("no AWS here")
			}
			return sb.Config, nil
		},
	}
	return f, ios, out, errOut
}

func run(f *cmdutil.Factory, runF func(*PlanOptions) error, args ...string) error {
	app := &cli.App{
		Name:           "amibake",
		Writer:         f.IOStreams.Out,
		ErrWriter:      f.IOStreams.ErrOut,
		ExitErrHandler: func(*cli.Context, error) {},
		Commands:       []*cli.Command{NewCmdPlan(f, runF)},
	}
	return app.Run(append([]string{"amibake", "plan"}, args...))
}

// seedExample publishes every layer of the example project in the sandbox.
func seedExample(t *testing.T, sb *sandbox.Sandbox) map[string]string {
	t.Helper()
	cfg, diags := config.Load(repoRoot(t), config.LoadOptions{Now: now})
	require.False(t, diags.HasErrors(), diags.Error())
	g, diags := graph.Build(cfg)
	require.False(t, diags.HasErrors(), diags.Error())
	fps, diags := graph.Fingerprints(g)
	require.False(t, diags.HasErrors(), diags.Error())
	return plantest.SeedBake(t, sb, cfg, g, fps, plantest.LatestAL2023(sb, "us-east-1"), "b1")
}

func TestNewCmdPlan(t *testing.T) {
	tests := []struct {
		name   string
		output string
		args   []string
		want   PlanOptions
	}{
		{name: "defaults", output: cmdutil.OutputText, want: PlanOptions{Layers: []string{}}},
		{name: "layers and detailed exit code", output: cmdutil.OutputText, args: []string{"-detailed-exitcode", "base", "app-web"},
			want: PlanOptions{DetailedExitCode: true, Layers: []string{"base", "app-web"}}},
		{name: "json", output: cmdutil.OutputJSON, args: []string{"--detailed-exitcode"}, want: PlanOptions{JSON: true, DetailedExitCode: true, Layers: []string{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, _, _, _ := newFactory(t, nil, tt.output)
			var got *PlanOptions
			require.NoError(t, run(f, func(o *PlanOptions) error { got = o; return nil }, tt.args...))
			require.NotNil(t, got)
			assert.Equal(t, tt.want.DetailedExitCode, got.DetailedExitCode)
			assert.Equal(t, tt.want.JSON, got.JSON)
			assert.Equal(t, tt.want.Layers, got.Layers)
			assert.NotNil(t, got.LoadConfig)
			assert.NotNil(t, got.AWSConfig)
		})
	}
	f, _, _, _ := newFactory(t, nil, cmdutil.OutputText)
	assert.Error(t, run(f, nil, "--bogus"))
}

func TestPlanRunFromNothing(t *testing.T) {
	sb := sandbox.Start(t)
	f, ios, out, errOut := newFactory(t, sb, cmdutil.OutputText)
	ios.SetStdoutTTY(true)
	require.NoError(t, run(f, nil))
	assert.Equal(t, ""+
		"LAYER       ACTION  REASON  DETAIL\n"+
		"linux       build   new     -\n"+
		"foundation  build   new     -\n"+
		"base        build   new     -\n"+
		"app-web     build   new     -\n"+
		"app-worker  build   new     -\n"+
		"\n"+
		"Plan: 5 to build, 0 up to date.\n", out.String())
	assert.Empty(t, errOut.String())

	// -detailed-exitcode: the same output, then exit 2 without a message.
	out.Reset()
	err := run(f, nil, "-detailed-exitcode")
	require.Error(t, err)
	assert.Equal(t, cmdutil.ExitChanges, cmdutil.ExitCode(err))
	assert.True(t, cmdutil.IsSilent(err))
	assert.Contains(t, out.String(), "Plan: 5 to build, 0 up to date.")

	// Read-only: no writes, and the lock was never touched.
	assert.Zero(t, sb.CountCalls("ssm", "PutParameter"))
	assert.Zero(t, sb.CountCalls("ssm", "GetParameter"))
	assert.Zero(t, sb.CountCalls("ec2", "CreateTags"))
}

func TestPlanRunUpToDate(t *testing.T) {
	sb := sandbox.Start(t)
	ids := seedExample(t, sb)

	// Pipes: tab-separated rows on stdout, the summary on stderr.
	f, _, out, errOut := newFactory(t, sb, cmdutil.OutputText)
	require.NoError(t, run(f, nil, "-detailed-exitcode"))
	assert.Equal(t, ""+
		"linux\treuse\tup-to-date\t"+ids["linux/us-east-1"]+"\n"+
		"foundation\treuse\tup-to-date\t"+ids["foundation/us-east-1"]+"\n"+
		"base\treuse\tup-to-date\t"+ids["base/us-east-1"]+"\n"+
		"app-web\treuse\tup-to-date\t"+ids["app-web/us-east-1"]+"\n"+
		"app-worker\treuse\tup-to-date\t"+ids["app-worker/us-east-1"]+"\n", out.String())
	assert.Equal(t, "Plan: 0 to build, 5 up to date.\n", errOut.String())

	// JSON.
	f, _, out, _ = newFactory(t, sb, cmdutil.OutputJSON)
	require.NoError(t, run(f, nil, "-detailed-exitcode"))
	var doc struct {
		Project string `json:"project"`
		Layers  []struct {
			Layer       string            `json:"layer"`
			Action      string            `json:"action"`
			Reason      string            `json:"reason"`
			Detail      string            `json:"detail"`
			Fingerprint string            `json:"fingerprint"`
			AMI         map[string]string `json:"ami"`
			PreviousAMI string            `json:"previous_ami"`
			Parent      string            `json:"parent"`
		} `json:"layers"`
		Changes  int `json:"changes"`
		UpToDate int `json:"up_to_date"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &doc), out.String())
	assert.Equal(t, "acme-golden", doc.Project)
	assert.Equal(t, 0, doc.Changes)
	assert.Equal(t, 5, doc.UpToDate)
	require.Len(t, doc.Layers, 5)
	web := doc.Layers[3]
	assert.Equal(t, "app-web", web.Layer)
	assert.Equal(t, "base", web.Parent)
	assert.Equal(t, "reuse", web.Action)
	assert.Equal(t, "up-to-date", web.Reason)
	assert.Len(t, web.Fingerprint, 64)
	assert.Equal(t, map[string]string{"us-east-1": ids["app-web/us-east-1"], "eu-west-1": ids["app-web/eu-west-1"]}, web.AMI)
	assert.Equal(t, ids["app-web/us-east-1"], web.PreviousAMI)
}

func TestPlanRunChangedLayerAndTargets(t *testing.T) {
	sb := sandbox.Start(t)
	ids := seedExample(t, sb)

	// A new log endpoint changes base's log_shipping inputs: base and every
	// layer below it rebuild. Asking for app-web alone plans base too.
	f, ios, out, _ := newFactory(t, sb, cmdutil.OutputText)
	ios.SetStdoutTTY(true)
	err := run(f, nil, "-detailed-exitcode", "-var", "log_endpoint=logs.example:5170", "app-web")
	assert.Equal(t, cmdutil.ExitChanges, cmdutil.ExitCode(err))
	assert.Equal(t, ""+
		"LAYER    ACTION  REASON          DETAIL\n"+
		"base     build   recipe-changed  log_shipping content changed\n"+
		"app-web  build   parent-rebuilt  base is rebuilt (recipe-changed)\n"+
		"\n"+
		"Plan: 2 to build, 0 up to date.\n", out.String())

	f, _, out, _ = newFactory(t, sb, cmdutil.OutputJSON)
	require.NoError(t, run(f, nil, "-var", "log_endpoint=logs.example:5170", "foundation", "app-worker"))
	var doc struct {
		Layers []map[string]any `json:"layers"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &doc))
	require.Len(t, doc.Layers, 3)
	assert.Equal(t, "foundation", doc.Layers[0]["layer"])
	assert.Equal(t, "up-to-date", doc.Layers[0]["reason"])
	assert.Equal(t, "base", doc.Layers[1]["layer"])
	assert.Equal(t, ids["base/us-east-1"], doc.Layers[1]["previous_ami"])
	assert.Equal(t, "app-worker", doc.Layers[2]["layer"])
	assert.Equal(t, "parent-rebuilt", doc.Layers[2]["reason"])
}

func TestPlanRunErrors(t *testing.T) {
	// Unknown layer: a flag error with a suggestion, before any AWS call.
	sb := sandbox.Start(t)
	f, _, _, _ := newFactory(t, sb, cmdutil.OutputText)
	err := run(f, nil, "app-wbe")
	var fe *cmdutil.FlagError
	require.ErrorAs(t, err, &fe)
	assert.Contains(t, err.Error(), `did you mean "app-web"`)
	assert.Zero(t, sb.CountCalls("", ""))

	// AWS configuration fails.
	f, _, _, _ = newFactory(t, nil, cmdutil.OutputText)
	err = run(f, nil)
	require.Error(t, err)
	assert.Equal(t, cmdutil.ExitFailure, cmdutil.ExitCode(err))
	assert.Contains(t, err.Error(), "no AWS here")

	// AWS fails: exit 1 even with -detailed-exitcode, the call named.
	awsCfg := sb.Config
	awsCfg.RetryMaxAttempts = 1
	sb.SetFaults(sandbox.FaultRule{Service: "ssm", Action: "GetParameters", ErrorRate: 1, ErrorStatus: 500})
	f, _, out, _ := newFactory(t, sb, cmdutil.OutputText)
	f.AWSConfig = func(context.Context) (aws.Config, error) { return awsCfg, nil }
	err = run(f, nil, "-detailed-exitcode")
	require.Error(t, err)
	assert.Equal(t, cmdutil.ExitFailure, cmdutil.ExitCode(err))
	assert.Contains(t, err.Error(), "GetParameters (latest channels) in us-east-1")
	assert.Empty(t, out.String())

	// A project with errors prints diagnostics and fails silently.
	f, _, _, errOut := newFactory(t, sb, cmdutil.OutputText)
	f.WorkDir = t.TempDir()
	err = run(f, nil)
	require.Error(t, err)
	assert.True(t, cmdutil.IsSilent(err))
	assert.Contains(t, errOut.String(), "Error:")
}

func TestPlanRunPublishWithoutBuild(t *testing.T) {
	sb := sandbox.Start(t)
	ids := seedExample(t, sb)
	// A crash after app-worker's AMI was made but before its channel moved.
	_, err := ssm.NewFromConfig(sb.Config).DeleteParameter(context.Background(),
		&ssm.DeleteParameterInput{Name: aws.String("/amibake/acme-golden/layers/app-worker/latest")})
	require.NoError(t, err)

	f, ios, out, _ := newFactory(t, sb, cmdutil.OutputText)
	ios.SetStdoutTTY(true)
	err = run(f, nil, "-detailed-exitcode", "app-worker")
	assert.Equal(t, cmdutil.ExitChanges, cmdutil.ExitCode(err), "moving a channel is a change")
	assert.Equal(t, ""+
		"LAYER       ACTION  REASON      DETAIL\n"+
		"app-worker  reuse   up-to-date  "+ids["app-worker/us-east-1"]+"; no latest channel yet\n"+
		"\n"+
		"Plan: 0 to build, 1 up to date (1 to publish without a build).\n", out.String())

	f, _, out, _ = newFactory(t, sb, cmdutil.OutputJSON)
	require.NoError(t, run(f, nil))
	var doc struct {
		Layers []struct {
			Layer   string `json:"layer"`
			Publish bool   `json:"publish"`
		} `json:"layers"`
		Changes int `json:"changes"`
		Publish int `json:"publish"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &doc))
	assert.Equal(t, 0, doc.Changes)
	assert.Equal(t, 1, doc.Publish)
	for _, l := range doc.Layers {
		assert.Equal(t, l.Layer == "app-worker", l.Publish, l.Layer)
	}
}

// A reused AMI missing its copy in one of the layer's regions is a pending
// change: bake copies it (reuse+copy), so -detailed-exitcode says 2, and
// the copy check costs no call beyond the up-to-date plan's.
func TestPlanRunMissingCopyIsAChange(t *testing.T) {
	sb := sandbox.Start(t)
	ids := seedExample(t, sb)

	f, _, _, _ := newFactory(t, sb, cmdutil.OutputText)
	sb.ResetLog()
	require.NoError(t, run(f, nil, "-detailed-exitcode"))
	upToDate := sb.CountFirstAttempts("ec2", "DescribeImages")

	_, err := ec2.NewFromConfig(sb.Config, func(o *ec2.Options) { o.Region = "eu-west-1" }).DeregisterImage(context.Background(),
		&ec2.DeregisterImageInput{ImageId: aws.String(ids["app-worker/eu-west-1"])})
	require.NoError(t, err)

	f, ios, out, _ := newFactory(t, sb, cmdutil.OutputText)
	ios.SetStdoutTTY(true)
	sb.ResetLog()
	err = run(f, nil, "-detailed-exitcode")
	assert.Equal(t, cmdutil.ExitChanges, cmdutil.ExitCode(err), "a missing copy is a change")
	assert.Equal(t, upToDate, sb.CountFirstAttempts("ec2", "DescribeImages"), "the copy check reads the same DescribeImages results")
	assert.Contains(t, out.String(), "app-worker  reuse   up-to-date  "+ids["app-worker/us-east-1"]+"; no copy in eu-west-1\n")
	assert.Contains(t, out.String(), "Plan: 0 to build, 5 up to date (1 to copy to a missing region).\n")

	f, _, out, _ = newFactory(t, sb, cmdutil.OutputJSON)
	err = run(f, nil, "-detailed-exitcode")
	assert.Equal(t, cmdutil.ExitChanges, cmdutil.ExitCode(err))
	var doc struct {
		Layers []struct {
			Layer          string   `json:"layer"`
			Reason         string   `json:"reason"`
			MissingRegions []string `json:"missing_regions"`
		} `json:"layers"`
		Changes int `json:"changes"`
		Publish int `json:"publish"`
		Copy    int `json:"copy"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &doc), out.String())
	assert.Equal(t, 0, doc.Changes)
	assert.Equal(t, 0, doc.Publish)
	assert.Equal(t, 1, doc.Copy)
	for _, l := range doc.Layers {
		assert.Equal(t, "up-to-date", l.Reason, l.Layer)
		if l.Layer == "app-worker" {
			assert.Equal(t, []string{"eu-west-1"}, l.MissingRegions)
		} else {
			assert.Empty(t, l.MissingRegions, l.Layer)
		}
	}
}
