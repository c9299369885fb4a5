package sandbox

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// registerEC2 wires the EC2 Query API actions. Each family lives in its own
// file: ec2_images.go, ec2_instances.go, ec2_templates.go, ec2_misc.go.
func (s *Server) registerEC2() {
	s.addTicker(func(w *World, now time.Time) { w.tickInstances(now) })
	s.addTicker(func(w *World, now time.Time) { w.ec2TickImages(now) })
	s.addTicker(func(w *World, now time.Time) { w.ec2TickPendingTags(now) })

	// Images and snapshots.
	s.ec2("DescribeImages", ec2DescribeImages)
	s.ec2("CreateImage", ec2CreateImage)
	s.ec2("CopyImage", ec2CopyImage)
	s.ec2("DeregisterImage", ec2DeregisterImage)
	s.ec2("DescribeImageAttribute", ec2DescribeImageAttribute)
	s.ec2("ModifyImageAttribute", ec2ModifyImageAttribute)
	s.ec2("ResetImageAttribute", ec2ResetImageAttribute)
	s.ec2("EnableImageDeprecation", ec2EnableImageDeprecation)
	s.ec2("DisableImageDeprecation", ec2DisableImageDeprecation)
	s.ec2("DescribeSnapshots", ec2DescribeSnapshots)
	s.ec2("CreateSnapshot", ec2CreateSnapshot)
	s.ec2("DeleteSnapshot", ec2DeleteSnapshot)
	s.ec2("DescribeSnapshotAttribute", ec2DescribeSnapshotAttribute)
	s.ec2("ModifySnapshotAttribute", ec2ModifySnapshotAttribute)

	// Instances.
	s.ec2("RunInstances", ec2RunInstances)
	s.ec2("DescribeInstances", ec2DescribeInstances)
	s.ec2("DescribeInstanceStatus", ec2DescribeInstanceStatus)
	s.ec2("StartInstances", ec2StartInstances)
	s.ec2("StopInstances", ec2StopInstances)
	s.ec2("TerminateInstances", ec2TerminateInstances)
	s.ec2("RebootInstances", ec2RebootInstances)
	s.ec2("ModifyInstanceAttribute", ec2ModifyInstanceAttribute)
	s.ec2("DescribeInstanceAttribute", ec2DescribeInstanceAttribute)

	// Launch templates.
	s.ec2("CreateLaunchTemplate", ec2CreateLaunchTemplate)
	s.ec2("CreateLaunchTemplateVersion", ec2CreateLaunchTemplateVersion)
	s.ec2("DescribeLaunchTemplates", ec2DescribeLaunchTemplates)
	s.ec2("DescribeLaunchTemplateVersions", ec2DescribeLaunchTemplateVersions)
	s.ec2("ModifyLaunchTemplate", ec2ModifyLaunchTemplate)
	s.ec2("DeleteLaunchTemplate", ec2DeleteLaunchTemplate)
	s.ec2("DeleteLaunchTemplateVersions", ec2DeleteLaunchTemplateVersions)

	// Key pairs, security groups, tags, volumes, networking, regions.
	s.ec2("CreateKeyPair", ec2CreateKeyPair)
	s.ec2("ImportKeyPair", ec2ImportKeyPair)
	s.ec2("DescribeKeyPairs", ec2DescribeKeyPairs)
	s.ec2("DeleteKeyPair", ec2DeleteKeyPair)
	s.ec2("CreateSecurityGroup", ec2CreateSecurityGroup)
	s.ec2("DescribeSecurityGroups", ec2DescribeSecurityGroups)
	s.ec2("AuthorizeSecurityGroupIngress", ec2AuthorizeSecurityGroupIngress)
	s.ec2("RevokeSecurityGroupIngress", ec2RevokeSecurityGroupIngress)
	s.ec2("DeleteSecurityGroup", ec2DeleteSecurityGroup)
	s.ec2("CreateTags", ec2CreateTags)
	s.ec2("DeleteTags", ec2DeleteTags)
	s.ec2("DescribeTags", ec2DescribeTags)
	s.ec2("DescribeVolumes", ec2DescribeVolumes)
	s.ec2("DeleteVolume", ec2DeleteVolume)
	s.ec2("DescribeVpcs", ec2DescribeVpcs)
	s.ec2("DescribeSubnets", ec2DescribeSubnets)
	s.ec2("DescribeRegions", ec2DescribeRegions)
	s.ec2("DescribeAvailabilityZones", ec2DescribeAvailabilityZones)
	s.ec2("DescribeAccountAttributes", ec2DescribeAccountAttributes)
	s.ec2("DescribeInstanceTypeOfferings", ec2DescribeInstanceTypeOfferings)

	s.registerEC2Admin()
}

// ec2 registers an EC2 action behind the checks every EC2 action shares:
// DryRun answers DryRunOperation (the caller is always authorised here).
func (s *Server) ec2(action string, h Handler) {
	s.handle(svcEC2, action, func(c *Call) (any, error) {
		if formBool(c.Form, "DryRun") {
			return nil, &APIError{Status: 412, Code: "DryRunOperation", Message: "Request would have succeeded, but DryRun flag is set.", Sender: true}
		}
		return h(c)
	})
}

// Amazon Linux 2023 images as every region holds them.
const (
	ec2Al2023Kernel = "6.1"
	// ec2Al2023DeprecateAfter is when Amazon deprecates a public AL2023 image
	// after its release.
	ec2Al2023DeprecateAfter = 90 * 24 * time.Hour
)

// AmazonLinuxArchitectures are the architectures every release ships for.
var AmazonLinuxArchitectures = []string{"x86_64", "arm64"}

