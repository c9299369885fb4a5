package plan_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go/middleware"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/graph"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/plan"
	"github.com/amibake/amibake/internal/plan/plantest"
	"github.com/amibake/amibake/internal/sandbox"
)

const al2023Param = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"

// loadExample loads the example project at the repository root.
func loadExample(t *testing.T) (*config.Config, *graph.Graph, map[string]*graph.Fingerprint) {
	t.Helper()
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	cfg, diags := config.Load(root, config.LoadOptions{Now: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)})
	require.False(t, diags.HasErrors(), diags.Error())
	g, fps := build(t, cfg)
	return cfg, g, fps
}

func build(t *testing.T, cfg *config.Config) (*graph.Graph, map[string]*graph.Fingerprint) {
	t.Helper()
	g, diags := graph.Build(cfg)
	require.False(t, diags.HasErrors(), diags.Error())
	fps, diags := graph.Fingerprints(g)
	require.False(t, diags.HasErrors(), diags.Error())
	return g, fps
}

// counting wraps the clients Observe uses and counts, per action, the
// calls Observe made and the extra attempts the SDK's retryer sent for
// them (a transient transport error on the loopback is retried, and the
// sandbox logs both attempts).
type counting struct {
	*awsapi.Clients
	mu      sync.Mutex
	calls   map[string]int
	retries map[string]int
}

func (c *counting) record(action string, md middleware.Metadata) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[action]++
	if ar, ok := retry.GetAttemptResults(md); ok && len(ar.Results) > 1 {
		c.retries[action] += len(ar.Results) - 1
	}
}

func (c *counting) EC2(region string) awsapi.EC2 { return countingEC2{c.Clients.EC2(region), c} }
func (c *counting) SSM(region string) awsapi.SSM { return countingSSM{c.Clients.SSM(region), c} }

type countingEC2 struct {
	awsapi.EC2
	c *counting
}

func (e countingEC2) DescribeImages(ctx context.Context, in *ec2.DescribeImagesInput, o ...func(*ec2.Options)) (*ec2.DescribeImagesOutput, error) {
	out, err := e.EC2.DescribeImages(ctx, in, o...)
	var md middleware.Metadata
	if out != nil {
		md = out.ResultMetadata
	}
	e.c.record("DescribeImages", md)
	return out, err
}

type countingSSM struct {
	awsapi.SSM
	c *counting
}

func (s countingSSM) GetParameters(ctx context.Context, in *ssm.GetParametersInput, o ...func(*ssm.Options)) (*ssm.GetParametersOutput, error) {
	out, err := s.SSM.GetParameters(ctx, in, o...)
	var md middleware.Metadata
	if out != nil {
		md = out.ResultMetadata
	}
	s.c.record("GetParameters", md)
	return out, err
}

var lastCount = map[*sandbox.Sandbox]*counting{}

func observe(t *testing.T, sb *sandbox.Sandbox, cfg *config.Config, g *graph.Graph, fps map[string]*graph.Fingerprint) *plan.Observed {
	t.Helper()
	sb.ResetLog()
	c := &counting{Clients: awsapi.NewClients(sb.Config), calls: map[string]int{}, retries: map[string]int{}}
	obs, err := plan.Observe(context.Background(), c, cfg, g, fps)
	require.NoError(t, err)
	lastCount[sb] = c
	t.Cleanup(func() { delete(lastCount, sb) })
	return obs
}

// calls returns the DescribeImages and GetParameters calls of the last
// observe as the sandbox counted them, less the SDK's retries of a call,
// after checking that the sandbox saw exactly the calls Observe made.
func calls(t *testing.T, sb *sandbox.Sandbox) (describeImages, getParameters int) {
	t.Helper()
	c := lastCount[sb]
	require.NotNil(t, c)
	di := sb.CountCalls("ec2", "DescribeImages") - c.retries["DescribeImages"]
	gp := sb.CountCalls("ssm", "GetParameters") - c.retries["GetParameters"]
	assert.Equal(t, c.calls["DescribeImages"], di, "DescribeImages seen by the sandbox")
	assert.Equal(t, c.calls["GetParameters"], gp, "GetParameters seen by the sandbox")
	return di, gp
}

