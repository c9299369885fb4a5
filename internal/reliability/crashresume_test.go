package reliability

// The crash-resume harness (issue 9, item 3). For each flow it runs the
// command once on a fresh world with AMIBAKE_CRASH_TRACE to enumerate the
// crash points the run passes (internal/crashpoint), then, for each point,
// on another fresh world: the command with AMIBAKE_CRASH_AFTER=point, which
// must die by SIGKILL there; the dead run's lease must stop the next run
// (exit 4, naming it) until `lock release --force`; re-runs until exit 0;
// then the invariants hold and the end state is the reference run's.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/channel/channeltest"
	"github.com/amibake/amibake/internal/crashpoint"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/sandbox"
	"github.com/amibake/amibake/internal/testutil"
	"github.com/amibake/amibake/internal/testutil/fakepacker/fakebin"
)

// crashFlow is one command the harness kills at each of its steps.
type crashFlow struct {
	name string
	// world arranges a fresh world: an out-of-process sandbox and a copy
	// of the example project.
	world func(t *testing.T) *world
	// args is the command killed and re-run.
	args []string
	// env is added to every run's environment (the packer, its settings).
	env func(t *testing.T, w *world) []string
	// resume completes the flow after a crash (the lease already
	// released); nil re-runs args until exit 0.
	resume func(t *testing.T, w *world, env []string) result
	// check asserts flow-specific invariants on a finished world.
	check func(t *testing.T, w *world)
	// every samples the points in the short variant: every N-th one.
	every int
	// only, when set, picks the points to crash at (all of them in the
	// long variant too).
	only func(p crashPoint) bool
}

// crashPoint is one Hit of a reference run: its name and which hit of
// that name it is (AMIBAKE_CRASH_AFTER=name#n).
type crashPoint struct {
	name string
	n    int
}

func (p crashPoint) spec() string { return fmt.Sprintf("%s#%d", p.name, p.n) }

// readTrace turns an AMIBAKE_CRASH_TRACE file into the points in order.
func readTrace(t testing.TB, path string) []crashPoint {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err, "the reference run traced no crash point")
	defer f.Close()
	seen := map[string]int{}
	var out []crashPoint
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name := strings.TrimSpace(sc.Text())
		if name == "" {
			continue
		}
		seen[name]++
		out = append(out, crashPoint{name, seen[name]})
	}
	require.NoError(t, sc.Err())
	return out
}

