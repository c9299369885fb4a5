package iam_test

// The least-privilege check: drive amibake's flows in-process against the
// sandbox (bake through real packer and both plugins, then plan, promote,
// history, lineage, revoke, lock), collect every service:Action the
// sandbox's request log saw, and compare with the generated policy.

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/cmd/root"
	"github.com/amibake/amibake/internal/iam"
	"github.com/amibake/amibake/internal/iostreams"
	"github.com/amibake/amibake/internal/sandbox"
	"github.com/amibake/amibake/internal/testutil"
)

const (
	project = "acme-golden"
	home    = "us-east-1"
	kmsKey  = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testutil.CleanupPluginDir()
	os.Exit(code)
}

// step is one command of the observed flows and the actions it made.
type step struct {
	args    []string
	code    int
	actions map[string]bool // "service:Action" as IAM spells the prefix
}

type observer struct {
	t     *testing.T
	sb    *sandbox.Sandbox
	dir   string
	steps []*step
}

func newObserver(t *testing.T) *observer {
	t.Helper()
	bin, pluginDir := testutil.PluginDir(t)
	sb := sandbox.Start(t)
	o := &observer{t: t, sb: sb, dir: copyProject(t)}
	for _, kv := range sb.Env(sandbox.DefaultAccount, home) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Setenv("AMIBAKE_PACKER", bin)
	t.Setenv("PACKER_PLUGIN_PATH", pluginDir)
	t.Setenv("CHECKPOINT_DISABLE", "1")
	t.Setenv("AMIBAKE_VAR_security_agent_token", "token-for-the-iam-test")
	for _, k := range []string{"AWS_CA_BUNDLE", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	return o
}

// run runs `amibake --chdir DIR -o json ARGS…` and records the actions the
// sandbox saw while it ran.
func (o *observer) run(args ...string) (int, string) {
	o.t.Helper()
	o.sb.ResetLog()
	ios, _, out, errOut := iostreams.Test()
	f := root.NewFactory(ios)
	f.AWSConfig = func(context.Context) (aws.Config, error) { return o.sb.Config, nil }
	code := root.Main(context.Background(), append([]string{"amibake", "--chdir", o.dir, "-o", "json"}, args...), f)
	s := &step{args: args, code: code, actions: map[string]bool{}}
	for _, e := range o.sb.Log() {
		s.actions[iam.IAMAction(iam.ServicePrefix(e.Service)+":"+e.Action)] = true
	}
	o.steps = append(o.steps, s)
	o.t.Logf("amibake %s → exit %d, %d actions\nstderr: %s", strings.Join(args, " "), code, len(s.actions), tail(errOut.String(), 300))
	return code, out.String()
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

func (o *observer) observed() []string {
	all := map[string]bool{}
	for _, s := range o.steps {
		for a := range s.actions {
			all[a] = true
		}
	}
	return sortedKeys(all)
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// runFlows drives every flow this test covers and returns the observer.
func runFlows(t *testing.T) *observer {
	o := newObserver(t)

	code, out := o.run("bake")
	require.Equal(t, 0, code, "bake: %s", out)
	var rep struct {
		Results []struct {
			Layer string            `json:"layer"`
			AMI   map[string]string `json:"ami"`
		} `json:"results"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	ami := map[string]string{}
	for _, r := range rep.Results {
		ami[r.Layer] = r.AMI[home]
	}
	require.NotEmpty(t, ami["app-worker"])

	steps := [][]string{
		{"plan"},
		{"bake", "--dry-run"},
		{"promote", "app-web", "--to", "stable"},
		{"history", "app-web", "--channel", "stable"},
		{"lineage", ami["app-web"]},
		{"lock", "status"},
		{"lock", "release", "--force"},
		{"plan", "-detailed-exitcode"},
		{"patch", "apply"},
		{"patch", "apply", "--apply"},
		{"patch", "window", "apply", "--apply"},
		{"patch", "window", "apply", "--apply"}, // no change: reads only
		{"patch", "scan", "--layer", "linux", "--poll", "10ms", "--timeout", "1m"},
		{"patch", "plan", "--poll", "10ms"},
		{"retire"},
		{"retire", "--apply", "--keep", "1", "--grace", "0s"},
	}
	for _, args := range steps {
		code, out := o.run(args...)
		require.Contains(t, []int{0, 2}, code, "amibake %v: %s", args, out)
	}

	// A replace rollout of fleet web: its group runs the linux AMI, the
	// stable channel of app-web (promoted above) is the new one.
	o.replaceFleet(ami["linux"])
	// An in-place fleet: instances tagged role=worker on an AMI behind
	// app-worker's, scanned and patched through Run Command.
	o.inPlaceFleet(ami["linux"])
	for _, args := range [][]string{
		{"rollout", "web"},
		{"rollout", "web", "--apply", "--poll", "10ms"},
		{"rollout", "status", "web"},
		{"patch", "scan", "--fleet", "worker", "--poll", "10ms", "--timeout", "1m"},
		{"rollout", "worker"},
		{"rollout", "worker", "--apply", "--poll", "10ms"},
		{"revoke", ami["app-worker"], "--reason", "iam test"},
		{"revoke", ami["app-worker"], "--reason", "iam test", "--apply"},
	} {
		code, out := o.run(args...)
		require.Equal(t, 0, code, "amibake %v: %s", args, out)
	}
	return o
}

// webFleet replaces fleet web with one group and a short checkpoint wait.
const webFleet = `fleet "web" {
  layer    = layer.app-web
  channel  = "stable"
  strategy = "replace"
  asg      = ["web-prod-a"]

  rollout {
    checkpoints         = [50, 100]
    checkpoint_wait     = "1s"
    min_healthy_percent = 50
  }

  retire {
    keep  = 1
    grace = "168h"
  }
}
`

// workerFleet is fleet worker without a maintenance window.
const workerFleet = `fleet "worker" {
  layer    = layer.app-worker
  channel  = "latest"
  strategy = "in-place"

  targets {
    tags = {
      role = "worker"
    }
  }

  patch {
    baseline    = patch_baseline.al2023_security
    patch_group = "worker"
  }

  rollout {
    max_concurrency = "50%"
    max_errors      = "1"
    reboot          = "if-needed"
  }
}
`

// inPlaceFleet rewrites fleet worker and launches two of its instances.
func (o *observer) inPlaceFleet(ami string) {
	t := o.t
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(o.dir, "fleets", "worker.hcl"), []byte(workerFleet), 0o644))
	_, err := ec2.NewFromConfig(o.sb.Config).RunInstances(context.Background(), &ec2.RunInstancesInput{
		ImageId: aws.String(ami), InstanceType: ec2types.InstanceTypeT3Micro, MinCount: aws.Int32(2), MaxCount: aws.Int32(2),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance, Tags: []ec2types.Tag{
			{Key: aws.String("role"), Value: aws.String("worker")}, {Key: aws.String("Patch Group"), Value: aws.String("worker")},
		}}},
	})
	require.NoError(t, err)
}

// replaceFleet rewrites fleet web and creates its launch template and
// group, running ami. These setup calls are not part of any step.
func (o *observer) replaceFleet(ami string) {
	t := o.t
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(o.dir, "fleets", "web.hcl"), []byte(webFleet), 0o644))
	ctx := context.Background()
	lt, err := ec2.NewFromConfig(o.sb.Config).CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String("web"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(ami), InstanceType: ec2types.InstanceTypeT3Micro},
	})
	require.NoError(t, err)
	_, err = autoscaling.NewFromConfig(o.sb.Config).CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String("web-prod-a"), MinSize: aws.Int32(0), MaxSize: aws.Int32(8), DesiredCapacity: aws.Int32(4),
		LaunchTemplate:         &astypes.LaunchTemplateSpecification{LaunchTemplateId: lt.LaunchTemplate.LaunchTemplateId, Version: aws.String("1")},
		AvailabilityZones:      []string{"us-east-1a", "us-east-1b"},
		HealthCheckGracePeriod: aws.Int32(0), DefaultInstanceWarmup: aws.Int32(0),
	})
	require.NoError(t, err)
}

// copyProject copies the example project into a temporary directory, with
// a customer KMS key (packer will not share an AMI encrypted with the
// default key).
func copyProject(t *testing.T) string {
	t.Helper()
	root, err := testutil.RepoRoot()
	require.NoError(t, err)
	dst := t.TempDir()
	entries, err := os.ReadDir(root)
	require.NoError(t, err)
	for _, e := range entries {
		name := e.Name()
		switch {
		case !e.IsDir() && strings.HasSuffix(name, ".hcl"):
			copyFile(t, filepath.Join(root, name), filepath.Join(dst, name))
		case e.IsDir() && (name == "layers" || name == "recipes" || name == "fleets"):
			require.NoError(t, filepath.WalkDir(filepath.Join(root, name), func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				rel, _ := filepath.Rel(root, p)
				if d.IsDir() {
					return os.MkdirAll(filepath.Join(dst, rel), 0o755)
				}
				copyFile(t, p, filepath.Join(dst, rel))
				return nil
			}))
		}
	}
	b, err := os.ReadFile(filepath.Join(dst, "amibake.hcl"))
	require.NoError(t, err)
	hcl := string(b)
	if !regexp.MustCompile(`(?m)^\s*kms_key_id\s*=`).MatchString(hcl) {
		hcl = strings.Replace(hcl, `project "acme-golden" {`, `project "acme-golden" {`+"\n  kms_key_id = \""+kmsKey+"\"", 1)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dst, "amibake.hcl"), []byte(hcl), 0o644))
	return dst
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	require.NoError(t, err)
	st, err := os.Stat(src)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Dir(dst), 0o755))
	require.NoError(t, os.WriteFile(dst, b, st.Mode().Perm()))
}
