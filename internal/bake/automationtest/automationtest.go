// Package automationtest sets up the world of the --engine automation
// tests: a small one-region project (linux with a patch block → app), its
// patch baseline applied in the sandbox, and every layer baked already —
// AMIs seeded from the sandbox's Amazon Linux image, tagged with the real
// fingerprints and published on latest — so a patch rebake has something
// to patch without running packer first.
package automationtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/amibake/amibake/internal/channel/channeltest"
	"github.com/amibake/amibake/internal/channel/channeltest/clitest"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/graph"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/sandbox"
)

// Project and Region of the test project.
const (
	Project = "patchy"
	Region  = sandbox.DefaultRegion
)

// CopyRegion is the second region of a two-region project (WithRegions).
const CopyRegion = "eu-west-1"

// WithRegions returns files with the project's regions replaced (the
// first is the build region).
func WithRegions(files map[string]string, regions ...string) map[string]string {
	out := map[string]string{}
	for k, v := range files {
		out[k] = v
	}
	quoted := make([]string, len(regions))
	for i, r := range regions {
		quoted[i] = `"` + r + `"`
	}
	out["amibake.hcl"] = strings.Replace(files["amibake.hcl"], `regions      = ["`+Region+`"]`,
		`regions      = [`+strings.Join(quoted, ", ")+`]`, 1)
	return out
}

// Paths are the project's SSM paths.
var Paths = lineage.Paths{Prefix: "/amibake", Project: Project}

// Files are the project's files; tests may change them before WriteProject.
func Files() map[string]string {
	return map[string]string{
		"amibake.hcl": `project "patchy" {
  regions      = ["` + Region + `"]
  param_prefix = "/amibake"
  default_tags = { team = "platform" }
}

patch_baseline "sec" {
  operating_system = "AMAZON_LINUX_2023"
  approval_rule {
    classification     = ["Security"]
    severity           = ["Critical", "Important"]
    approve_after_days = 0
  }
  rebake_when {
    missing_severity = ["Critical", "Important"]
  }
}
`,
		"layers/linux.hcl": `layer "linux" {
  source {
    ssm_parameter = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
  }
  recipes       = []
  instance_type = "t3.small"
  patch {
    baseline    = patch_baseline.sec
    patch_group = "golden-linux"
  }
}
`,
		"layers/app.hcl": `layer "app" {
  parent  = layer.linux
  recipes = []
}
`,
	}
}

// WriteProject writes files into a new directory.
func WriteProject(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// Load loads the project and its graph and fingerprints.
func Load(t testing.TB, dir string) (*config.Config, *graph.Graph, map[string]*graph.Fingerprint) {
	t.Helper()
	cfg, diags := config.Load(dir, config.LoadOptions{})
	if diags.HasErrors() {
		t.Fatalf("load: %v", diags)
	}
	g, diags := graph.Build(cfg)
	if diags.HasErrors() {
		t.Fatalf("graph: %v", diags)
	}
	fps, diags := graph.Fingerprints(g)
	if diags.HasErrors() {
		t.Fatalf("fingerprints: %v", diags)
	}
	return cfg, g, fps
}

// Seed applies the patch baseline (patch apply --apply) and bakes every
// layer as a packer bake would have: an available AMI with the content of
// the sandbox's Amazon Linux image and the lineage tags, on latest, and
// a copy with the same tags in each other region of the project. It
// returns the AMI of each layer in the build region.
func Seed(t testing.TB, sb *sandbox.Sandbox, dir string) map[string]string {
	t.Helper()
	if code, _, errOut := clitest.Run(t, sb, dir, "patch", "apply", "--apply"); code != 0 {
		t.Fatalf("patch apply: %d\n%s", code, errOut)
	}
	cfg, g, fps := Load(t, dir)
	project, home := cfg.Project.Name, cfg.Project.Regions[0]
	paths := lineage.Paths{Prefix: cfg.Project.ParamPrefix, Project: project}
	amis := map[string]string{}
	sb.Do(func(w *sandbox.World) {
		now := sb.Clock().Now()
		src := w.LatestAmazonLinux(home, "x86_64", false)
		if src == nil {
			t.Fatal("the sandbox has no Amazon Linux image")
		}
		for _, n := range g.Topo() {
			fp := fps[n.Name()]
			bt := lineage.BuildTags{Project: project, Layer: n.Name(), Fingerprint: fp.Hash, ParentFingerprint: fp.Parent,
				BuildID: "b-seed-" + n.Name(), PatchLevel: "pb-seed:000000000000"}
			if p := n.Layer.Parent; p != "" {
				bt.ParentAMI = amis[p]
			} else {
				bt.Source = src.ID
			}
			id := w.NewID("ami")
			snap := w.NewID("snap")
			w.EC2.Snapshots[snap] = &sandbox.Snapshot{ID: snap, Account: sandbox.DefaultAccount, Region: home, VolumeSize: 8,
				State: "completed", StartTime: now, StateSince: now, CompleteAt: now}
			w.EC2.Images[id] = &sandbox.Image{ID: id, Account: sandbox.DefaultAccount, Region: home,
				Name: project + "-" + n.Name() + "-seed", State: "available", StateSince: now, CreationDate: now, AvailableAt: now,
				Architecture: "x86_64", RootDeviceName: "/dev/xvda", Content: src.Content.Clone(), Tags: sandbox.Tags(bt.Map()),
				BlockDevices: []sandbox.BlockDevice{{DeviceName: "/dev/xvda", SnapshotID: snap, VolumeSize: 8, VolumeType: "gp3", DeleteOnTermination: true}}}
			amis[n.Name()] = id
			for _, r := range cfg.Project.Regions[1:] {
				cid, csnap := w.NewID("ami"), w.NewID("snap")
				w.EC2.Snapshots[csnap] = &sandbox.Snapshot{ID: csnap, Account: sandbox.DefaultAccount, Region: r, VolumeSize: 8,
					State: "completed", StartTime: now, StateSince: now, CompleteAt: now, Tags: sandbox.Tags(bt.Map())}
				img := *w.EC2.Images[id]
				img.ID, img.Region, img.SourceImageID, img.SourceRegion = cid, r, id, home
				img.Content, img.Tags = src.Content.Clone(), sandbox.Tags(bt.Map())
				img.BlockDevices = []sandbox.BlockDevice{{DeviceName: "/dev/xvda", SnapshotID: csnap, VolumeSize: 8, VolumeType: "gp3", DeleteOnTermination: true}}
				w.EC2.Images[cid] = &img
			}
		}
	})
	for layer, id := range amis {
		channeltest.PutChannel(t, sb, home, paths.Channel(layer, lineage.ChannelLatest), id)
	}
	return amis
}
