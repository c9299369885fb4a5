// Package inventorytest arranges what the inventory tests need in a
// sandbox: AMIs with content and recipe tags, an inventory bucket, and
// documents recorded the way a bake records them (an instance launched from
// the AMI, its AWS:Application inventory collected, the document stored).
package inventorytest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/channel/channeltest"
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
	pkgs, err := inventory.Collect(ctx, clients.SSMInventory(region), instanceID)
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

// Bucket is the inventory bucket the scenario uses.
const Bucket = "acme-amibake-inventory"

// BasePackages is the package set of the scenario's older app-web AMI.
var BasePackages = map[string]string{
	"amazon-ssm-agent": "3.3.1142.0-1.amzn2023",
	"bash":             "5.2.15-1.amzn2023.0.2",
	"nginx":            "1:1.24.0-1.amzn2023.0.2",
	"openssl-libs":     "1:3.0.8-1.amzn2023.0.14",
}

// Scenario is two builds of app-web: Old (stable) runs nginx_runtime 1.3.0;
// New (latest) runs nginx_runtime 1.4.0, which installs one more package,
// jq 1.7.1-1.amzn2023.0.1. Both inventories are recorded.
type Scenario struct {
	Family   channeltest.Family
	Old, New channeltest.Build
}

// SeedScenario seeds the example family, the two app-web builds with their
// channels, the bucket and both inventories.
func SeedScenario(t testing.TB, sb *sandbox.Sandbox) Scenario {
	t.Helper()
	region := channeltest.Regions[0]
	fam := channeltest.SeedFamily(t, sb, channeltest.Project, "ami-source")
	s := Scenario{Family: fam, Old: fam.AppWeb}
	s.New = channeltest.SeedBuild(t, sb, channeltest.Project, "app-web", "b3", &fam.Base, "")
	SetContent(t, sb, s.Old.All(), BasePackages, []lineage.RecipeVersion{{Name: "nginx_runtime", Version: "1.3.0"}})
	newer := map[string]string{"jq": "1.7.1-1.amzn2023.0.1"}
	for k, v := range BasePackages {
		newer[k] = v
	}
	SetContent(t, sb, s.New.All(), newer, []lineage.RecipeVersion{{Name: "nginx_runtime", Version: "1.4.0"}})
	paths := lineage.Paths{Prefix: channeltest.Prefix, Project: channeltest.Project}
	channeltest.PutChannel(t, sb, region, paths.Channel("app-web", lineage.ChannelStable), s.Old.Home())
	channeltest.PutChannel(t, sb, region, paths.Channel("app-web", lineage.ChannelLatest), s.New.Home())
	CreateBucket(t, sb, region, Bucket)
	Record(t, sb, region, Bucket, channeltest.Project, s.Old.Home())
	Record(t, sb, region, Bucket, channeltest.Project, s.New.Home())
	return s
}

// WithBucket makes the copied example project name the scenario's bucket
// as its inventory_bucket.
func WithBucket(t testing.TB, dir string) {
	t.Helper()
	p := filepath.Join(dir, "amibake.hcl")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("inventorytest: %v", err)
	}
	const anchor = `provisioner = "ssm"`
	if !strings.Contains(string(data), anchor) {
		t.Fatalf("inventorytest: %s has no %s line", p, anchor)
	}
	data = []byte(strings.Replace(string(data), anchor, anchor+"\n  inventory_bucket = \""+Bucket+"\"", 1))
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatalf("inventorytest: %v", err)
	}
}
