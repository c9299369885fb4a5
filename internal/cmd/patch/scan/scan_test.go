package scan_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/channel/channeltest"
	"github.com/amibake/amibake/internal/channel/channeltest/clitest"
	"github.com/amibake/amibake/internal/cmd/root"
	"github.com/amibake/amibake/internal/iostreams"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/plan"
	"github.com/amibake/amibake/internal/sandbox"
	"github.com/amibake/amibake/patch"
	"github.com/amibake/amibake/patch/decide"
	pscan "github.com/amibake/amibake/patch/scan"
)

var paths = lineage.Paths{Prefix: channeltest.Prefix, Project: channeltest.Project}

// world is the example project baked once, with each AMI's package set as
// its recipes leave it (everything at the newest version released so far),
// the baselines applied, and two fleets running.
type world struct {
	sb  *sandbox.Sandbox
	dir string
	fam channeltest.Family
}

// Packages each layer adds (what its recipes install; recipes/*/install.sh).
var layerPackages = map[string][]string{
	"foundation": {"amazon-ssm-agent", "amazon-cloudwatch-agent", "audit"},
	"base":       {"fluent-bit", "nftables"},
	"app-web":    {"nginx"},
	"app-worker": {"python3.11", "python3.11-pip"},
}

func setup(t *testing.T) *world {
	t.Helper()
	sb := sandbox.Start(t)
	w := &world{sb: sb, dir: channeltest.CopyProject(t)}
	w.fam = channeltest.SeedFamily(t, sb, channeltest.Project, "ami-source")
	builds := map[string]channeltest.Build{"linux": w.fam.Linux, "foundation": w.fam.Foundation, "base": w.fam.Base,
		"app-web": w.fam.AppWeb, "app-worker": w.fam.AppWorker}
	sb.Do(func(wd *sandbox.World) {
		now := sb.Clock().Now()
		pkgs := wd.Catalogue.JeOSPackages(sandbox.ReleaseFor(now))
		set := func(b channeltest.Build, add map[string]string) {
			for _, id := range b.All() {
				c := map[string]string{}
				for k, v := range add {
					c[k] = v
				}
				wd.EC2.Images[id].Content = sandbox.Content{Packages: c}
			}
		}
		chain := map[string]string{}
		for k, v := range pkgs {
			chain[k] = v
		}
		set(w.fam.Linux, chain)
		for _, l := range []string{"foundation", "base"} {
			for _, p := range layerPackages[l] {
				chain[p] = wd.Catalogue.Latest(p, now)
				require.NotEmpty(t, chain[p], p)
			}
			set(builds[l], chain)
		}
		// An older build the worker fleet still runs: half a year behind.
		then := now.AddDate(0, -6, 0)
		old := wd.Catalogue.JeOSPackages(sandbox.ReleaseFor(then))
		for _, p := range layerPackages["foundation"] {
			old[p] = wd.Catalogue.Latest(p, then)
		}
		set(w.fam.OldFoundation, old)
		for _, l := range []string{"app-web", "app-worker"} {
			c := map[string]string{}
			for k, v := range chain {
				c[k] = v
			}
			for _, p := range layerPackages[l] {
				c[p] = wd.Catalogue.Latest(p, now)
				require.NotEmpty(t, c[p], p)
			}
			set(builds[l], c)
		}
	})
	for l, b := range builds {
		channeltest.PutChannel(t, sb, "us-east-1", paths.Channel(l, lineage.ChannelLatest), b.Home())
	}
	code, _, errOut := clitest.Run(t, sb, w.dir, "patch", "apply", "--apply")
	require.Equal(t, 0, code, errOut)

	// Fleets: two workers (in place, by tag) still on an older AMI, and a
	// web instance (by patch group) on the current one.
	client := awsapi.NewClients(sb.Config).EC2("us-east-1")
	launch := func(ami string, n int32, tags map[string]string) {
		var ts []ec2types.Tag
		for k, v := range tags {
			ts = append(ts, ec2types.Tag{Key: aws.String(k), Value: aws.String(v)})
		}
		_, err := client.RunInstances(context.Background(), &ec2.RunInstancesInput{ImageId: aws.String(ami), InstanceType: "t3.small",
			MinCount: aws.Int32(n), MaxCount: aws.Int32(n),
			TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance, Tags: ts}}})
		require.NoError(t, err)
	}
	launch(w.fam.OldFoundation.Home(), 2, map[string]string{"role": "worker", "Patch Group": "worker"})
	launch(w.fam.AppWeb.Home(), 1, map[string]string{"Patch Group": "web"})
	return w
}

func (w *world) run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return clitest.Run(t, w.sb, w.dir, append(args, "--poll", "1ms")...)
}

func (w *world) scanJSON(t *testing.T, args ...string) *patch.ScanResult {
	t.Helper()
	code, out, errOut := w.run(t, append([]string{"-o", "json", "patch", "scan"}, args...)...)
	require.Equal(t, 0, code, errOut)
	var res patch.ScanResult
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	return &res
}

