package status

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/channel"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/graph"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/lock"
	"github.com/amibake/amibake/internal/plan"
)

// Clients hands out per-region service clients; *awsapi.Clients does.
type Clients interface {
	EC2(region string) awsapi.EC2
	SSM(region string) awsapi.SSM
	AutoScaling(region string) awsapi.AutoScaling
}

var _ Clients = (*awsapi.Clients)(nil)

// Collect reads the whole status with a bounded number of calls
// (docs/reference/commands.md, status):
//
//   - plan.Observe (fingerprint state; its own budget, docs/plan.md);
//   - per build region, GetParametersByPath on <prefix>/<project>/layers
//     (every channel of every layer; 10 a page);
//   - per region, DescribeImages on the channel AMIs' build ids
//     (lineage.MaxFilterValues a call): the channel AMI and its copies;
//   - per fleet region, DescribeAutoScalingGroups on the replace fleets'
//     groups (50 a call), DescribeLaunchTemplateVersions once per distinct
//     launch template, and one paged DescribeInstances sweep of the
//     live instances (ASG members and in-place targets matched locally);
//   - GetParameter on the lock.
func Collect(ctx context.Context, clients Clients, cfg *config.Config, g *graph.Graph, fps map[string]*graph.Fingerprint, now time.Time) (*Report, error) {
	paths := channel.Paths(cfg)
	rep := &Report{SchemaVersion: SchemaVersion, Project: cfg.Project.Name, Time: now.UTC(), Layers: []*Layer{}, Fleets: []*Fleet{}}

	obs, err := plan.Observe(ctx, clients, cfg, g, fps)
	if err != nil {
		return nil, fmt.Errorf("status: read fingerprint state: %w", err)
	}
	p := plan.New(g, fps, obs, nil)

	// Channels, per build region.
	homes := map[string]bool{}
	for _, n := range g.Topo() {
		homes[plan.Regions(cfg, n.Layer)[0]] = true
	}
	chans := map[string]map[string]string{} // layer → channel → AMI (build region)
	for _, region := range sortedKeys(homes) {
		if err := readChannels(ctx, clients.SSM(region), paths, region, cfg, chans); err != nil {
			return nil, err
		}
	}

	// The channel AMIs and their copies, by build id, in every region.
	buildIDs := map[string]bool{}
	homeImages := map[string]map[string]lineage.Image{} // region → id → image
	for _, region := range sortedKeys(homes) {
		var ids []string
		for _, n := range g.Topo() {
			if plan.Regions(cfg, n.Layer)[0] != region {
				continue
			}
			for _, ami := range chans[n.Name()] {
				ids = append(ids, ami)
			}
		}
		imgs, err := lineage.DescribeIDs(ctx, clients.EC2(region), region, ids)
		if err != nil {
			return nil, fmt.Errorf("status: channel AMIs in %s: %w", region, err)
		}
		homeImages[region] = imgs
		for _, img := range imgs {
			if img.BuildID != "" {
				buildIDs[img.BuildID] = true
			}
		}
	}
	copies := map[string]map[string]lineage.Image{} // region → build id+layer → image
	for _, region := range channel.ProjectRegions(cfg) {
		copies[region] = map[string]lineage.Image{}
		if len(buildIDs) == 0 {
			continue
		}
		imgs, err := lineage.DescribeIn(ctx, clients.EC2(region), region, []string{"self"}, "tag:"+lineage.TagBuildID,
			sortedKeys(buildIDs), lineage.TagFilter(lineage.TagProject, cfg.Project.Name))
		if err != nil {
			return nil, fmt.Errorf("status: copies in %s: %w", region, err)
		}
		for _, img := range imgs {
			copies[region][img.BuildID+"/"+img.Layer] = img
		}
	}

	for _, n := range g.Topo() {
		name := n.Name()
		regions := plan.Regions(cfg, n.Layer)
		l := &Layer{Layer: name, Parent: n.Layer.Parent, Region: regions[0], Channels: []*Channel{}}
		if fp := fps[name]; fp != nil {
			l.Fingerprint = fp.Short
		}
		if pl := p.Layer(name); pl != nil {
			l.Action, l.Reason, l.Detail = string(pl.Action), string(pl.Reason), pl.Detail
			l.State = StateUpToDate
			if pl.Action == plan.ActionBuild {
				l.State = StateWouldRebuild
			} else if pl.Publish {
				l.State = StateWouldPublish
			}
		}
		for _, ch := range sortedChannels(chans[name]) {
			ami := chans[name][ch]
			c := &Channel{Channel: ch, AMI: ami, Regions: []*RegionAMI{}}
			home, ok := homeImages[regions[0]][ami]
			for i, region := range regions {
				ra := &RegionAMI{Region: region}
				var img lineage.Image
				var found bool
				if i == 0 {
					ra.AMI, img, found = ami, home, ok
				} else if ok {
					img, found = copies[region][home.BuildID+"/"+home.Layer]
					ra.AMI = img.ID
				}
				ra.fill(img, found, now)
				c.Regions = append(c.Regions, ra)
			}
			if ok {
				c.Current = fps[name] != nil && home.Fingerprint == fps[name].Hash
			}
			l.Channels = append(l.Channels, c)
		}
		rep.Layers = append(rep.Layers, l)
	}

	if err := collectFleets(ctx, clients, cfg, chans, homeImages, rep); err != nil {
		return nil, err
	}

	locker := &lock.Locker{SSM: clients.SSM(""), Name: paths.Lock()}
	lease, err := locker.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	rep.Lock = &Lock{Name: paths.Lock(), Held: lease != nil}
	if lease != nil {
		rep.Lock.Lease = lease
		rep.Lock.Expired = lease.Expired(now)
	}
	return rep, nil
}