func killedBySIGKILL(p *proc) bool {
	if p.cmd.ProcessState == nil {
		return false
	}
	ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// runCrashFlow is the harness: the reference run, then every (sampled)
// point as a parallel subtest.
func runCrashFlow(t *testing.T, fl crashFlow) {
	ref := fl.world(t)
	trace := filepath.Join(t.TempDir(), "trace")
	env := append(ref.env(t, "reference"), fl.env(t, ref)...)
	r := runProc(t, append(env, crashpoint.EnvTrace+"="+trace), ref.project, fl.args...)
	require.Equal(t, 0, r.Code, "the uninterrupted reference run\n%s", r)
	ref.waitPackers(t)
	ref.checkInvariants(t)
	if fl.check != nil {
		fl.check(t, ref)
	}
	want := ref.endState(t)
	if testing.Verbose() {
		t.Logf("%s: the reference end state:\n%s", fl.name, want)
	}
	points := readTrace(t, trace)
	require.NotEmpty(t, points)
	var names []string
	for _, p := range points {
		names = append(names, p.spec())
	}
	t.Logf("%s: %d crash points: %s", fl.name, len(points), strings.Join(names, " "))

	every := fl.every
	if long() || every < 1 {
		every = 1
	}
	for i, p := range points {
		if i%every != 0 || (fl.only != nil && !fl.only(p)) {
			continue
		}
		t.Run(p.spec(), func(t *testing.T) {
			t.Parallel()
			crashAt(t, fl, p, want)
		})
	}
}

func crashAt(t *testing.T, fl crashFlow, p crashPoint, want string) {
	w := fl.world(t)
	extra := fl.env(t, w)
	victim := startProc(t, append(append(w.env(t, "victim"), extra...), crashpoint.EnvCrashAfter+"="+p.spec()), w.project, fl.args...)
	killed := victim.wait(t, 2*time.Minute)
	require.True(t, killedBySIGKILL(victim), "AMIBAKE_CRASH_AFTER=%s: the run must die by SIGKILL there\n%s", p.spec(), killed)
	// What the dead run started goes on without it (an orphaned packer
	// finishes its build, its post-processor moves the channel); the
	// operator re-runs once it is over.
	w.waitPackers(t)

	env := append(w.env(t, "resumer"), extra...)
	if lease := w.lease(t); lease != nil {
		// The dead run's lease stops everyone until it is broken.
		st := runProc(t, env, w.project, "lock", "status")
		assert.Contains(t, st.Out, "victim", "%s", st)
		again := runProc(t, env, w.project, "lock", "release")
		assert.NotEqual(t, 0, again.Code, "a plain release leaves another holder's lease\n%s", again)
		assert.Equal(t, victim.cmd.Process.Pid, lease.PID, "the lease is the dead run's")
		held := runProc(t, env, w.project, heldProbe(fl)...)
		assert.Equal(t, 4, held.Code, "%s", held)
		assert.Contains(t, held.Err, fmt.Sprintf("is held by victim (pid %d on ", victim.cmd.Process.Pid), "%s", held)
		rel := runProc(t, env, w.project, "lock", "release", "--force")
		require.Equal(t, 0, rel.Code, "%s", rel)
	}

	var done result
	if fl.resume != nil {
		done = fl.resume(t, w, env)
	} else {
		done = rerun(t, w, env, fl.args...)
	}
	require.Equal(t, 0, done.Code, "after a crash at %s\n%s", p.spec(), done)
	w.waitPackers(t)
	assert.Nil(t, w.lease(t), "the resumed run released the lock")
	w.checkInvariants(t)
	if fl.check != nil {
		fl.check(t, w)
	}
	got := w.endState(t)
	assert.Equal(t, want, got, "crashed at %s, then resumed: the end state differs from the uninterrupted run's:\n%s", p.spec(), diffLines(want, got))
}

// diffLines: the lines only in a (-) and only in b (+).
func diffLines(a, b string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	ma, mb := in(a), in(b)
	var out []string
	for _, l := range strings.Split(a, "\n") {
		if !mb[l] {
			out = append(out, "- "+l)
		}
	}
	for _, l := range strings.Split(b, "\n") {
		if !ma[l] {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}

// heldProbe is a command that takes the project lock and changes nothing
// when it cannot: the flow's own, or retire --apply for flows whose
// command checks AWS before the lock (a rollout refuses a running refresh
// first).
func heldProbe(fl crashFlow) []string {
	if fl.args[0] == "rollout" {
		return []string{"retire", "--apply"}
	}
	return fl.args
}

// rerun runs args until exit 0, at most three times (a run may stop on
// what the crash left in flight, which the next one adopts).
func rerun(t *testing.T, w *world, env []string, args ...string) result {
	t.Helper()
	var r result
	for range 3 {
		r = runProc(t, env, w.project, args...)
		if r.Code == 0 {
			return r
		}
		t.Logf("re-run did not finish:\n%s", r)
		w.waitPackers(t)
	}
	return r
}

// ---- worlds -------------------------------------------------------------

// servedWorld seeds an in-process sandbox with seed, saves its state and
// serves it from `amibake sandbox serve --state`, with a copy of the
// example project (edit it with edit).
func servedWorld(t *testing.T, seed func(sb *sandbox.Sandbox), edit func(dir string)) *world {
	t.Helper()
	sb := sandbox.Start(t)
	if seed != nil {
		seed(sb)
	}
	state := filepath.Join(t.TempDir(), "state.json")
	require.NoError(t, os.WriteFile(state, adminGet(t, sb.URL(), "/_sandbox/state"), 0o644))
	sb.Close()
	es := startSandbox(t, "--state", state)
	w := &world{es: es, cfg: externalConfig(es.URL), project: channeltest.CopyProject(t)}
	if edit != nil {
		edit(w.project)
	}
	return w
}

var (
	fakePackerOnce sync.Once
	fakePackerPath string
	fakePackerErr  error
)

// fakePacker builds internal/testutil/fakepacker once per test process.
func fakePacker(t testing.TB) string {
	t.Helper()
	fakePackerOnce.Do(func() {
		dir, err := os.MkdirTemp("", "amibake-reliability-fakepacker-")
		if err != nil {
			fakePackerErr = err
			return
		}
		fakePackerPath, fakePackerErr = fakebin.Build(dir)
	})
	require.NoError(t, fakePackerErr)
	return fakePackerPath
}

// fakePackerEnv runs bakes with the simulated packer building through the
// sandbox, recording each build's start and end in the world's record.
func fakePackerEnv(t *testing.T, w *world) []string {
	if w.record == "" {
		w.record = filepath.Join(t.TempDir(), "packer-record")
	}
	return []string{"AMIBAKE_PACKER=" + fakePacker(t), "FAKEPACKER_AWS=1", "FAKEPACKER_SLEEP=50ms",
		"FAKEPACKER_RECORD=" + w.record, "AMIBAKE_VAR_security_agent_token=crash-t0ken"}
}

// waitPackers waits until every packer started in the world has ended.
func (w *world) waitPackers(t testing.TB) {
	t.Helper()
	if w.marker != "" {
		w.waitMarked(t)
	}
	if w.record == "" {
		return
	}
	deadline := time.Now().Add(time.Minute)
	for {
		b, err := os.ReadFile(w.record)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		running := 0
		for _, line := range strings.Split(string(b), "\n") {
			switch strings.SplitN(line, " ", 2)[0] {
			case "start":
				running++
			case "end", "fail", "interrupted", "killed":
				running--
			}
		}
		if running <= 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d packer builds still running after a minute:\n%s", running, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ---- invariants and end state -------------------------------------------

func (w *world) ec2(region string) *ec2.Client {
	return ec2.NewFromConfig(w.cfg, func(o *ec2.Options) { o.Region = region })
}

func tagMap(tags []ec2types.Tag) map[string]string {
	m := map[string]string{}
	for _, tg := range tags {
		m[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	return m
}

// ownImages is every registered image of the account in region.
func (w *world) ownImages(t testing.TB, region string) []ec2types.Image {
	t.Helper()
	var out []ec2types.Image
	p := ec2.NewDescribeImagesPaginator(w.ec2(region), &ec2.DescribeImagesInput{Owners: []string{"self"}, IncludeDeprecated: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		require.NoError(t, err)
		out = append(out, page.Images...)
	}
	return out
}

// label names an image by what it is, not by its id (ids differ between
// two worlds that took different paths to the same state).
func label(img ec2types.Image) string {
	tg := tagMap(img.Tags)
	fp := tg[lineage.TagFingerprint]
	if len(fp) > 16 {
		fp = fp[:16]
	}
	l := tg[lineage.TagLayer] + "@" + fp
	if pl := tg[lineage.TagPatchLevel]; pl != "" {
		l += "/" + pl
	}
	if tg[lineage.TagLayer] == "" {
		l = "untagged:" + aws.ToString(img.Name)
	}
	return l
}

// checkInvariants: no duplicate AMI, no leaked build/scan/canary instance,
// no orphaned snapshot, every channel on an existing, available AMI.
func (w *world) checkInvariants(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	for _, region := range channeltest.Regions {
		images := w.ownImages(t, region)
		count := map[string]int{}
		used := map[string]bool{}
		for _, img := range images {
			tg := tagMap(img.Tags)
			if tg[lineage.TagProject] != "" {
				count[tg[lineage.TagLayer]+" "+tg[lineage.TagFingerprint]+" "+tg[lineage.TagPatchLevel]]++
			} else {
				assert.Fail(t, "an own AMI without lineage tags", "%s in %s: %s (%s)", aws.ToString(img.ImageId), region, aws.ToString(img.Name), img.State)
			}
			for _, bd := range img.BlockDeviceMappings {
				if bd.Ebs != nil {
					used[aws.ToString(bd.Ebs.SnapshotId)] = true
				}
			}
		}
		for key, n := range count {
			assert.Equal(t, 1, n, "%s: %d AMIs of (layer fingerprint patch-level) %s", region, n, key)
		}

		out, err := w.ec2(region).DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
			{Name: aws.String("tag:" + lineage.TagRole), Values: []string{lineage.RoleBuild, lineage.RoleScan, "canary", "baseline"}},
			{Name: aws.String("instance-state-name"), Values: []string{"pending", "running", "stopping", "stopped"}}}})
		require.NoError(t, err)
		for _, res := range out.Reservations {
			for _, in := range res.Instances {
				assert.Fail(t, "leaked instance", "%s in %s (%s), tags %v", aws.ToString(in.InstanceId), region, in.State.Name, tagMap(in.Tags))
			}
		}

		snaps, err := w.ec2(region).DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"}})
		require.NoError(t, err)
		for _, s := range snaps.Snapshots {
			assert.True(t, used[aws.ToString(s.SnapshotId)], "orphaned snapshot %s in %s (%s), tags %v",
				aws.ToString(s.SnapshotId), region, aws.ToString(s.Description), tagMap(s.Tags))
		}
	}
	for name, ami := range w.channels(t) {
		st := w.amiState(t, channeltest.Regions[0], ami)
		assert.Equal(t, "available", st, "channel %s points at %s", name, ami)
	}
}

func (w *world) amiState(t testing.TB, region, ami string) string {
	t.Helper()
	out, err := w.ec2(region).DescribeImages(context.Background(), &ec2.DescribeImagesInput{
		IncludeDeprecated: aws.Bool(true), Filters: []ec2types.Filter{{Name: aws.String("image-id"), Values: []string{ami}}}})
	require.NoError(t, err)
	for _, img := range out.Images {
		return string(img.State)
	}
	return "missing"
}

// channels maps every channel parameter of the project to its AMI.
func (w *world) channels(t testing.TB) map[string]string {
	t.Helper()
	out := map[string]string{}
	p := ssm.NewGetParametersByPathPaginator(ssm.NewFromConfig(w.cfg), &ssm.GetParametersByPathInput{
		Path: aws.String(channeltest.Prefix + "/" + channeltest.Project + "/layers"), Recursive: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		require.NoError(t, err)
		for _, prm := range page.Parameters {
			out[aws.ToString(prm.Name)] = aws.ToString(prm.Value)
		}
	}
	return out
}

// endState is the world in words: each region's images (what, state,
// deprecated), each channel's image, the snapshots, the fleets' groups and
// launch templates.
func (w *world) endState(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	var lines []string
	byID := map[string]string{}
	for _, region := range channeltest.Regions {
		for _, img := range w.ownImages(t, region) {
			l := label(img)
			byID[aws.ToString(img.ImageId)] = l
			dep := ""
			if aws.ToString(img.DeprecationTime) != "" {
				dep = " deprecated"
			}
			if r := tagMap(img.Tags)[lineage.TagRevoked]; r != "" {
				dep += " revoked"
			}
			lines = append(lines, fmt.Sprintf("image %s %s %s%s", region, l, img.State, dep))
		}
		snaps, err := w.ec2(region).DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"}})
		require.NoError(t, err)
		lines = append(lines, fmt.Sprintf("snapshots %s %d", region, len(snaps.Snapshots)))
	}
	for name, ami := range w.channels(t) {
		l, ok := byID[ami]
		if !ok {
			l = ami // not an own image: the same id in every world
		}
		lines = append(lines, fmt.Sprintf("channel %s → %s", name, l))
	}
	groups, err := autoscaling.NewFromConfig(w.cfg).DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{})
	require.NoError(t, err)
	for _, g := range groups.AutoScalingGroups {
		onAMI := map[string]int{}
		ids := []string{}
		for _, in := range g.Instances {
			ids = append(ids, aws.ToString(in.InstanceId))
		}
		if len(ids) > 0 {
			out, err := w.ec2(channeltest.Regions[0]).DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: ids})
			require.NoError(t, err)
			for _, res := range out.Reservations {
				for _, in := range res.Instances {
					onAMI[byID[aws.ToString(in.ImageId)]]++
				}
			}
		}
		for l, n := range onAMI {
			lines = append(lines, fmt.Sprintf("group %s: %d on %s", aws.ToString(g.AutoScalingGroupName), n, l))
		}
	}
	lts, err := w.ec2(channeltest.Regions[0]).DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{})
	require.NoError(t, err)
	for _, lt := range lts.LaunchTemplates {
		// Every version, not only the default: a rollout's finish prunes
		// the old ones (by retire.keep), and one left names the old AMI.
		vs, err := w.ec2(channeltest.Regions[0]).DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{
			LaunchTemplateId: lt.LaunchTemplateId})
		require.NoError(t, err)
		def := ""
		var others []string
		for _, v := range vs.LaunchTemplateVersions {
			on := ""
			if v.LaunchTemplateData != nil {
				on = byID[aws.ToString(v.LaunchTemplateData.ImageId)]
			}
			if aws.ToBool(v.DefaultVersion) {
				def = on
			} else {
				others = append(others, on)
			}
		}
		sort.Strings(others)
		lines = append(lines, fmt.Sprintf("launch template %s: default on %s, other versions on %v", aws.ToString(lt.LaunchTemplateName), def, others))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// ---- the flows ------------------------------------------------------------

// bake of the whole example project on an empty account, with the
// simulated packer building through the sandbox.
func bakeFlow() crashFlow {
	return crashFlow{
		name:  "bake",
		world: func(t *testing.T) *world { return servedWorld(t, nil, nil) },
		args:  []string{"bake"},
		env:   fakePackerEnv,
		every: 2,
	}
}

func TestCrashResumeBake(t *testing.T) {
	t.Parallel()
	runCrashFlow(t, bakeFlow())
}

// retire of app-web: five old builds with a snapshot per AMI, the two
// oldest deprecated ten days ago (deregistered now, with their snapshots),
// the other three deprecated now.
func retireFlow() crashFlow {
	return crashFlow{
		name: "retire",
		world: func(t *testing.T) *world {
			return servedWorld(t, func(sb *sandbox.Sandbox) {
				fam := channeltest.SeedFamily(t, sb, channeltest.Project, "ami-source")
				channeltest.PutChannel(t, sb, "us-east-1", "/amibake/acme-golden/layers/app-web/stable", fam.AppWeb.Home())
				for i, id := range []string{"w1", "w2", "w3", "w4", "w5"} {
					b := channeltest.SeedBuild(t, sb, channeltest.Project, "app-web", id, &fam.Base, "")
					age := time.Duration(10-i) * 24 * time.Hour
					sb.Do(func(sw *sandbox.World) {
						for _, ami := range b.All() {
							img := sw.EC2.Images[ami]
							snap := sw.NewID("snap")
							sw.EC2.Snapshots[snap] = &sandbox.Snapshot{ID: snap, Account: sandbox.DefaultAccount, Region: img.Region, VolumeSize: 8,
								State: "completed", StartTime: img.CreationDate, StateSince: img.CreationDate}
							img.BlockDevices = []sandbox.BlockDevice{{DeviceName: "/dev/xvda", SnapshotID: snap, VolumeSize: 8, VolumeType: "gp3"}}
							img.CreationDate = img.CreationDate.Add(-age)
							if i < 2 {
								img.DeprecationTime = img.CreationDate.Add(time.Hour)
							}
						}
					})
				}
			}, nil)
		},
		args:  []string{"retire", "app-web", "--keep", "1", "--apply"},
		env:   func(*testing.T, *world) []string { return nil },
		every: 1,
	}
}

func TestCrashResumeRetire(t *testing.T) {
	t.Parallel()
	runCrashFlow(t, retireFlow())
}

// crashWebFleet is the web fleet of the rollout flow: one group, three
// checkpoints a second apart, no canary block (its metrics would need
// their own clock), retire keeping one build.
const crashWebFleet = `fleet "web" {
  layer    = layer.app-web
  channel  = "stable"
  strategy = "replace"
  asg      = ["web-prod-a"]

  rollout {
    checkpoints         = [10, 50, 100]
    checkpoint_wait     = "1s"
    min_healthy_percent = 90
  }

  retire {
    keep  = 1
    grace = "168h"
  }
}
`

// replace rollout of web: 20 instances on the old app-web AMI, stable
// already on the new one (its build two days newer).
func rolloutFlow() crashFlow {
	return crashFlow{
		name: "rollout",
		world: func(t *testing.T) *world {
			return servedWorld(t, func(sb *sandbox.Sandbox) {
				fam := channeltest.SeedFamily(t, sb, channeltest.Project, "ami-source")
				newer := channeltest.SeedBuild(t, sb, channeltest.Project, "app-web", "b2", &fam.Base, "")
				sb.Do(func(sw *sandbox.World) {
					for _, id := range fam.AppWeb.All() {
						sw.EC2.Images[id].CreationDate = sw.EC2.Images[id].CreationDate.Add(-48 * time.Hour)
					}
				})
				channeltest.PutChannel(t, sb, "us-east-1", "/amibake/acme-golden/layers/app-web/stable", newer.Home())
				ctx := context.Background()
				lt, err := ec2.NewFromConfig(sb.Config).CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
					LaunchTemplateName: aws.String("web"),
					LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(fam.AppWeb.Home()), InstanceType: ec2types.InstanceTypeT3Micro},
				})
				require.NoError(t, err)
				_, err = autoscaling.NewFromConfig(sb.Config).CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
					AutoScalingGroupName: aws.String("web-prod-a"), MinSize: aws.Int32(0), MaxSize: aws.Int32(40), DesiredCapacity: aws.Int32(20),
					LaunchTemplate:         &astypes.LaunchTemplateSpecification{LaunchTemplateId: lt.LaunchTemplate.LaunchTemplateId, Version: aws.String("1")},
					AvailabilityZones:      []string{"us-east-1a", "us-east-1b"},
					HealthCheckGracePeriod: aws.Int32(0), DefaultInstanceWarmup: aws.Int32(0),
				})
				require.NoError(t, err)
			}, func(dir string) {
				require.NoError(t, os.WriteFile(filepath.Join(dir, "fleets", "web.hcl"), []byte(crashWebFleet), 0o644))
			})
		},
		args:   []string{"rollout", "web", "--apply", "--poll", "20ms"},
		env:    func(*testing.T, *world) []string { return nil },
		resume: resumeRollout,
		check: func(t *testing.T, w *world) {
			fleetOnChannel(t, w)
			rolloutDone(t, w)
		},
		every: 2,
	}
}

