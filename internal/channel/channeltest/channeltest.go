// Package channeltest arranges what the channel, lineage and revoke tests
// need: a copy of the example project, the CLI run in-process against a
// sandbox, and seeded families of AMIs with lineage tags.
package channeltest

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/sandbox"
)

// Project is the example project's name and prefix.
const (
	Project = "acme-golden"
	Prefix  = "/amibake"
)

// Regions of the example project, build region first.
var Regions = []string{"us-east-1", "eu-west-1"}

// RepoRoot is the module root.
func RepoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("channeltest: no caller")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", ".."))
}

// CopyProject copies the example project at the repository root (its
// *.hcl files, layers/, recipes/, fleets/, templates/) into a temporary
// directory and returns it.
func CopyProject(t testing.TB) string {
	t.Helper()
	src := RepoRoot(t)
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatalf("copy project: %v", err)
	}
	for _, e := range entries {
		if !e.IsDir() && filepath.Ext(e.Name()) == ".hcl" {
			copyFile(t, filepath.Join(src, e.Name()), filepath.Join(dst, e.Name()))
		}
	}
	for _, d := range []string{"layers", "recipes", "fleets", "templates"} {
		root := filepath.Join(src, d)
		if _, err := os.Stat(root); err != nil {
			continue
		}
		err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(src, p)
			if e.IsDir() {
				return os.MkdirAll(filepath.Join(dst, rel), 0o755)
			}
			copyFile(t, p, filepath.Join(dst, rel))
			return nil
		})
		if err != nil {
			t.Fatalf("copy project: %v", err)
		}
	}
	return dst
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatalf("copy project: %v", err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatalf("copy project: %v", err)
	}
}

// Build is one seeded build of a layer: its AMI per region.
type Build struct {
	Layer       string
	Fingerprint string
	BuildID     string
	IDs         map[string]string // region → AMI id
}

// Home is the AMI in the build region.
func (b Build) Home() string { return b.IDs[Regions[0]] }

// All returns the AMI ids of every region, build region first.
func (b Build) All() []string {
	var out []string
	for _, r := range Regions {
		if id := b.IDs[r]; id != "" {
			out = append(out, id)
		}
	}
	return out
}

// SeedBuild adds an available AMI of layer in each region, tagged as bake
// tags them: copies carry the build region's tags, so amibake:parent-ami
// names the parent's build-region AMI everywhere. parent nil makes a root
// built from source.
func SeedBuild(t testing.TB, sb *sandbox.Sandbox, project, layer, buildID string, parent *Build, source string, regions ...string) Build {
	t.Helper()
	if len(regions) == 0 {
		regions = Regions
	}
	b := Build{Layer: layer, Fingerprint: "fp-" + layer + "-" + buildID, BuildID: buildID, IDs: map[string]string{}}
	bt := lineage.BuildTags{Project: project, Layer: layer, Fingerprint: b.Fingerprint, BuildID: buildID}
	if parent != nil {
		bt.ParentAMI = parent.Home()
		bt.ParentFingerprint = parent.Fingerprint
	} else {
		bt.Source = source
	}
	sb.Do(func(w *sandbox.World) {
		now := sb.Clock().Now()
		for _, r := range regions {
			id := w.NewID("ami")
			w.EC2.Images[id] = &sandbox.Image{
				ID: id, Account: sandbox.DefaultAccount, Region: r,
				Name:  project + "-" + layer + "-" + buildID,
				State: "available", StateSince: now, CreationDate: now, AvailableAt: now,
				Architecture: "x86_64", RootDeviceName: "/dev/xvda", Tags: sandbox.Tags(bt.Map()),
			}
			b.IDs[r] = id
		}
	})
	return b
}

// Family is the example layer tree seeded once: linux → foundation → base
// → {app-web, app-worker}, plus an older linux build with its own
// foundation (a separate family revoke must never touch).
type Family struct {
	Source                                     string
	Linux, Foundation, Base, AppWeb, AppWorker Build
	OldLinux, OldFoundation                    Build
}

// SeedFamily seeds a Family for project in both regions.
func SeedFamily(t testing.TB, sb *sandbox.Sandbox, project, source string) Family {
	t.Helper()
	var f Family
	f.Source = source
	f.OldLinux = SeedBuild(t, sb, project, "linux", "b0", nil, source)
	f.OldFoundation = SeedBuild(t, sb, project, "foundation", "b0", &f.OldLinux, "")
	f.Linux = SeedBuild(t, sb, project, "linux", "b1", nil, source)
	f.Foundation = SeedBuild(t, sb, project, "foundation", "b1", &f.Linux, "")
	f.Base = SeedBuild(t, sb, project, "base", "b1", &f.Foundation, "")
	f.AppWeb = SeedBuild(t, sb, project, "app-web", "b1", &f.Base, "")
	f.AppWorker = SeedBuild(t, sb, project, "app-worker", "b2", &f.Base, "")
	return f
}

// Image returns a copy of the sandbox's image id (nil when absent).
func Image(sb *sandbox.Sandbox, id string) *sandbox.Image {
	var out *sandbox.Image
	sb.Do(func(w *sandbox.World) {
		if img := w.EC2.Images[id]; img != nil {
			c := *img
			c.Tags = sandbox.Tags{}
			for k, v := range img.Tags {
				c.Tags[k] = v
			}
			out = &c
		}
	})
	return out
}

// PutChannel writes a channel parameter (aws:ec2:image) as bake does.
func PutChannel(t testing.TB, sb *sandbox.Sandbox, region, name, ami string) {
	t.Helper()
	_, err := awsapi.NewClients(sb.Config).SSM(region).PutParameter(context.Background(), &ssm.PutParameterInput{
		Name: aws.String(name), Value: aws.String(ami), Type: ssmtypes.ParameterTypeString,
		DataType: aws.String("aws:ec2:image"), Overwrite: aws.Bool(true),
	})
	if err != nil {
		t.Fatalf("put channel %s: %v", name, err)
	}
}