// ec2SeededReleases are how long before the world's start each seeded AL2023
// release came out, oldest first, with its minor version.
var ec2SeededReleases = []struct {
	minor int
	ago   time.Duration
}{
	{6, 130 * 24 * time.Hour},
	{7, 82 * 24 * time.Hour},
	{8, 40 * 24 * time.Hour},
	{9, 11 * 24 * time.Hour},
}

// seedEC2 fills a new world with what every region holds: public Amazon
// Linux 2023 images (x86_64 and arm64, standard and minimal, several
// releases) and DefaultAccount's default VPCs.
func (w *World) seedEC2(start time.Time) {
	for _, r := range w.Regions {
		w.ensureDefaultVPC(DefaultAccount, r)
	}
	for _, rel := range ec2SeededReleases {
		day := start.Add(-rel.ago).UTC().Truncate(24 * time.Hour).Add(17 * time.Hour)
		release := fmt.Sprintf("2023.%d.%s", rel.minor, day.Format("20060102"))
		w.PublishAmazonLinuxRelease(release, day)
	}
}

// AmazonLinuxImageName is the public AMI name of an AL2023 release
// ("2023.6.20241010") for an architecture, as AWS names them.
func AmazonLinuxImageName(release, arch string, minimal bool) string {
	variant := ""
	if minimal {
		variant = "minimal-"
	}
	return fmt.Sprintf("al2023-ami-%s%s.0-kernel-%s-%s", variant, release, ec2Al2023Kernel, arch)
}

// PublishAmazonLinuxRelease adds the public AL2023 images of a release
// ("2023.7.20250101") to every region, created at now, as Amazon does when
// it ships one. It returns the standard images keyed "region/arch" and the
// minimal ones keyed "region/minimal/arch". Publishing a release twice
// returns the existing images.
func (w *World) PublishAmazonLinuxRelease(release string, now time.Time) map[string]*Image {
	release = strings.TrimSuffix(release, ".0")
	out := map[string]*Image{}
	for _, region := range w.Regions {
		for _, arch := range AmazonLinuxArchitectures {
			for _, minimal := range []bool{false, true} {
				img := w.ec2PublishAmazonImage(region, release, arch, minimal, now)
				key := region + "/" + arch
				if minimal {
					key = region + "/minimal/" + arch
				}
				out[key] = img
			}
		}
	}
	return out
}

func (w *World) ec2PublishAmazonImage(region, release, arch string, minimal bool, now time.Time) *Image {
	name := AmazonLinuxImageName(release, arch, minimal)
	for _, img := range w.EC2.Images {
		if img.Region == region && img.Account == AmazonAccount && img.Name == name && img.State != ec2ImageDeregistered {
			return img
		}
	}
	variant := ""
	if minimal {
		variant = " Minimal"
	}
	snap := &Snapshot{
		ID: w.NewID("snap"), Account: AmazonAccount, Region: region, VolumeID: "vol-ffffffff",
		VolumeSize: 8, State: "completed", StartTime: now, StateSince: now,
		Description: fmt.Sprintf("Amazon Linux 2023 AMI %s.0 %s%s HVM kernel-%s", release, arch, variant, ec2Al2023Kernel),
	}
	w.EC2.Snapshots[snap.ID] = snap
	img := &Image{
		ID: w.NewID("ami"), Account: AmazonAccount, OwnerAlias: "amazon", Region: region, Name: name,
		Description:  fmt.Sprintf("Amazon Linux 2023 AMI %s.0 %s%s HVM kernel-%s", release, arch, variant, ec2Al2023Kernel),
		State:        ec2ImageAvailable,
		StateSince:   now,
		CreationDate: now,
		Architecture: arch, RootDeviceName: "/dev/xvda",
		BlockDevices: []BlockDevice{{DeviceName: "/dev/xvda", SnapshotID: snap.ID, VolumeSize: 8, VolumeType: "gp3", DeleteOnTermination: true}},
		Public:       true,
		ImdsSupport:  "v2.0",
		Content:      Content{Packages: w.Catalogue.JeOSPackages(release)},
		AvailableAt:  now,
	}
	img.DeprecationTime = now.Add(ec2Al2023DeprecateAfter).Truncate(time.Minute)
	if img.Content.Packages == nil {
		img.Content.Packages = map[string]string{}
	}
	w.EC2.Images[img.ID] = img
	return img
}

// LatestAmazonLinux returns the newest available public AL2023 image of a
// region and architecture (what /aws/service/ami-amazon-linux-latest/
// parameters point at), or nil.
func (w *World) LatestAmazonLinux(region, arch string, minimal bool) *Image {
	var best *Image
	for _, img := range w.EC2.Images {
		if img.Region != region || img.Account != AmazonAccount || img.Architecture != arch || img.State != ec2ImageAvailable {
			continue
		}
		if strings.HasPrefix(img.Name, "al2023-ami-minimal-") != minimal || !strings.HasPrefix(img.Name, "al2023-ami-") {
			continue
		}
		if best == nil || img.CreationDate.After(best.CreationDate) || (img.CreationDate.Equal(best.CreationDate) && img.ID > best.ID) {
			best = img
		}
	}
	return best
}

// AmazonLinuxReleases lists the AL2023 releases published in region,
// oldest first.
func (w *World) AmazonLinuxReleases(region string) []string {
	seen := map[string]time.Time{}
	for _, img := range w.EC2.Images {
		if img.Region != region || img.Account != AmazonAccount || !strings.HasPrefix(img.Name, "al2023-ami-2023.") {
			continue
		}
		rel := strings.TrimPrefix(img.Name, "al2023-ami-")
		if i := strings.Index(rel, ".0-kernel-"); i > 0 {
			seen[rel[:i]] = img.CreationDate
		}
	}
	out := make([]string, 0, len(seen))
	for r := range seen {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return seen[out[i]].Before(seen[out[j]]) })
	return out
}