func readChannels(ctx context.Context, client awsapi.SSM, paths lineage.Paths, region string, cfg *config.Config, into map[string]map[string]string) error {
	pg := ssm.NewGetParametersByPathPaginator(client, &ssm.GetParametersByPathInput{
		Path: aws.String(paths.LayersRoot()), Recursive: aws.Bool(true), MaxResults: aws.Int32(10)})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("status: read channels under %s in %s: %w", paths.LayersRoot(), region, err)
		}
		for _, prm := range page.Parameters {
			layer, ch, ok := paths.ParseChannel(aws.ToString(prm.Name))
			l := cfg.Layers[layer]
			if !ok || l == nil || plan.Regions(cfg, l)[0] != region {
				continue
			}
			if into[layer] == nil {
				into[layer] = map[string]string{}
			}
			into[layer][ch] = aws.ToString(prm.Value)
		}
	}
	return nil
}

func (ra *RegionAMI) fill(img lineage.Image, found bool, now time.Time) {
	switch {
	case ra.AMI == "":
		ra.State = "missing"
	case !found:
		ra.State = lineage.StateDeregistered
	default:
		ra.State = img.State
		ra.Created = img.CreationDate
		if t, err := time.Parse(time.RFC3339, img.CreationDate); err == nil {
			ra.AgeSeconds = max(0, int64(now.Sub(t).Seconds()))
		}
		if img.IsRevoked() {
			ra.Revoked = img.Revoked
			if ra.Revoked == "" {
				ra.Revoked = "revoked"
			}
		}
		ra.Deprecated = img.DeprecationTime != ""
		ra.PatchLevel = img.PatchLevel
	}
}

