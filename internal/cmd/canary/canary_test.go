package canary_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/canary"
	"github.com/amibake/amibake/internal/channel/channeltest"
	"github.com/amibake/amibake/internal/channel/channeltest/clitest"
	"github.com/amibake/amibake/internal/cmd/root"
	"github.com/amibake/amibake/internal/iostreams"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/lock"
	"github.com/amibake/amibake/internal/sandbox"
)

type world struct {
	sb       *sandbox.Sandbox
	dir      string
	old, new string
	ltID     string
}

// setup: the example project (fleet web with a canary block), app-web's
// stable channel on the old AMI, a newer build to judge, and the fleet's
// first ASG on a launch template.
func setup(t *testing.T) *world {
	t.Helper()
	// A fixed start: canary metrics are synthesised from the virtual time.
	sb := sandbox.Start(t, func(o *sandbox.Options) { o.Start = time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC) })
	dir := channeltest.CopyProject(t)
	fam := channeltest.SeedFamily(t, sb, channeltest.Project, "ami-source")
	newer := channeltest.SeedBuild(t, sb, channeltest.Project, "app-web", "b2", &fam.Base, "")
	paths := lineage.Paths{Prefix: channeltest.Prefix, Project: channeltest.Project}
	channeltest.PutChannel(t, sb, "us-east-1", paths.Channel("app-web", "stable"), fam.AppWeb.Home())
	ctx := context.Background()
	lt, err := ec2.NewFromConfig(sb.Config).CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String("web"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(fam.AppWeb.Home()), InstanceType: ec2types.InstanceTypeT3Small},
	})
	require.NoError(t, err)
	ltID := aws.ToString(lt.LaunchTemplate.LaunchTemplateId)
	_, err = autoscaling.NewFromConfig(sb.Config).CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String("web-prod-a"), MinSize: aws.Int32(0), MaxSize: aws.Int32(4), DesiredCapacity: aws.Int32(0),
		LaunchTemplate:    &astypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(ltID), Version: aws.String("1")},
		AvailabilityZones: []string{"us-east-1a"},
	})
	require.NoError(t, err)
	return &world{sb: sb, dir: dir, old: fam.AppWeb.Home(), new: newer.Home(), ltID: ltID}
}

func (w *world) run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return clitest.Run(t, w.sb, w.dir, append([]string{"canary", "web", "--ami", w.new, "--no-wait", "--poll", "10ms"}, args...)...)
}

// live counts canary and baseline instances not terminated.
func (w *world) live(t *testing.T) int {
	t.Helper()
	n := 0
	w.sb.Do(func(sw *sandbox.World) {
		for _, in := range sw.EC2.Instances {
			if r := in.Tags[canary.TagRole]; (r == canary.RoleCanary || r == canary.RoleBase) && in.State != "terminated" && in.State != "shutting-down" {
				n++
			}
		}
	})
	return n
}

func TestDryRun(t *testing.T) {
	w := setup(t)
	code, out, errOut := w.run(t)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "ec2:RunInstances ImageId="+w.old)
	assert.Contains(t, out, "ec2:RunInstances ImageId="+w.new)
	assert.Contains(t, out, "p90_latency: Web/Latency p90, lower-is-better, tolerance 10%")
	assert.Contains(t, out, "Dry run")
	assert.Equal(t, 0, w.live(t))
	var n int
	w.sb.Do(func(sw *sandbox.World) { n = len(sw.EC2.Instances) })
	assert.Zero(t, n, "nothing launched")
}

func TestGoodAMIPasses(t *testing.T) {
	w := setup(t)
	code, out, errOut := w.run(t, "--apply")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	assert.Contains(t, out, "Verdict: PASS")
	assert.Contains(t, out, "p90_latency")
	assert.Contains(t, out, "error_rate")
	assert.Equal(t, 0, w.live(t), "instances terminated")
	// Launched from the ASG's launch template, tagged.
	w.sb.Do(func(sw *sandbox.World) {
		for _, in := range sw.EC2.Instances {
			assert.Equal(t, "t3.small", in.InstanceType)
			assert.Equal(t, channeltest.Project, in.Tags[canary.TagProject])
			assert.Equal(t, "web", in.Tags[canary.TagFleet])
		}
	})
	files, err := filepath.Glob(filepath.Join(w.dir, ".amibake", "canary", "canary-web-"+w.new+"-*"))
	require.NoError(t, err)
	assert.Len(t, files, 2, "JSON report and SVG chart")
}

