package retire

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/amibake/amibake/internal/lineage"
)

// ---- inventory ----------------------------------------------------------

type inventory struct{}

func (inventory) String() string { return "list the project's AMIs" }

func (inventory) Run(ctx context.Context, rn *run) error {
	for _, region := range rn.r.Regions {
		p := ec2.NewDescribeImagesPaginator(rn.r.EC2(region), &ec2.DescribeImagesInput{
			Owners:            []string{"self"},
			Filters:           []ec2types.Filter{lineage.TagFilter(lineage.TagProject, rn.r.Paths.Project)},
			IncludeDeprecated: aws.Bool(true),
			MaxResults:        aws.Int32(1000),
		})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return fmt.Errorf("describe images in %s: %w", region, err)
			}
			for _, img := range page.Images {
				rn.add(region, img)
			}
		}
	}
	selected := map[string]bool{}
	for _, l := range rn.req.Layers {
		selected[l] = true
	}
	for _, b := range rn.byKey {
		b.selected = len(selected) == 0 || selected[b.Layer]
		sort.Slice(b.Copies, func(i, j int) bool { return rn.regionIndex(b.Copies[i].Region) < rn.regionIndex(b.Copies[j].Region) })
		// The build's own AMI is the build region's copy (children and
		// channels name it); a build whose home copy is gone keeps the
		// first remaining one.
		if b.AMI == "" && len(b.Copies) > 0 {
			b.AMI = b.Copies[0].AMI
		}
	}
	return nil
}

func (rn *run) regionIndex(r string) int {
	for i, x := range rn.r.Regions {
		if x == r {
			return i
		}
	}
	return len(rn.r.Regions)
}

func (rn *run) add(region string, img ec2types.Image) {
	li := lineage.FromEC2(region, img)
	key := li.Layer + "/" + li.BuildID
	if li.BuildID == "" {
		key = li.Layer + "/" + li.ID
	}
	b := rn.byKey[key]
	if b == nil {
		b = &Build{Layer: li.Layer, BuildID: li.BuildID, key: key, ParentAMI: li.ParentAMI}
		rn.byKey[key] = b
	}
	c := Copy{Region: region, AMI: li.ID, State: li.State}
	for _, bd := range img.BlockDeviceMappings {
		if bd.Ebs != nil && aws.ToString(bd.Ebs.SnapshotId) != "" {
			c.Snapshots = append(c.Snapshots, aws.ToString(bd.Ebs.SnapshotId))
		}
	}
	if t, err := time.Parse(time.RFC3339, li.DeprecationTime); err == nil {
		c.DeprecationTime = t.UTC()
	}
	created, _ := time.Parse(time.RFC3339, li.CreationDate)
	if region == rn.r.Regions[0] {
		b.AMI = li.ID
		b.Created = created
	} else if b.Created.IsZero() || (b.AMI == "" && created.Before(b.Created)) {
		b.Created = created
	}
	b.Copies = append(b.Copies, c)
	rn.byAMI[li.ID] = b
}

// ---- instances ----------------------------------------------------------

type instancesInUse struct{}

func (instancesInUse) String() string { return "find AMIs of instances" }

// Run sweeps every instance not terminated, one paged call per region:
// cheaper than filtering on image-id when the project has many AMIs, and
// it sees instances of every account's images alike.
func (instancesInUse) Run(ctx context.Context, rn *run) error {
	for _, region := range rn.r.Regions {
		p := ec2.NewDescribeInstancesPaginator(rn.r.EC2(region), &ec2.DescribeInstancesInput{
			Filters: []ec2types.Filter{{
				Name:   aws.String("instance-state-name"),
				Values: []string{"pending", "running", "shutting-down", "stopping", "stopped"},
			}},
			MaxResults: aws.Int32(1000),
		})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return fmt.Errorf("describe instances in %s: %w", region, err)
			}
			for _, res := range page.Reservations {
				for _, inst := range res.Instances {
					state := ""
					if inst.State != nil {
						state = string(inst.State.Name)
					}
					if state == "terminated" {
						continue
					}
					rn.inUse(aws.ToString(inst.ImageId), fmt.Sprintf("instance %s (%s)", aws.ToString(inst.InstanceId), state))
				}
			}
		}
	}
	return nil
}

// ---- launch templates and Auto Scaling groups ---------------------------

type templatesInUse struct{}

func (templatesInUse) String() string { return "find AMIs of launch templates and Auto Scaling groups" }

type ltInfo struct {
	id, name        string
	defaultV, lastV int64
	images          map[int64]string // version → image id
}