func TestObserveExampleFromNothing(t *testing.T) {
	sb := sandbox.Start(t)
	cfg, g, fps := loadExample(t)

	obs := observe(t, sb, cfg, g, fps)
	assert.Empty(t, obs.Images)
	assert.Empty(t, obs.Latest)
	assert.Equal(t, map[string]string{"linux": plantest.LatestAL2023(sb, "us-east-1")}, obs.Sources)
	di, gp := calls(t, sb)
	assert.Equal(t, 2, di, "one DescribeImages per region (us-east-1, eu-west-1)")
	assert.Equal(t, 2, gp, "one GetParameters for 5 latest channels, one for the source")
	assert.Zero(t, sb.CountCalls("ssm", "GetParametersByPath"))

	p := plan.New(g, fps, obs, nil)
	assert.Equal(t, 5, p.Changes())
	for _, l := range p.Layers {
		assert.Equal(t, plan.ReasonNew, l.Reason, l.Layer)
	}
}

func TestObserveExampleReuseAndChanges(t *testing.T) {
	sb := sandbox.Start(t)
	cfg, g, fps := loadExample(t)
	src := plantest.LatestAL2023(sb, "us-east-1")
	ids := plantest.SeedBake(t, sb, cfg, g, fps, src, "b1")

	// Re-run: everything reused, in both regions, with the same budget.
	obs := observe(t, sb, cfg, g, fps)
	di, gp := calls(t, sb)
	assert.Equal(t, 2, di)
	assert.Equal(t, 2, gp)
	p := plan.New(g, fps, obs, nil)
	assert.Zero(t, p.Changes())
	for _, l := range p.Layers {
		assert.Equal(t, plan.ReasonUpToDate, l.Reason, l.Layer)
		assert.Equal(t, map[string]string{"us-east-1": ids[l.Layer+"/us-east-1"], "eu-west-1": ids[l.Layer+"/eu-west-1"]}, l.AMI, l.Layer)
		assert.Equal(t, ids[l.Layer+"/us-east-1"], l.PreviousAMI)
		assert.Equal(t, plan.StateAvailable, l.State)
	}

	// A recipe version bump: the previous AMIs of foundation and below are
	// read by id in one more call.
	cfg.Recipes["cis_hardening"].Version = "9.9.9"
	g2, fps2 := build(t, cfg)
	obs = observe(t, sb, cfg, g2, fps2)
	di, gp = calls(t, sb)
	assert.Equal(t, 3, di, "2 by fingerprint + 1 by id for the previous AMIs")
	assert.Equal(t, 2, gp)
	p = plan.New(g2, fps2, obs, nil)
	assert.Equal(t, 4, p.Changes())
	assert.Equal(t, plan.ReasonUpToDate, p.Layer("linux").Reason)
	f := p.Layer("foundation")
	assert.Equal(t, plan.ReasonRecipeChanged, f.Reason)
	assert.Regexp(t, `^cis_hardening \S+→9\.9\.9$`, f.Detail)
	assert.Equal(t, ids["foundation/us-east-1"], f.PreviousAMI)
	for _, l := range []string{"base", "app-web", "app-worker"} {
		assert.Equal(t, plan.ReasonParentRebuilt, p.Layer(l).Reason, l)
	}
}

