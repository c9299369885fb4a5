package sandbox

import (
	"fmt"
	"time"
)

// Bulk seeding for the benchmarks (bench/, issue 8). The harness fills a
// world with tens of thousands of project AMIs directly — 50,000
// CreateImage calls through the API would take minutes — persists it with
// Options.StateFile and Close, and serves that file out of process with
// `amibake sandbox serve --state FILE`. Nothing here is reachable through
// the AWS API.

// BenchImage describes one AMI to add with AddBenchImages.
type BenchImage struct {
	Region string
	Name   string
	// Tags are the image's tags; its root snapshot gets the same set, as
	// amibake tags both.
	Tags Tags
	// Created is the creation date; the zero value means now.
	Created time.Time
	// State defaults to available.
	State string
	// Deprecated, when set, is the deprecation time.
	Deprecated time.Time
	// Architecture defaults to x86_64.
	Architecture string
	// VolumeSize is the root snapshot's size in GiB, 8 by default.
	VolumeSize int
}

// AddBenchImages registers imgs as owned by account, each with one
// completed, encrypted gp3 root snapshot, the way CreateImage leaves a
// finished build, and returns their ids in order.
func (w *World) AddBenchImages(account string, now time.Time, imgs []BenchImage) ([]string, error) {
	ids := make([]string, 0, len(imgs))
	for i := range imgs {
		b := &imgs[i]
		if !w.HasRegion(b.Region) {
			return nil, fmt.Errorf("bench image %q: unknown region %q", b.Name, b.Region)
		}
		created := b.Created
		if created.IsZero() {
			created = now
		}
		state := b.State
		if state == "" {
			state = ec2ImageAvailable
		}
		arch := b.Architecture
		if arch == "" {
			arch = "x86_64"
		}
		size := b.VolumeSize
		if size == 0 {
			size = 8
		}
		img := &Image{
			ID: w.NewID("ami"), Account: account, Region: b.Region, Name: b.Name,
			State: state, StateSince: created, CreationDate: created, Architecture: arch,
			RootDeviceName: "/dev/xvda", Tags: cloneTags(b.Tags), ImdsSupport: "v2.0",
			DeprecationTime: b.Deprecated, Encrypted: true,
			SourceInstanceID: w.NewID("i"),
		}
		snap := &Snapshot{
			ID: w.NewID("snap"), Account: account, Region: b.Region, VolumeID: w.NewID("vol"), VolumeSize: size,
			State: "completed", StartTime: created, StateSince: created, Encrypted: true,
			Description: fmt.Sprintf("Created by CreateImage(%s) for %s", img.SourceInstanceID, img.ID),
			Tags:        cloneTags(b.Tags),
		}
		img.BlockDevices = []BlockDevice{{
			DeviceName: "/dev/xvda", SnapshotID: snap.ID, VolumeSize: size, VolumeType: "gp3",
			Encrypted: true, DeleteOnTermination: true,
		}}
		w.EC2.Images[img.ID] = img
		w.EC2.Snapshots[snap.ID] = snap
		ids = append(ids, img.ID)
	}
	return ids, nil
}

// PutBenchParameter writes (or adds a version to) a String parameter of
// account in region, as PutParameter with Overwrite would; dataType is
// "text" or "aws:ec2:image".
func (w *World) PutBenchParameter(account, region, name, value, dataType string, at time.Time) {
	if dataType == "" {
		dataType = "text"
	}
	sc := w.ssmScope(account, region)
	p := sc.Parameters[name]
	if p == nil {
		p = &Parameter{Name: name, Account: account, Region: region}
		sc.Parameters[name] = p
	}
	p.Versions = append(p.Versions, &ParameterVersion{
		Version: len(p.Versions) + 1, Value: value, Type: "String", DataType: dataType, Tier: "Standard",
		Modified: at, User: "arn:aws:iam::" + account + ":user/amibake",
	})
}

// PublicParameterValue is the current value of an AWS public parameter
// (/aws/service/...) in region, "" when there is none.
func (w *World) PublicParameterValue(region, name string) string {
	p := w.SSM.Public[region][name]
	if p == nil || len(p.Versions) == 0 {
		return ""
	}
	return p.Versions[len(p.Versions)-1].Value
}