// sortedChannels: latest, stable, then the rest by name.
func sortedChannels(m map[string]string) []string {
	rank := func(c string) int {
		switch c {
		case lineage.ChannelLatest:
			return 0
		case lineage.ChannelStable:
			return 1
		}
		return 2
	}
	out := sortedKeys(m)
	sort.SliceStable(out, func(i, j int) bool { return rank(out[i]) < rank(out[j]) })
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ---- fleets ----

type instance struct {
	id, image, patchLevel string
	tags                  map[string]string
}

func collectFleets(ctx context.Context, clients Clients, cfg *config.Config, chans map[string]map[string]string,
	homeImages map[string]map[string]lineage.Image, rep *Report) error {
	byRegion := map[string][]*config.Fleet{}
	for _, name := range sortedKeys(cfg.Fleets) {
		fl := cfg.Fleets[name]
		regions, err := channel.LayerRegions(cfg, fl.Layer)
		if err != nil {
			return fmt.Errorf("status: fleet %s: %w", name, err)
		}
		byRegion[regions[0]] = append(byRegion[regions[0]], fl)
	}
	for _, region := range sortedKeys(byRegion) {
		fleets := byRegion[region]
		var asgNames []string
		for _, fl := range fleets {
			if fl.Strategy == config.StrategyReplace {
				asgNames = append(asgNames, fl.ASGs...)
			}
		}
		groups, err := describeGroups(ctx, clients.AutoScaling(region), region, asgNames)
		if err != nil {
			return err
		}
		templates, err := templateImages(ctx, clients.EC2(region), region, groups)
		if err != nil {
			return err
		}
		instances, err := liveInstances(ctx, clients.EC2(region), region)
		if err != nil {
			return err
		}
		for _, fl := range fleets {
			f := &Fleet{Fleet: fl.Name, Strategy: fl.Strategy, Layer: fl.Layer, Channel: fl.Channel, Region: region,
				Images: map[string]int{}, Groups: []*Group{}}
			f.Target = chans[fl.Layer][fl.Channel]
			target := homeImages[region][f.Target]
			targetLevel := target.PatchLevel
			if targetLevel == "" {
				targetLevel = f.Target
			}
			count := func(inst *instance) {
				f.Instances++
				f.Images[inst.image]++
				onTarget := f.Target != "" && inst.image == f.Target
				if fl.Strategy == config.StrategyInPlace && f.Target != "" && inst.patchLevel == targetLevel {
					onTarget = true // patched in place to the channel AMI's level
				}
				if !onTarget {
					f.Drift++
				}
			}
			if fl.Strategy == config.StrategyReplace {
				for _, name := range fl.ASGs {
					gr := &Group{Name: name}
					g, ok := groups[name]
					if !ok {
						gr.Missing = true
						f.Groups = append(f.Groups, gr)
						continue
					}
					gr.Desired = aws.ToInt32(g.DesiredCapacity)
					if spec := groupTemplate(g); spec != nil {
						gr.Template, gr.TemplateVersion = spec.key(), spec.version
						gr.TemplateAMI = templates[spec.key()].image(spec.version)
					}
					for _, m := range g.Instances {
						if inst := instances[aws.ToString(m.InstanceId)]; inst != nil {
							gr.Instances++
							count(inst)
						}
					}
					f.Groups = append(f.Groups, gr)
				}
			} else {
				for _, id := range sortedKeys(instances) {
					inst := instances[id]
					if matches(inst.tags, fl.TargetTags) {
						count(inst)
					}
				}
			}
			rep.Fleets = append(rep.Fleets, f)
		}
	}
	return nil
}

func matches(tags, want map[string]string) bool {
	if len(want) == 0 {
		return false
	}
	for k, v := range want {
		if tags[k] != v {
			return false
		}
	}
	return true
}

func describeGroups(ctx context.Context, client awsapi.AutoScaling, region string, names []string) (map[string]astypes.AutoScalingGroup, error) {
	out := map[string]astypes.AutoScalingGroup{}
	for start := 0; start < len(names); start += 50 {
		pg := autoscaling.NewDescribeAutoScalingGroupsPaginator(client, &autoscaling.DescribeAutoScalingGroupsInput{
			AutoScalingGroupNames: names[start:min(start+50, len(names))], MaxRecords: aws.Int32(100)})
		for pg.HasMorePages() {
			page, err := pg.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("status: describe Auto Scaling groups in %s: %w", region, err)
			}
			for _, g := range page.AutoScalingGroups {
				out[aws.ToString(g.AutoScalingGroupName)] = g
			}
		}
	}
	return out, nil
}