func TestSlowAMIFails(t *testing.T) {
	w := setup(t)
	require.NoError(t, w.sb.SlowImage(w.new, "Latency", 1.3))
	report := t.TempDir()
	code, out, errOut := w.run(t, "--apply", "--report-dir", report)
	code2, jsonOut, _ := clitest.Run(t, w.sb, w.dir, "-o", "json", "canary", "web", "--ami", w.new, "--no-wait", "--poll", "10ms", "--apply", "--report-dir", report)
	assert.Equal(t, 1, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	assert.Equal(t, 1, code2)
	assert.Contains(t, out, "FAIL")
	assert.Contains(t, errOut, "canary analysis of web: fail")
	var rep canary.Report
	require.NoError(t, json.Unmarshal([]byte(jsonOut), &rep))
	assert.Equal(t, canary.Fail, rep.Verdict)
	assert.Equal(t, "p90_latency", rep.Metrics[0].Name)
	assert.Equal(t, canary.Fail, rep.Metrics[0].Verdict)
	assert.Less(t, rep.Metrics[0].Test.P, 0.05)
	svg, err := os.ReadFile(rep.Chart)
	require.NoError(t, err)
	assert.Contains(t, string(svg), "p90_latency")
	assert.Len(t, rep.Terminated, 2)
	assert.Equal(t, 0, w.live(t), "instances terminated on failure")
}

func TestMarginalPauses(t *testing.T) {
	w := setup(t)
	require.NoError(t, w.sb.SlowImage(w.new, "Latency", 1.15))
	code, out, errOut := w.run(t, "--apply")
	assert.Equal(t, 5, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	assert.Contains(t, out, "Verdict: MARGINAL")
	assert.Contains(t, errOut, "paused for an operator")
	assert.Equal(t, 0, w.live(t))
}

func TestFlags(t *testing.T) {
	w := setup(t)
	code, _, errOut := clitest.Run(t, w.sb, w.dir, "canary", "web")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "--ami")
	code, _, errOut = clitest.Run(t, w.sb, w.dir, "canary", "nope", "--ami", w.new)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, `unknown fleet "nope"`)
}

// An interrupt (the signal context main passes) while waiting out the
// window ends with exit 130 and the instances terminated.
func TestInterruptTerminates(t *testing.T) {
	w := setup(t)
	ios, _, out, errOut := iostreams.Test()
	f := root.NewFactory(ios)
	f.AWSConfig = func(context.Context) (aws.Config, error) { return w.sb.Config, nil }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for deadline := time.Now().Add(10 * time.Second); w.live(t) < 2 && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	code := root.Main(ctx, []string{"amibake", "--chdir", w.dir, "canary", "web", "--ami", w.new, "--poll", "10ms", "--apply"}, f)
	assert.Equal(t, 130, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	assert.Equal(t, 0, w.live(t), "instances terminated on interrupt")
	assert.Contains(t, errOut.String(), "terminated")
}

// The analysis changes AWS: it takes the project lock (held → exit 4,
// nothing launched) and releases it afterwards.
func TestProjectLock(t *testing.T) {
	w := setup(t)
	paths := lineage.Paths{Prefix: channeltest.Prefix, Project: channeltest.Project}
	held, err := (&lock.Locker{SSM: awsapi.NewClients(w.sb.Config).SSM(""), Name: paths.Lock(), Holder: "someone", Command: "bake"}).Acquire(context.Background(), 0)
	require.NoError(t, err)
	code, _, errOut := w.run(t, "--apply")
	assert.Equal(t, 4, code, errOut)
	var n int
	w.sb.Do(func(sw *sandbox.World) { n = len(sw.EC2.Instances) })
	assert.Zero(t, n, "nothing launched")
	require.NoError(t, held.Release(context.Background()))

	code, _, errOut = w.run(t, "--apply")
	require.Equal(t, 0, code, errOut)
	code, out, _ := clitest.Run(t, w.sb, w.dir, "lock", "status")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "Unlocked")
}
