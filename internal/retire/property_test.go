package retire_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/retire"
	"github.com/amibake/amibake/internal/sandbox"
)

var (
	regions   = []string{"us-east-1", "eu-west-1"}
	paths     = lineage.Paths{Prefix: "/amibake", Project: "acme-golden"}
	sharedAcc = "111122223333"
)

// world is what the generator made, the oracle of the property test: it
// knows every reference to an AMI without asking the code under test.
type world struct {
	sb       *sandbox.Sandbox
	images   []string            // every amibake AMI, all regions
	parent   map[string]string   // AMI → its build's parent (build-region id)
	build    map[string][]string // AMI → every copy of its build
	snaps    map[string][]string // AMI → its snapshots
	liveRefs map[string][]string // AMI → why it must stay (instances, LT versions, ASGs, shared)
	channels map[string][]string // channel name → values, oldest first
	labelled map[string]bool     // AMIs on a labelled channel version
}

func (w *world) ref(ami, why string) { w.liveRefs[ami] = append(w.liveRefs[ami], why) }

// generate builds a random world in a fresh sandbox.
func generate(t *testing.T, rng *rand.Rand) *world {
	sb := sandbox.Start(t, func(o *sandbox.Options) { o.Mode = sandbox.ClockManual; o.Seed = rng.Int64() })
	w := &world{sb: sb, parent: map[string]string{}, build: map[string][]string{}, snaps: map[string][]string{},
		liveRefs: map[string][]string{}, channels: map[string][]string{}, labelled: map[string]bool{}}
	ctx := context.Background()
	clients := awsapi.NewClients(sb.Config)

	// Lineages: a chain of layers, each build's parent a random build of the
	// layer above; copies in the second region most of the time; snapshots
	// now and then shared by two images of one region.
	layers := []string{"linux", "base", "app-web", "app-worker"}[:2+rng.IntN(3)]
	homes := map[string][]string{} // layer → home AMIs
	byRegion := map[string][]string{}
	var lastSnap = map[string]string{}
	sb.Do(func(sw *sandbox.World) {
		now := sb.Clock().Now()
		for li, layer := range layers {
			n := 1 + rng.IntN(6)
			for b := 0; b < n; b++ {
				buildID := fmt.Sprintf("%s-b%d", layer, b)
				tags := lineage.BuildTags{Project: paths.Project, Layer: layer, Fingerprint: "fp-" + buildID, BuildID: buildID}
				if li > 0 && len(homes[layers[li-1]]) > 0 {
					ps := homes[layers[li-1]]
					tags.ParentAMI = ps[rng.IntN(len(ps))]
				} else {
					tags.Source = "ami-source"
				}
				created := now.Add(-time.Duration(1+rng.IntN(90*24)) * time.Hour)
				var copies []string
				for ri, region := range regions {
					if ri > 0 && rng.IntN(10) < 3 {
						continue
					}
					id := sw.NewID("ami")
					var bds []sandbox.BlockDevice
					for d := 0; d < 1+rng.IntN(2); d++ {
						snap := ""
						if prev := lastSnap[region]; prev != "" && rng.IntN(10) == 0 {
							snap = prev // shared with the previous image
						} else {
							snap = sw.NewID("snap")
							sw.EC2.Snapshots[snap] = &sandbox.Snapshot{ID: snap, Account: sandbox.DefaultAccount, Region: region,
								VolumeSize: 8, State: "completed", StartTime: created, StateSince: created}
						}
						lastSnap[region] = snap
						bds = append(bds, sandbox.BlockDevice{DeviceName: fmt.Sprintf("/dev/xvd%c", 'a'+d), SnapshotID: snap, VolumeSize: 8, VolumeType: "gp3"})
						w.snaps[id] = append(w.snaps[id], snap)
					}
					img := &sandbox.Image{
						ID: id, Account: sandbox.DefaultAccount, Region: region, Name: paths.Project + "-" + buildID,
						State: "available", StateSince: created, CreationDate: created, AvailableAt: created,
						Architecture: "x86_64", RootDeviceName: "/dev/xvda", BlockDevices: bds, Tags: sandbox.Tags(tags.Map()),
					}
					if rng.IntN(8) == 0 { // deprecated by an earlier run
						img.DeprecationTime = now.Add(-time.Duration(rng.IntN(300)) * time.Hour).Truncate(time.Minute)
					}
					if rng.IntN(12) == 0 {
						img.LaunchPermissions = []string{sharedAcc}
						w.ref(id, "shared")
					}
					sw.EC2.Images[id] = img
					copies = append(copies, id)
					byRegion[region] = append(byRegion[region], id)
					w.images = append(w.images, id)
					w.parent[id] = tags.ParentAMI
					if ri == 0 {
						homes[layer] = append(homes[layer], id)
					}
				}
				for _, id := range copies {
					w.build[id] = copies
				}
			}
		}
	})

	pick := func(region string) string {
		ids := byRegion[region]
		if len(ids) == 0 {
			return ""
		}
		return ids[rng.IntN(len(ids))]
	}
	for _, region := range regions {
		e := clients.EC2(region)
		// Instances, later moved to every state.
		for i := 0; i < rng.IntN(5); i++ {
			ami := pick(region)
			if ami == "" {
				break
			}
			out, err := e.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(ami), InstanceType: ec2types.InstanceTypeT3Micro,
				MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
			require.NoError(t, err)
			id := aws.ToString(out.Instances[0].InstanceId)
			state := []string{"pending", "running", "stopped", "terminated", "terminated"}[rng.IntN(5)]
			if state != "terminated" {
				w.ref(ami, "instance "+id+" "+state)
			}
			sb.Do(func(sw *sandbox.World) {
				if state != "pending" {
					sw.EC2.Instances[id].State = state
				}
			})
		}
		// Launch templates with a history of versions; the default moved
		// now and then.
		for l := 0; l < rng.IntN(4); l++ {
			name := fmt.Sprintf("lt-%s-%d", region, l)
			ami := pick(region)
			out, err := ec2.NewFromConfig(w.sb.Config, func(o *ec2.Options) { o.Region = region }).CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String(name),
				LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(ami), InstanceType: ec2types.InstanceTypeT3Micro}})
			require.NoError(t, err)
			ltID := aws.ToString(out.LaunchTemplate.LaunchTemplateId)
			w.ref(ami, name+" v1")
			nv := 1 + rng.IntN(5)
			for v := 2; v <= nv; v++ {
				ami := pick(region)
				_, err := e.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{LaunchTemplateId: aws.String(ltID),
					SourceVersion: aws.String("$Latest"), LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(ami)}})
				require.NoError(t, err)
				w.ref(ami, fmt.Sprintf("%s v%d", name, v))
			}
			if nv > 1 && rng.IntN(2) == 0 {
				_, err := e.ModifyLaunchTemplate(ctx, &ec2.ModifyLaunchTemplateInput{LaunchTemplateId: aws.String(ltID),
					DefaultVersion: aws.String(fmt.Sprint(1 + rng.IntN(nv)))})
				require.NoError(t, err)
			}
			if rng.IntN(2) == 0 {
				_, err := autoscaling.NewFromConfig(w.sb.Config, func(o *autoscaling.Options) { o.Region = region }).CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
					AutoScalingGroupName: aws.String("asg-" + name), MinSize: aws.Int32(0), MaxSize: aws.Int32(2), DesiredCapacity: aws.Int32(0),
					AvailabilityZones: []string{region + "a"},
					LaunchTemplate:    &astypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(ltID), Version: aws.String("$Latest")}})
				require.NoError(t, err)
			}
		}
	}
	// Channels in the build region: each a history of values, a label now
	// and then.
	s := clients.SSM(regions[0])
	for _, layer := range layers {
		for _, ch := range []string{"latest", "stable"} {
			if rng.IntN(4) == 0 || len(homes[layer]) == 0 {
				continue
			}
			name := paths.Channel(layer, ch)
			for v := 0; v < 1+rng.IntN(8); v++ {
				hs := homes[layer]
				ami := hs[rng.IntN(len(hs))]
				_, err := s.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String(ami),
					Type: ssmtypes.ParameterTypeString, Overwrite: aws.Bool(true)})
				require.NoError(t, err)
				w.channels[name] = append(w.channels[name], ami)
				if rng.IntN(10) == 0 {
					_, err := s.LabelParameterVersion(ctx, &ssm.LabelParameterVersionInput{Name: aws.String(name),
						ParameterVersion: aws.Int64(int64(v + 1)), Labels: []string{fmt.Sprintf("known-good-%d", v)}})
					require.NoError(t, err)
					w.labelled[ami] = true
				}
			}
		}
	}
	return w
}