// resumeRollout: `rollout status` must tell a fleet the crash left between
// AMIs; then the rollout is run again, or resumed when a refresh it
// started is still going.
func resumeRollout(t *testing.T, w *world, env []string) result {
	t.Helper()
	// The refresh the dead run started goes on in AWS without it; the
	// operator comes back once it is over.
	ctx := context.Background()
	deadline := time.Now().Add(time.Minute)
	for {
		out, err := autoscaling.NewFromConfig(w.cfg).DescribeInstanceRefreshes(ctx, &autoscaling.DescribeInstanceRefreshesInput{AutoScalingGroupName: aws.String("web-prod-a")})
		require.NoError(t, err)
		running := false
		for _, r := range out.InstanceRefreshes {
			switch r.Status {
			case astypes.InstanceRefreshStatusPending, astypes.InstanceRefreshStatusInProgress, astypes.InstanceRefreshStatusCancelling,
				astypes.InstanceRefreshStatusRollbackInProgress, astypes.InstanceRefreshStatusBaking:
				running = true
			}
		}
		if !running {
			break
		}
		require.True(t, time.Now().Before(deadline), "the refresh never ended")
		time.Sleep(100 * time.Millisecond)
	}
	st := runProc(t, env, w.project, "rollout", "status", "web")
	onNew, total := w.fleetOnTarget(t)
	t.Logf("after the crash: %d of %d instances on the channel's AMI; rollout status:\n%s", onNew, total, st)
	if onNew < total {
		assert.NotContains(t, st.Out, "Successful", "a half-rolled fleet is reported as such\n%s", st)
	}
	if def := w.templateDefault(t, "web"); def != w.channel(t, "app-web", "stable") {
		// Refreshed or not, the rollout did not finish: status must not
		// call it done.
		assert.NotContains(t, st.Out, "Fleet web: succeeded", "the template's default is still %s\n%s", def, st)
	}
	var r result
	for range 3 {
		r = runProc(t, env, w.project, "rollout", "web", "--apply", "--poll", "20ms")
		if r.Code == 0 {
			return r
		}
		if strings.Contains(r.Err, "resume") {
			r = runProc(t, env, w.project, "rollout", "resume", "web", "--poll", "20ms")
			if r.Code == 0 {
				return r
			}
		}
		t.Logf("resume did not finish:\n%s", r)
	}
	return r
}