// scanInstances lists instances tagged amibake:role=scan by state.
func scanInstances(t *testing.T, sb *sandbox.Sandbox) map[string]string {
	t.Helper()
	out, err := awsapi.NewClients(sb.Config).EC2("us-east-1").DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{
		Filters: []ec2types.Filter{{Name: aws.String("tag:" + lineage.TagRole), Values: []string{lineage.RoleScan}}}})
	require.NoError(t, err)
	states := map[string]string{}
	for _, r := range out.Reservations {
		for _, i := range r.Instances {
			states[aws.ToString(i.InstanceId)] = string(i.State.Name)
		}
	}
	return states
}

func assertAllTerminated(t *testing.T, sb *sandbox.Sandbox) {
	t.Helper()
	states := scanInstances(t, sb)
	require.NotEmpty(t, states, "scan instances were launched")
	for id, st := range states {
		assert.Contains(t, []string{"shutting-down", "terminated"}, st, id)
	}
}

func missing(r *pscan.Report, pkg string) *pscan.Finding {
	for i := range r.Missing {
		if r.Missing[i].Package == pkg {
			return &r.Missing[i]
		}
	}
	return nil
}

func TestCriticalKernelPatch(t *testing.T) {
	w := setup(t)

	// Nothing new: nothing missing anywhere, nothing stale.
	res := w.scanJSON(t)
	require.Len(t, res.Images, 5)
	require.Len(t, res.Fleets, 2)
	for _, r := range append(res.Images, res.Fleets[0]) {
		assert.Empty(t, r.Missing, r.Name)
		assert.Equal(t, 100.0, r.CompliancePercent, r.Name)
	}
	// The workers run a six-month-old build: they miss what shipped since,
	// oldest first, but the images are fine.
	workers := res.Fleets[1]
	require.Equal(t, "worker", workers.Name)
	assert.NotEmpty(t, workers.Missing)
	assert.Equal(t, 0.0, workers.CompliancePercent)
	assert.Greater(t, workers.OldestMissingDays, 7)
	assert.Empty(t, res.Lineage, "each layer's parent AMI is its parent layer's latest")
	assert.Len(t, scanInstances(t, w.sb), 5, "one scan instance per AMI")
	assertAllTerminated(t, w.sb)
	code, out, errOut := w.run(t, "patch", "plan", "-detailed-exitcode")
	require.Equal(t, 0, code, errOut+out)
	assert.Contains(t, out, "Nothing to rebake")

	// A critical kernel advisory ships.
	p, err := w.sb.ReleasePatch(sandbox.PatchRelease{Package: "kernel", Severity: "Critical", Classification: "Security", CVEs: []string{"CVE-2026-4242"}})
	require.NoError(t, err)
	fixed := p.Packages[0].Version

	res = w.scanJSON(t)
	require.Len(t, res.Images, 5)
	for _, r := range res.Images {
		assert.Equal(t, pscan.KindImage, r.Kind)
		f := missing(r, "kernel")
		require.NotNil(t, f, "image %s misses the kernel patch", r.Layer)
		assert.Equal(t, fixed, f.Version)
		assert.Equal(t, "Critical", f.Severity)
		assert.Equal(t, []string{"CVE-2026-4242"}, f.CVEs)
		assert.Equal(t, "linux", f.IntroducedBy, r.Layer)
		assert.Equal(t, 1, r.MissingBySeverity["Critical"])
		assert.Equal(t, 0.0, r.CompliancePercent)
		assert.Equal(t, 0, r.OldestMissingDays)
		assert.False(t, f.Released.IsZero())
		assert.NotEmpty(t, r.ScanInstance)
		assert.Contains(t, r.Packages, "kernel")
	}
	byName := map[string]*pscan.Report{}
	for _, r := range res.Fleets {
		byName[r.Name] = r
	}
	require.Contains(t, byName, "worker")
	require.Contains(t, byName, "web")
	assert.Equal(t, 2, byName["worker"].Scanned)
	assert.Equal(t, "worker", byName["worker"].PatchGroup)
	assert.Equal(t, 1, byName["web"].Scanned)
	for _, r := range res.Fleets {
		f := missing(r, "kernel")
		require.NotNil(t, f, "fleet %s", r.Name)
		assert.Equal(t, r.Scanned, f.Instances)
		assert.Equal(t, "linux", f.IntroducedBy, "fleets are attributed through their layer's lineage")
	}
	assertAllTerminated(t, w.sb)

	// Text report.
	code, out, errOut = w.run(t, "patch", "scan", "--layer", "app-worker")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "KIND")
	assert.Contains(t, out, "image  app-worker")
	assert.Contains(t, out, "1 (1 critical)")
	assert.Contains(t, out, "kernel@"+fixed)
	assert.Contains(t, out, "introduced by linux")

	// Fleet only: no scan instance, no lock needed.
	before := w.sb.CountCalls("ec2", "RunInstances")
	res = w.scanJSON(t, "--fleet", "worker")
	assert.Empty(t, res.Images)
	require.Len(t, res.Fleets, 1)
	assert.Equal(t, before, w.sb.CountCalls("ec2", "RunInstances"))

	// Decide: linux and everything above.
	code, out, errOut = w.run(t, "-o", "json", "patch", "plan", "-detailed-exitcode")
	require.Equal(t, 2, code, errOut)
	var d decide.Result
	require.NoError(t, json.Unmarshal([]byte(out), &d))
	assert.Equal(t, []string{"linux"}, d.Roots)
	assert.Equal(t, "linux", d.Stale[0])
	assert.ElementsMatch(t, []string{"linux", "foundation", "base", "app-web", "app-worker"}, d.Stale)
	for _, l := range d.Layers {
		assert.Equal(t, plan.ReasonPatchDrift, l.Reason)
		assert.Equal(t, []string{"linux"}, l.Roots, l.Layer)
		want := "1 critical (kernel@" + fixed + ")"
		if l.Layer != "linux" {
			want += "; rebuilt on linux"
		}
		assert.Equal(t, want, l.Detail, l.Layer)
	}
	code, out, _ = w.run(t, "patch", "plan")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "linux       rebake  patch-drift  1 critical (kernel@"+fixed+")")
	assert.Contains(t, out, "5 layer(s) to rebake from linux")
	assertAllTerminated(t, w.sb)

	code, out, _ = clitest.Run(t, w.sb, w.dir, "lock", "status")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "Unlocked")
}

