// Package inventorytest arranges what the inventory tests need in a
// sandbox: AMIs with content and recipe tags, an inventory bucket, and
// documents recorded the way a bake records them (an instance launched from
// the AMI, its AWS:Application inventory collected, the document stored).
package inventorytest

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/inventory"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/sandbox"
)

// CreateBucket makes an inventory bucket of the default account in region.
func CreateBucket(t testing.TB, sb *sandbox.Sandbox, region, bucket string) {
	t.Helper()
	sb.Do(func(w *sandbox.World) { w.CreateBucket(sandbox.DefaultAccount, region, bucket, sb.Clock().Now()) })
}

// SetContent gives AMIs a package set (name → [epoch:]version-release) and
// an amibake:recipes tag, as baking those recipes would have.
func SetContent(t testing.TB, sb *sandbox.Sandbox, ids []string, pkgs map[string]string, recipes []lineage.RecipeVersion) {
	t.Helper()
	sb.Do(func(w *sandbox.World) {
		for _, id := range ids {
			img := w.EC2.Images[id]
			if img == nil {
				t.Fatalf("inventorytest: no image %s", id)
			}
			img.Content = sandbox.Content{Packages: map[string]string{}}
			for k, v := range pkgs {
				img.Content.Packages[k] = v
			}
			if recipes != nil {
				img.Tags[lineage.TagRecipes] = lineage.FormatRecipes(recipes)
			}
		}
	})
}

// Record launches an instance from ami (in region), collects its inventory
// through SSM, stores the document in bucket with the checksum tag on the
// AMI, and terminates the instance: the bake's inventory step.
func Record(t testing.TB, sb *sandbox.Sandbox, region, bucket, project, ami string) (*inventory.Document, *inventory.Stored) {
	t.Helper()
	ctx := context.Background()
	var instanceID string
	sb.Do(func(w *sandbox.World) {
		inst, err := w.RunInstance(sandbox.LaunchSpec{Account: sandbox.DefaultAccount, Region: region, ImageID: ami, InstanceType: "t3.small",
			Tags: sandbox.Tags{lineage.TagRole: lineage.RoleBuild}}, sb.Clock().Now())
		if err != nil {
			t.Fatalf("inventorytest: launch from %s: %v", ami, err)
		}
		instanceID = inst.ID
	})
	var pending time.Duration
	sb.Do(func(w *sandbox.World) { pending = w.Timing.InstancePending })
	sb.AdvanceClock(pending)
	clients := awsapi.NewClients(sb.Config)
	ssmClient := ssm.NewFromConfig(sb.Config, func(o *ssm.Options) { o.Region = region })
	pkgs, err := inventory.Collect(ctx, ssmClient, instanceID)
	if err != nil {
		t.Fatalf("inventorytest: collect: %v", err)
	}
	found, err := lineage.DescribeIDs(ctx, clients.EC2(region), region, []string{ami})
	if err != nil || found[ami].ID == "" {
		t.Fatalf("inventorytest: describe %s: %v", ami, err)
	}
	doc := inventory.NewDocument(found[ami], instanceID, pkgs, sb.Clock().Now())
	stored, err := inventory.Store(ctx, clients.S3(region), clients.EC2(region), bucket, project, doc)
	if err != nil {
		t.Fatalf("inventorytest: store: %v", err)
	}
	sb.Do(func(w *sandbox.World) { w.TerminateInstance(w.EC2.Instances[instanceID], sb.Clock().Now()) })
	return doc, stored
}