// templateDefault is the AMI of a launch template's default version.
func (w *world) templateDefault(t testing.TB, name string) string {
	t.Helper()
	out, err := w.ec2(channeltest.Regions[0]).DescribeLaunchTemplateVersions(context.Background(), &ec2.DescribeLaunchTemplateVersionsInput{
		LaunchTemplateName: aws.String(name), Versions: []string{"$Default"}})
	require.NoError(t, err)
	for _, v := range out.LaunchTemplateVersions {
		if v.LaunchTemplateData != nil {
			return aws.ToString(v.LaunchTemplateData.ImageId)
		}
	}
	return ""
}

// fleetOnTarget counts the group's in-service instances on the AMI the
// stable channel holds, out of all.
func (w *world) fleetOnTarget(t testing.TB) (onTarget, total int) {
	t.Helper()
	target := w.channel(t, "app-web", "stable")
	ctx := context.Background()
	out, err := autoscaling.NewFromConfig(w.cfg).DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{"web-prod-a"}})
	require.NoError(t, err)
	var ids []string
	for _, g := range out.AutoScalingGroups {
		for _, in := range g.Instances {
			if in.LifecycleState == astypes.LifecycleStateInService {
				ids = append(ids, aws.ToString(in.InstanceId))
			}
		}
	}
	if len(ids) == 0 {
		return 0, 0
	}
	res, err := w.ec2(channeltest.Regions[0]).DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: ids})
	require.NoError(t, err)
	for _, r := range res.Reservations {
		for _, in := range r.Instances {
			total++
			if aws.ToString(in.ImageId) == target {
				onTarget++
			}
		}
	}
	return onTarget, total
}