func TestAppWorkerOnlyPackage(t *testing.T) {
	w := setup(t)
	_, err := w.sb.ReleasePatch(sandbox.PatchRelease{Package: "python3.11", Severity: "Important", Classification: "Security", CVEs: []string{"CVE-2026-5151"}})
	require.NoError(t, err)

	code, out, errOut := w.run(t, "-o", "json", "patch", "scan")
	require.Equal(t, 0, code, errOut)
	saved := filepath.Join(t.TempDir(), "scan.json")
	require.NoError(t, os.WriteFile(saved, []byte(out), 0o644))
	var res patch.ScanResult
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	for _, r := range res.Images {
		if r.Layer == "app-worker" {
			f := missing(r, "python3.11")
			require.NotNil(t, f)
			assert.Equal(t, "app-worker", f.IntroducedBy)
		} else {
			assert.Empty(t, r.Missing, r.Layer)
		}
	}
	for _, r := range res.Fleets {
		// The workers' old build predates python_runtime: nothing to patch there.
		assert.Nil(t, missing(r, "python3.11"), r.Name)
	}

	// Decided from the saved scan: no AWS call at all.
	calls := len(w.sb.Log())
	code, out, errOut = w.run(t, "patch", "plan", "--from", saved, "-detailed-exitcode")
	require.Equal(t, 2, code, errOut)
	assert.Equal(t, calls, len(w.sb.Log()))
	assert.Contains(t, out, "app-worker  rebake  patch-drift  1 important (python3.11@")
	assert.Contains(t, out, "1 layer(s) to rebake from app-worker: app-worker.")
	assert.Contains(t, out, "linux       keep    up-to-date")
}

func TestScanInstanceTerminatedWhenScanFails(t *testing.T) {
	w := setup(t)
	w.sb.SetFaults(sandbox.FaultRule{Service: "ssm", Action: "SendCommand", ErrorRate: 1, ErrorStatus: 400})
	code, _, errOut := w.run(t, "patch", "scan", "--layer", "linux")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "send AWS-RunPatchBaseline Scan")
	assert.Contains(t, errOut, "terminated scan instance")
	assertAllTerminated(t, w.sb)

	code, out, _ := clitest.Run(t, w.sb, w.dir, "lock", "status")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "Unlocked")
}

// An interrupted `patch scan` (SIGINT cancels the context) exits 130,
// terminates its scan instance and releases the lock.
func TestScanInterrupted(t *testing.T) {
	timing := sandbox.ZeroTiming()
	timing.PatchScan = time.Hour // the scan never ends: the clock is manual
	sb := sandbox.Start(t, func(o *sandbox.Options) { o.Mode, o.Timing = sandbox.ClockManual, &timing })
	dir := channeltest.CopyProject(t)
	fam := channeltest.SeedFamily(t, sb, channeltest.Project, "ami-source")
	channeltest.PutChannel(t, sb, "us-east-1", paths.Channel("linux", lineage.ChannelLatest), fam.Linux.Home())

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for sb.CountCalls("ssm", "ListCommands") < 3 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	ios, _, _, errOut := iostreams.Test()
	f := root.NewFactory(ios)
	f.AWSConfig = func(context.Context) (aws.Config, error) { return sb.Config, nil }
	code := root.Main(ctx, []string{"amibake", "--chdir", dir, "patch", "scan", "--layer", "linux", "--poll", "1ms"}, f)
	assert.Equal(t, 130, code, errOut.String())
	assert.Equal(t, 1, sb.CountCalls("ssm", "SendCommand"))
	assertAllTerminated(t, sb)

	code, out, _ := clitest.Run(t, sb, dir, "lock", "status")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "Unlocked")
}