// check asserts the properties against the oracle after a retire with keep.
func (w *world) check(t *testing.T, keep int, seed uint64) (deregistered int) {
	t.Helper()
	must := map[string]string{}
	for ami, why := range w.liveRefs {
		must[ami] = fmt.Sprint(why)
	}
	for name, vals := range w.channels {
		for i := len(vals) - 1; i >= 0 && i >= len(vals)-keep; i-- {
			must[vals[i]] = "channel " + name
		}
	}
	for ami := range w.labelled {
		must[ami] = "labelled channel version"
	}
	w.sb.Do(func(sw *sandbox.World) {
		registered := func(id string) bool {
			img := sw.EC2.Images[id]
			return img != nil && img.State != "deregistered"
		}
		for ami, why := range must {
			// In use: the AMI, and so every copy of its build, stays.
			for _, c := range w.build[ami] {
				if !registered(c) {
					t.Errorf("seed %d: %s deregistered although %s is in use: %s", seed, c, ami, why)
				}
			}
		}
		for _, id := range w.images {
			if registered(id) {
				if p := w.parent[id]; p != "" && !registered(p) {
					t.Errorf("seed %d: parent %s of registered %s deregistered", seed, p, id)
				}
				continue
			}
			deregistered++
			for _, snap := range w.snaps[id] {
				if sw.EC2.Snapshots[snap] == nil {
					continue
				}
				used := false
				for _, other := range w.images {
					if registered(other) {
						for _, s := range w.snaps[other] {
							used = used || s == snap
						}
					}
				}
				if !used {
					t.Errorf("seed %d: snapshot %s of deregistered %s left behind", seed, snap, id)
				}
			}
		}
	})
	return deregistered
}