type ltRef struct{ id, name, version string }

func (r *ltRef) key() string {
	if r.id != "" {
		return r.id
	}
	return r.name
}

func groupTemplate(g astypes.AutoScalingGroup) *ltRef {
	var s *astypes.LaunchTemplateSpecification
	if g.LaunchTemplate != nil {
		s = g.LaunchTemplate
	} else if m := g.MixedInstancesPolicy; m != nil && m.LaunchTemplate != nil {
		s = m.LaunchTemplate.LaunchTemplateSpecification
	}
	if s == nil {
		return nil
	}
	v := aws.ToString(s.Version)
	if v == "" {
		v = "$Default"
	}
	return &ltRef{id: aws.ToString(s.LaunchTemplateId), name: aws.ToString(s.LaunchTemplateName), version: v}
}

type ltVersions struct {
	byVersion map[string]string // "3", "$Default", "$Latest" → image
}

func (l *ltVersions) image(v string) string {
	if l == nil {
		return ""
	}
	return l.byVersion[v]
}

// templateImages describes each distinct template once, with every
// version its groups name.
func templateImages(ctx context.Context, client awsapi.EC2, region string, groups map[string]astypes.AutoScalingGroup) (map[string]*ltVersions, error) {
	refs := map[string]*ltRef{}
	versions := map[string]map[string]bool{}
	for _, name := range sortedKeys(groups) {
		r := groupTemplate(groups[name])
		if r == nil {
			continue
		}
		refs[r.key()] = r
		if versions[r.key()] == nil {
			versions[r.key()] = map[string]bool{}
		}
		versions[r.key()][r.version] = true
	}
	out := map[string]*ltVersions{}
	for _, key := range sortedKeys(refs) {
		r := refs[key]
		lv := &ltVersions{byVersion: map[string]string{}}
		out[key] = lv
		for _, v := range sortedKeys(versions[key]) {
			// $Default and $Latest resolve to one version each; one call
			// per symbolic name keeps the mapping unambiguous.
			in := &ec2.DescribeLaunchTemplateVersionsInput{Versions: []string{v}}
			if r.id != "" {
				in.LaunchTemplateId = aws.String(r.id)
			} else {
				in.LaunchTemplateName = aws.String(r.name)
			}
			res, err := client.DescribeLaunchTemplateVersions(ctx, in)
			if err != nil {
				return nil, fmt.Errorf("status: describe launch template %s version %s in %s: %w", key, v, region, err)
			}
			for _, ver := range res.LaunchTemplateVersions {
				if ver.LaunchTemplateData != nil {
					lv.byVersion[v] = aws.ToString(ver.LaunchTemplateData.ImageId)
					lv.byVersion[strconv.FormatInt(aws.ToInt64(ver.VersionNumber), 10)] = lv.byVersion[v]
				}
			}
		}
	}
	return out, nil
}

// liveInstances sweeps the region's instances that are not terminated:
// one paged call, whatever the number of fleets.
func liveInstances(ctx context.Context, client awsapi.EC2, region string) (map[string]*instance, error) {
	out := map[string]*instance{}
	pg := ec2.NewDescribeInstancesPaginator(client, &ec2.DescribeInstancesInput{
		Filters:    []ec2types.Filter{{Name: aws.String("instance-state-name"), Values: []string{"pending", "running", "stopping", "stopped"}}},
		MaxResults: aws.Int32(1000),
	})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("status: describe instances in %s: %w", region, err)
		}
		for _, res := range page.Reservations {
			for _, i := range res.Instances {
				inst := &instance{id: aws.ToString(i.InstanceId), image: aws.ToString(i.ImageId), tags: map[string]string{}}
				for _, t := range i.Tags {
					inst.tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
				}
				inst.patchLevel = inst.tags[lineage.TagPatchLevel]
				if strings.TrimSpace(inst.id) != "" {
					out[inst.id] = inst
				}
			}
		}
	}
	return out, nil
}
