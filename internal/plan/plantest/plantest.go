// Package plantest arranges sandbox state for tests of plan and of the
// commands built on it: what a finished bake leaves in AWS.
package plantest

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/graph"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/plan"
	"github.com/amibake/amibake/internal/sandbox"
)

// SeedBake puts into the sandbox what a successful bake of every layer of
// g leaves: an available AMI per layer and region with the lineage tags
// bake renders (root layers built from source), and each layer's latest
// channel in its build region. It returns the AMI ids by "layer/region".
func SeedBake(t testing.TB, sb *sandbox.Sandbox, cfg *config.Config, g *graph.Graph, fps map[string]*graph.Fingerprint, source, buildID string) map[string]string {
	t.Helper()
	ids := map[string]string{}
	sb.Do(func(w *sandbox.World) {
		now := sb.Clock().Now()
		for _, n := range g.Topo() {
			fp := fps[n.Name()]
			if fp == nil {
				continue
			}
			regions := plan.Regions(cfg, n.Layer)
			var recipes []lineage.RecipeVersion
			for _, ref := range n.Layer.Recipes {
				recipes = append(recipes, lineage.RecipeVersion{Name: ref.Name, Version: cfg.Recipes[ref.Name].Version})
			}
			bt := lineage.BuildTags{
				Project: cfg.Project.Name, Layer: n.Name(), Fingerprint: fp.Hash, ParentFingerprint: fp.Parent,
				Recipes: recipes, RecipeDigests: plan.RecipeDigests(fp), SettingsDigest: plan.SettingsDigest(fp), BuildID: buildID,
			}
			if n.IsRoot() {
				bt.Source = source
			} else {
				bt.ParentAMI = ids[n.Parent.Name()+"/"+regions[0]]
			}
			for _, r := range regions {
				id := w.NewID("ami")
				w.EC2.Images[id] = &sandbox.Image{
					ID: id, Account: sandbox.DefaultAccount, Region: r,
					Name:  cfg.Project.Name + "-" + n.Name() + "-" + fp.Short + "-" + buildID,
					State: "available", StateSince: now, CreationDate: now, AvailableAt: now,
					Architecture: "x86_64", RootDeviceName: "/dev/xvda", Tags: sandbox.Tags(bt.Map()),
				}
				ids[n.Name()+"/"+r] = id
			}
		}
	})
	paths := lineage.Paths{Prefix: cfg.Project.ParamPrefix, Project: cfg.Project.Name}
	for _, n := range g.Topo() {
		home := plan.Regions(cfg, n.Layer)[0]
		if id := ids[n.Name()+"/"+home]; id != "" {
			PutParameter(t, sb, home, paths.Channel(n.Name(), lineage.ChannelLatest), id)
		}
	}
	return ids
}

// PutParameter writes an aws:ec2:image String parameter through the SSM API.
func PutParameter(t testing.TB, sb *sandbox.Sandbox, region, name, value string) {
	t.Helper()
	_, err := awsapi.NewClients(sb.Config).SSM(region).PutParameter(context.Background(), &ssm.PutParameterInput{
		Name: aws.String(name), Value: aws.String(value), Type: ssmtypes.ParameterTypeString,
		DataType: aws.String("aws:ec2:image"), Overwrite: aws.Bool(true),
	})
	if err != nil {
		t.Fatalf("PutParameter %s: %v", name, err)
	}
}

// LatestAL2023 is the AMI the public AL2023 x86_64 parameter points at.
func LatestAL2023(sb *sandbox.Sandbox, region string) string {
	var id string
	sb.Do(func(w *sandbox.World) {
		if img := w.LatestAmazonLinux(region, "x86_64", false); img != nil {
			id = img.ID
		}
	})
	return id
}