func TestRetireNeverTouchesInUse(t *testing.T) {
	n := 100
	if os.Getenv("AMIBAKE_RELIABILITY") == "long" {
		n = 1000
	}
	total, deprecatedTotal := 0, 0
	for i := 0; i < n; i++ {
		seed := uint64(i + 1)
		rng := rand.New(rand.NewPCG(seed, 0x5eed))
		w := generate(t, rng)
		clients := awsapi.NewClients(w.sb.Config)
		keep := 1 + rng.IntN(3)
		grace := time.Duration(rng.IntN(48)) * time.Hour
		r := &retire.Retirer{EC2: clients.EC2, AutoScaling: clients.AutoScaling, SSM: clients.SSM,
			Paths: paths, Regions: regions, Now: w.sb.Clock().Now}
		req := retire.Request{Keep: keep, Grace: grace, KeepSharedWith: []string{sharedAcc}, Apply: true}
		// Deprecate, wait out the grace, deregister; a third run changes nothing more.
		for pass := 0; pass < 3; pass++ {
			res, err := r.Run(context.Background(), req)
			require.NoError(t, err, "seed %d", seed)
			require.False(t, res.Failed(), "seed %d: %+v", seed, res.Builds)
			deprecatedTotal += res.Deprecated
			if pass == 2 {
				require.Zero(t, res.Deprecated+res.Deregistered, "seed %d: third pass changed something", seed)
			}
			w.sb.AdvanceClock(grace + time.Hour)
		}
		total += w.check(t, keep, seed)
		if t.Failed() {
			t.Fatalf("seed %d failed", seed)
		}
	}
	require.Positive(t, total, "no world retired anything: the property is vacuous")
	require.Positive(t, deprecatedTotal)
	t.Logf("%d worlds, %d AMIs deregistered", n, total)
}
