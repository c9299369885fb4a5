package bake

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/crashpoint"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/plan"
)

// Recovery is what Recover cleaned up after an earlier run that died.
type Recovery struct {
	// TerminatedInstances maps a region to the orphaned build instances
	// terminated there.
	TerminatedInstances map[string][]string `json:"terminated_instances,omitempty"`
	// DeletedSecrets lists leftover build secret parameters removed.
	DeletedSecrets []string `json:"deleted_secrets,omitempty"`
	// DeregisteredImages maps a region to the unfinished AMIs (not yet
	// tagged by packer) of orphaned build instances deregistered there.
	DeregisteredImages map[string][]string `json:"deregistered_images,omitempty"`
}

// Empty reports whether there was nothing to clean.
func (r *Recovery) Empty() bool {
	return r == nil || (len(r.TerminatedInstances) == 0 && len(r.DeletedSecrets) == 0 && len(r.DeregisteredImages) == 0)
}

// orphanStates are the states of an instance that still costs money or
// holds a volume; shutting-down and terminated ones are already going.
var orphanStates = []string{"pending", "running", "stopping", "stopped"}

// Recover cleans up what a crashed bake or patch run (kill -9, a lost
// machine) left: build and scan instances of this project (tags
// amibake:project and amibake:role=build or scan) in every region the
// project builds in, the AMIs an orphaned build instance was imaged into
// that packer never tagged (and their copies), and build secrets under
// <prefix>/<project>/builds/. Call it only while holding the
// project lock: then no live run owns any of them. An AMI that finished
// after the crash needs no cleanup: the plan finds it by fingerprint and
// adopts it.
func Recover(ctx context.Context, clients plan.Clients, cfg *config.Config) (*Recovery, error) {
	rec := &Recovery{TerminatedInstances: map[string][]string{}, DeregisteredImages: map[string][]string{}}
	if cfg == nil || cfg.Project == nil {
		return rec, nil
	}
	prefix := cfg.Project.ParamPrefix
	if prefix == "" {
		prefix = config.DefaultParamPrefix
	}
	paths := lineage.Paths{Prefix: prefix, Project: cfg.Project.Name}

	buildRegions := map[string]bool{}
	for _, l := range cfg.Layers {
		buildRegions[plan.Regions(cfg, l)[0]] = true
	}
	if len(buildRegions) == 0 {
		buildRegions[plan.Regions(cfg, nil)[0]] = true
	}
	regions := make([]string, 0, len(buildRegions))
	for r := range buildRegions {
		regions = append(regions, r)
	}
	sort.Strings(regions)

	for _, region := range regions {
		ids, err := orphanInstances(ctx, clients, cfg.Project.Name, region)
		if err != nil {
			return rec, fmt.Errorf("recover: find orphaned build instances in %s: %w", region, err)
		}
		gone, err := deregisterUnfinished(ctx, clients, cfg, region, ids)
		for r, amis := range gone {
			rec.DeregisteredImages[r] = append(rec.DeregisteredImages[r], amis...)
		}
		if err != nil {
			return rec, fmt.Errorf("recover: %w", err)
		}
		if len(ids) > 0 {
			if _, err := clients.EC2(region).TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids}); err != nil {
				return rec, fmt.Errorf("recover: terminate orphaned build instances %v in %s: %w", ids, region, err)
			}
			rec.TerminatedInstances[region] = ids
			crashpoint.Hit("bake.orphans-terminated")
		}
		deleted, err := deleteBuildSecrets(ctx, clients, paths.Root()+"/builds", region)
		rec.DeletedSecrets = append(rec.DeletedSecrets, deleted...)
		if err != nil {
			return rec, fmt.Errorf("recover: leftover build secrets in %s: %w", region, err)
		}
	}
	return rec, nil
}

func orphanInstances(ctx context.Context, clients plan.Clients, project, region string) ([]string, error) {
	in := &ec2.DescribeInstancesInput{
		Filters: []ec2types.Filter{
			{Name: aws.String("tag:" + lineage.TagProject), Values: []string{project}},
			{Name: aws.String("tag:" + lineage.TagRole), Values: []string{lineage.RoleBuild, lineage.RoleScan}},
			{Name: aws.String("instance-state-name"), Values: orphanStates},
		},
		MaxResults: aws.Int32(1000),
	}
	var ids []string
	for {
		out, err := clients.EC2(region).DescribeInstances(ctx, in)
		if err != nil {
			return nil, err
		}
		for _, res := range out.Reservations {
			for _, inst := range res.Instances {
				ids = append(ids, aws.ToString(inst.InstanceId))
			}
		}
		if aws.ToString(out.NextToken) == "" {
			return ids, nil
		}
		next := *in
		next.NextToken = out.NextToken
		in = &next
	}
}

func deleteBuildSecrets(ctx context.Context, clients plan.Clients, root, region string) ([]string, error) {
	client := clients.SSM(region)
	var names []string
	in := &ssm.GetParametersByPathInput{Path: aws.String(root), Recursive: aws.Bool(true), MaxResults: aws.Int32(10)}
	for {
		out, err := client.GetParametersByPath(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("GetParametersByPath %s: %w", root, err)
		}
		for _, p := range out.Parameters {
			names = append(names, aws.ToString(p.Name))
		}
		if aws.ToString(out.NextToken) == "" {
			break
		}
		next := *in
		next.NextToken = out.NextToken
		in = &next
	}
	var deleted []string
	for _, name := range names {
		_, err := client.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String(name)})
		var nf *ssmtypes.ParameterNotFound
		if err != nil && !errors.As(err, &nf) {
			return deleted, fmt.Errorf("DeleteParameter %s: %w", name, err)
		}
		deleted = append(deleted, name)
	}
	return deleted, nil
}