func TestObserveSourceMovedAndRevoked(t *testing.T) {
	sb := sandbox.Start(t)
	cfg, g, fps := loadExample(t)
	src := plantest.LatestAL2023(sb, "us-east-1")
	ids := plantest.SeedBake(t, sb, cfg, g, fps, src, "b1")

	// Revoke app-web's AMI (as `amibake revoke` tags it).
	sb.Do(func(w *sandbox.World) {
		w.EC2.Images[ids["app-web/us-east-1"]].Tags[lineage.TagRevoked] = "CVE-2026-0001"
		w.EC2.Images[ids["app-web/us-east-1"]].DeprecationTime = sb.Clock().Now()
	})
	p := plan.New(g, fps, observe(t, sb, cfg, g, fps), nil)
	assert.Equal(t, plan.ReasonRevoked, p.Layer("app-web").Reason)
	assert.Equal(t, ids["app-web/us-east-1"]+" revoked: CVE-2026-0001", p.Layer("app-web").Detail)
	assert.Equal(t, plan.ReasonUpToDate, p.Layer("app-worker").Reason)

	// Amazon ships a new AL2023 release: the public parameter moves.
	sb.Do(func(w *sandbox.World) {
		w.PublishAmazonLinuxRelease("2023.99.20261125", sb.Clock().Now().Add(time.Second))
	})
	sb.Clock().Advance(time.Minute)
	src2 := plantest.LatestAL2023(sb, "us-east-1")
	require.NotEqual(t, src, src2)
	obs := observe(t, sb, cfg, g, fps)
	assert.Equal(t, src2, obs.Sources["linux"])
	p = plan.New(g, fps, obs, nil)
	assert.Equal(t, plan.ReasonSourceMoved, p.Layer("linux").Reason)
	assert.Equal(t, src+"→"+src2, p.Layer("linux").Detail)
	assert.Equal(t, 5, p.Changes())
}

// wide is a project of n layers: one root and n-1 children of it.
func wide(n int) *config.Config {
	cfg := &config.Config{
		Project: &config.Project{Name: "wide", Regions: []string{"us-east-1"}, ParamPrefix: "/amibake", Provisioner: "ssm"},
		Layers:  map[string]*config.Layer{},
		Recipes: map[string]*config.Recipe{},
	}
	layer := func(name, parent string) *config.Layer {
		return &config.Layer{Name: name, Parent: parent, Volume: config.Volume{SizeGiB: 8, Type: "gp3", Encrypted: true}, IMDSv2Required: true}
	}
	root := layer("root", "")
	root.Source = &config.Source{SSMParameter: al2023Param}
	cfg.Layers["root"] = root
	for i := 1; i < n; i++ {
		name := fmt.Sprintf("l%03d", i)
		l := layer(name, "root")
		l.Volume.SizeGiB = 8 + i // distinct fingerprints: the layer name is not hashed
		cfg.Layers[name] = l
	}
	return cfg
}

func TestObserveCallBudget500Layers(t *testing.T) {
	sb := sandbox.Start(t)
	cfg := wide(500)
	g, fps := build(t, cfg)
	require.Len(t, fps, 500)

	obs := observe(t, sb, cfg, g, fps)
	di, gp := calls(t, sb)
	assert.Equal(t, 3, di, "ceil(500/200) DescribeImages, never one per layer")
	assert.Equal(t, 51, gp, "ceil(500/10) latest channels + 1 source")
	assert.Equal(t, 500, plan.New(g, fps, obs, nil).Changes())

	plantest.SeedBake(t, sb, cfg, g, fps, plantest.LatestAL2023(sb, "us-east-1"), "b1")
	obs = observe(t, sb, cfg, g, fps)
	di, gp = calls(t, sb)
	assert.Equal(t, 3, di)
	assert.Equal(t, 51, gp)
	assert.Len(t, obs.Images, 500)
	assert.Len(t, obs.Latest, 500)
	p := plan.New(g, fps, obs, nil)
	assert.Zero(t, p.Changes())
}

func TestObserveFilterSources(t *testing.T) {
	sb := sandbox.Start(t)
	cfg := wide(3)
	filter := &config.Source{Owners: []string{"amazon"}, NameFilter: "al2023-ami-2023.*-kernel-6.1-x86_64"}
	cfg.Layers["root"].Source = filter
	other := &config.Layer{Name: "root2", Source: &config.Source{Owners: []string{"amazon"}, NameFilter: filter.NameFilter},
		Volume: config.Volume{SizeGiB: 16}}
	cfg.Layers["root2"] = other
	g, fps := build(t, cfg)

	obs := observe(t, sb, cfg, g, fps)
	want := plantest.LatestAL2023(sb, "us-east-1")
	assert.Equal(t, map[string]string{"root": want, "root2": want}, obs.Sources)
	di, gp := calls(t, sb)
	assert.Equal(t, 2, di, "1 by fingerprint + 1 for the one distinct filter")
	assert.Equal(t, 1, gp, "latest channels only")

	cfg.Layers["root"].Source = &config.Source{Owners: []string{"amazon"}, NameFilter: "no-such-image-*"}
	g, fps = build(t, cfg)
	_, err := plan.Observe(context.Background(), awsapi.NewClients(sb.Config), cfg, g, fps)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "source of layer root: no available image matches")
}