// fleetOnChannel: a finished rollout leaves every instance on the channel's AMI.
func fleetOnChannel(t *testing.T, w *world) {
	t.Helper()
	onNew, total := w.fleetOnTarget(t)
	assert.Equal(t, 20, total)
	assert.Equal(t, total, onNew, "every instance on the stable AMI")
}

// rolloutDone: a finished rollout leaves nothing for the next run, which
// says so and changes nothing (finish is not redone).
func rolloutDone(t *testing.T, w *world) {
	t.Helper()
	r := runProc(t, w.env(t, "again"), w.project, "rollout", "web", "--apply", "--poll", "20ms")
	require.Equal(t, 0, r.Code, "%s", r)
	assert.Contains(t, r.Out+r.Err, "Nothing to do", "%s", r)
	assert.NotContains(t, r.Out+r.Err, "changed:", "%s", r)
}

func TestCrashResumeRollout(t *testing.T) {
	t.Parallel()
	runCrashFlow(t, rolloutFlow())
}

// patchRunState bakes the example project (simulated packer, patch
// baselines applied) on an out-of-process sandbox, releases a critical
// kernel advisory and returns the sandbox state file: the world every
// patch run of the harness starts from.
func patchRunState(t *testing.T) string {
	t.Helper()
	es := startSandbox(t)
	w := &world{es: es, cfg: externalConfig(es.URL), project: channeltest.CopyProject(t)}
	env := append(w.env(t, "seed"), fakePackerEnv(t, w)...)
	for _, args := range [][]string{{"patch", "apply", "--apply"}, {"bake"}} {
		r := runProc(t, env, w.project, args...)
		require.Equal(t, 0, r.Code, "%s", r)
	}
	w.waitPackers(t)
	// AMI names carry the second of their bake (ami_name's timestamp): a
	// rebake within the same second would collide with the seeded AMIs.
	time.Sleep(time.Second)
	req, err := http.NewRequest(http.MethodPost, es.URL+"/_sandbox/patches/release",
		strings.NewReader(`{"package":"kernel","severity":"Critical","classification":"Security","cves":["CVE-2026-4242"]}`))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	state := filepath.Join(t.TempDir(), "state.json")
	require.NoError(t, os.WriteFile(state, adminGet(t, es.URL, "/_sandbox/state"), 0o644))
	return state
}