func (templatesInUse) Run(ctx context.Context, rn *run) error {
	for _, region := range rn.r.Regions {
		client := rn.r.EC2(region)
		byID, byName := map[string]*ltInfo{}, map[string]*ltInfo{}
		p := ec2.NewDescribeLaunchTemplatesPaginator(client, &ec2.DescribeLaunchTemplatesInput{MaxResults: aws.Int32(200)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return fmt.Errorf("describe launch templates in %s: %w", region, err)
			}
			for _, lt := range page.LaunchTemplates {
				info := &ltInfo{id: aws.ToString(lt.LaunchTemplateId), name: aws.ToString(lt.LaunchTemplateName),
					defaultV: aws.ToInt64(lt.DefaultVersionNumber), lastV: aws.ToInt64(lt.LatestVersionNumber), images: map[int64]string{}}
				byID[info.id], byName[info.name] = info, info
			}
		}
		ids := make([]string, 0, len(byID))
		for id := range byID {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			info := byID[id]
			vp := ec2.NewDescribeLaunchTemplateVersionsPaginator(client, &ec2.DescribeLaunchTemplateVersionsInput{
				LaunchTemplateId: aws.String(id), MaxResults: aws.Int32(200),
			})
			for vp.HasMorePages() {
				page, err := vp.NextPage(ctx)
				var nf interface{ ErrorCode() string }
				if errors.As(err, &nf) && nf.ErrorCode() == "InvalidLaunchTemplateId.NotFound" {
					break // deleted since it was listed
				}
				if err != nil {
					return fmt.Errorf("describe versions of launch template %s in %s: %w", id, region, err)
				}
				for _, v := range page.LaunchTemplateVersions {
					if v.LaunchTemplateData == nil || aws.ToString(v.LaunchTemplateData.ImageId) == "" {
						continue
					}
					img := aws.ToString(v.LaunchTemplateData.ImageId)
					info.images[aws.ToInt64(v.VersionNumber)] = img
					rn.inUse(img, fmt.Sprintf("launch template %s (%s) version %d", info.name, id, aws.ToInt64(v.VersionNumber)))
				}
			}
		}
		if rn.r.AutoScaling == nil {
			continue
		}
		ap := autoscaling.NewDescribeAutoScalingGroupsPaginator(rn.r.AutoScaling(region), &autoscaling.DescribeAutoScalingGroupsInput{MaxRecords: aws.Int32(100)})
		for ap.HasMorePages() {
			page, err := ap.NextPage(ctx)
			if err != nil {
				return fmt.Errorf("describe Auto Scaling groups in %s: %w", region, err)
			}
			for _, g := range page.AutoScalingGroups {
				name := aws.ToString(g.AutoScalingGroupName)
				var specs []*ltSpec
				if g.LaunchTemplate != nil {
					specs = append(specs, &ltSpec{aws.ToString(g.LaunchTemplate.LaunchTemplateId), aws.ToString(g.LaunchTemplate.LaunchTemplateName), aws.ToString(g.LaunchTemplate.Version)})
				}
				if m := g.MixedInstancesPolicy; m != nil && m.LaunchTemplate != nil {
					if s := m.LaunchTemplate.LaunchTemplateSpecification; s != nil {
						specs = append(specs, &ltSpec{aws.ToString(s.LaunchTemplateId), aws.ToString(s.LaunchTemplateName), aws.ToString(s.Version)})
					}
					for _, o := range m.LaunchTemplate.Overrides {
						if o.ImageId != nil {
							rn.inUse(aws.ToString(o.ImageId), fmt.Sprintf("Auto Scaling group %s (mixed instances override)", name))
						}
						if s := o.LaunchTemplateSpecification; s != nil {
							specs = append(specs, &ltSpec{aws.ToString(s.LaunchTemplateId), aws.ToString(s.LaunchTemplateName), aws.ToString(s.Version)})
						}
					}
				}
				for _, s := range specs {
					info := byID[s.id]
					if info == nil {
						info = byName[s.name]
					}
					if info == nil {
						continue
					}
					if img := info.images[info.resolve(s.version)]; img != "" {
						rn.inUse(img, fmt.Sprintf("Auto Scaling group %s (launch template %s %s)", name, info.name, orDefault(s.version)))
					}
				}
			}
		}
	}
	return nil
}

type ltSpec struct{ id, name, version string }

func orDefault(v string) string {
	if v == "" {
		return "$Default"
	}
	return v
}

func (l *ltInfo) resolve(v string) int64 {
	switch v {
	case "", "$Default":
		return l.defaultV
	case "$Latest":
		return l.lastV
	}
	n, _ := strconv.ParseInt(v, 10, 64)
	return n
}

// ---- channels -----------------------------------------------------------

type channelsInUse struct{}

func (channelsInUse) String() string { return "find AMIs of channels" }

func (channelsInUse) Run(ctx context.Context, rn *run) error {
	for _, region := range rn.r.Regions {
		client := rn.r.SSM(region)
		var names []string
		p := ssm.NewGetParametersByPathPaginator(client, &ssm.GetParametersByPathInput{
			Path: aws.String(rn.r.Paths.LayersRoot()), Recursive: aws.Bool(true), MaxResults: aws.Int32(10),
		})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return fmt.Errorf("read channels under %s in %s: %w", rn.r.Paths.LayersRoot(), region, err)
			}
			for _, prm := range page.Parameters {
				name := aws.ToString(prm.Name)
				names = append(names, name)
				rn.inUse(aws.ToString(prm.Value), fmt.Sprintf("channel %s (current, version %d)", name, prm.Version))
			}
		}
		for _, name := range names {
			keepN := rn.req.ChannelHistory
			if keepN <= 0 {
				layer, _, _ := rn.r.Paths.ParseChannel(name)
				keepN = rn.keepFor(layer)
			}
			var hist []ssmtypes.ParameterHistory
			hp := ssm.NewGetParameterHistoryPaginator(client, &ssm.GetParameterHistoryInput{Name: aws.String(name), MaxResults: aws.Int32(50)})
			for hp.HasMorePages() {
				page, err := hp.NextPage(ctx)
				var nf *ssmtypes.ParameterNotFound
				if errors.As(err, &nf) {
					break
				}
				if err != nil {
					return fmt.Errorf("history of channel %s in %s: %w", name, region, err)
				}
				hist = append(hist, page.Parameters...)
			}
			sort.Slice(hist, func(i, j int) bool { return hist[i].Version > hist[j].Version })
			for i, h := range hist {
				if i >= keepN && len(h.Labels) == 0 {
					continue
				}
				why := fmt.Sprintf("channel %s history version %d (newest %d kept)", name, h.Version, keepN)
				if i >= keepN {
					why = fmt.Sprintf("channel %s history version %d (labelled %v)", name, h.Version, h.Labels)
				}
				rn.inUse(aws.ToString(h.Value), why)
			}
		}
	}
	return nil
}