func TestObserveErrors(t *testing.T) {
	sb := sandbox.Start(t)
	cfg := wide(2)
	cfg.Layers["root"].Source = &config.Source{SSMParameter: "/aws/service/nope"}
	g, fps := build(t, cfg)
	clients := awsapi.NewClients(sb.Config)

	_, err := plan.Observe(context.Background(), clients, cfg, g, fps)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "source of layer root: parameter /aws/service/nope not found in us-east-1")

	cfg.Layers["root"].Source = &config.Source{SSMParameter: al2023Param}
	g, fps = build(t, cfg)
	awsCfg := sb.Config
	awsCfg.RetryMaxAttempts = 1
	sb.SetFaults(sandbox.FaultRule{Service: "ec2", Action: "DescribeImages", ErrorRate: 1, ErrorStatus: 500})
	_, err = plan.Observe(context.Background(), awsapi.NewClients(awsCfg), cfg, g, fps)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "DescribeImages by fingerprint in us-east-1")
	sb.SetFaults()

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = plan.Observe(ctx, clients, cfg, g, fps)
	require.ErrorIs(t, err, context.Canceled)
}

func TestObservePagesImages(t *testing.T) {
	sb := sandbox.Start(t)
	cfg := wide(1)
	g, fps := build(t, cfg)
	// 1001 AMIs of the one fingerprint (a long history of rebuilds from
	// older sources), 1000 to a page.
	plantest.SeedBake(t, sb, cfg, g, fps, "ami-00000000000000001", "b0")
	sb.Do(func(w *sandbox.World) {
		var tmpl *sandbox.Image
		for _, img := range w.EC2.Images {
			if img.Tags[lineage.TagLayer] == "root" {
				tmpl = img
			}
		}
		for i := 0; i < 1000; i++ {
			img := *tmpl
			img.ID = w.NewID("ami")
			img.Tags = sandbox.Tags{}
			for k, v := range tmpl.Tags {
				img.Tags[k] = v
			}
			img.Tags[lineage.TagSource] = fmt.Sprintf("ami-%017x", i+2)
			w.EC2.Images[img.ID] = &img
		}
	})
	obs := observe(t, sb, cfg, g, fps)
	assert.Len(t, obs.Images, 1001)
	di, _ := calls(t, sb)
	assert.Equal(t, 2, di, "one query, two pages")
}

func TestObserveLayerRegions(t *testing.T) {
	sb := sandbox.Start(t)
	cfg := wide(3)
	// l002 builds in eu-west-1 and is copied to us-east-2; the rest stay in
	// us-east-1. Each region is searched once for the fingerprints it holds.
	cfg.Layers["l002"].Regions = []string{"eu-west-1", "us-east-2"}
	g, fps := build(t, cfg)
	ids := plantest.SeedBake(t, sb, cfg, g, fps, plantest.LatestAL2023(sb, "us-east-1"), "b1")

	obs := observe(t, sb, cfg, g, fps)
	di, gp := calls(t, sb)
	assert.Equal(t, 3, di, "us-east-1, eu-west-1, us-east-2")
	assert.Equal(t, 3, gp, "latest channels in us-east-1 and in eu-west-1, and the source")
	assert.Equal(t, ids["l002/eu-west-1"], obs.Latest["l002"], "read in its build region")

	p := plan.New(g, fps, obs, nil)
	l := p.Layer("l002")
	assert.Equal(t, "eu-west-1", l.Region)
	// The parent has no copy in eu-west-1, so the child cannot be reused there.
	assert.Equal(t, plan.ActionBuild, l.Action)
	assert.Equal(t, plan.ReasonParentRebuilt, l.Reason)
	assert.Equal(t, "root has no AMI in eu-west-1", l.Detail)
	assert.Equal(t, plan.ReasonUpToDate, p.Layer("l001").Reason)
}