// patch run --apply after a critical kernel advisory: every layer scanned,
// rebaked with the simulated packer (which runs the patch step through
// SSM), verified on a scan instance and published.
func patchRunFlow(state string) crashFlow {
	return crashFlow{
		name: "patch run",
		world: func(t *testing.T) *world {
			// serve --state writes the world back: a copy per world.
			b, err := os.ReadFile(state)
			require.NoError(t, err)
			own := filepath.Join(t.TempDir(), "state.json")
			require.NoError(t, os.WriteFile(own, b, 0o644))
			es := startSandbox(t, "--state", own)
			return &world{es: es, cfg: externalConfig(es.URL), project: channeltest.CopyProject(t)}
		},
		args:  []string{"patch", "run", "--apply", "--poll", "20ms"},
		env:   fakePackerEnv,
		every: 2,
	}
}

func TestCrashResumePatchRun(t *testing.T) {
	t.Parallel()
	runCrashFlow(t, patchRunFlow(patchRunState(t)))
}

// realPackerEnv runs bakes with the real packer and plugins; the world's
// marker in the environment lets waitPackers find an orphaned packer.
func realPackerEnv(t *testing.T, w *world) []string {
	bin, plugins := testutil.PluginDir(t)
	if w.marker == "" {
		w.marker = fmt.Sprintf("%s-%d", strings.NewReplacer("/", "-", "#", "-").Replace(t.Name()), time.Now().UnixNano())
	}
	return []string{"AMIBAKE_PACKER=" + bin, "PACKER_PLUGIN_PATH=" + plugins, "CHECKPOINT_DISABLE=1",
		"AMIBAKE_VAR_security_agent_token=crash-t0ken", worldMarkerEnv + "=" + w.marker}
}

const worldMarkerEnv = "AMIBAKE_TEST_WORLD"

// waitMarked waits until no process carries the world's marker in its
// environment (Linux /proc): the packer a killed amibake left running,
// with its plugins, has ended.
func (w *world) waitMarked(t testing.TB) {
	t.Helper()
	want := []byte(worldMarkerEnv + "=" + w.marker + "\x00")
	deadline := time.Now().Add(5 * time.Minute)
	for {
		alive := 0
		procs, _ := filepath.Glob("/proc/[0-9]*/environ")
		for _, p := range procs {
			if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, want) {
				alive++
			}
		}
		if alive == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d processes of world %s still running after 5 minutes", alive, w.marker)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// The real packer, killed inside a build (long variant only): amibake dies
// right after it started packer for a layer (each of the five in turn);
// the orphaned packer builds, tags, copies and publishes it; the re-run
// adopts it and builds the rest.
func TestCrashResumeBakeRealPacker(t *testing.T) {
	if !long() {
		t.Skip("real packer: make reliability (AMIBAKE_RELIABILITY=long)")
	}
	t.Parallel()
	fl := bakeFlow()
	fl.name = "bake (real packer)"
	fl.env = realPackerEnv
	fl.only = func(p crashPoint) bool { return p.name == "bake.build-started" }
	runCrashFlow(t, fl)
}

// in-place rollout of worker: ten instances tagged role=worker on the
// app-worker AMI (stable), patched through Run Command in batches.
func inPlaceFlow() crashFlow {
	return crashFlow{
		name: "in-place rollout",
		world: func(t *testing.T) *world {
			return servedWorld(t, func(sb *sandbox.Sandbox) {
				fam := channeltest.SeedFamily(t, sb, channeltest.Project, "ami-source")
				channeltest.PutChannel(t, sb, "us-east-1", "/amibake/acme-golden/layers/app-worker/stable", fam.AppWorker.Home())
				_, err := ec2.NewFromConfig(sb.Config).RunInstances(context.Background(), &ec2.RunInstancesInput{ImageId: aws.String(fam.AppWorker.Home()),
					InstanceType: ec2types.InstanceTypeT3Micro, MinCount: aws.Int32(10), MaxCount: aws.Int32(10),
					TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance,
						Tags: []ec2types.Tag{{Key: aws.String("role"), Value: aws.String("worker")}}}}})
				require.NoError(t, err)
			}, nil)
		},
		args: []string{"rollout", "worker", "--apply", "--ignore-window", "--poll", "20ms"},
		env:  func(*testing.T, *world) []string { return nil },
		check: func(t *testing.T, w *world) {
			levels := w.workerLevels(t)
			assert.Len(t, levels, 1, "every worker on one patch level: %v", levels)
			assert.NotContains(t, levels, "", "every worker tagged with its patch level")
		},
		every: 1,
	}
}

// workerLevels counts the running role=worker instances by their
// amibake:patch-level tag.
func (w *world) workerLevels(t testing.TB) map[string]int {
	t.Helper()
	out, err := w.ec2(channeltest.Regions[0]).DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
		{Name: aws.String("tag:role"), Values: []string{"worker"}},
		{Name: aws.String("instance-state-name"), Values: []string{"running"}}}})
	require.NoError(t, err)
	levels := map[string]int{}
	for _, r := range out.Reservations {
		for _, in := range r.Instances {
			levels[tagMap(in.Tags)[lineage.TagPatchLevel]]++
		}
	}
	return levels
}

func TestCrashResumeInPlaceRollout(t *testing.T) {
	t.Parallel()
	runCrashFlow(t, inPlaceFlow())
}
