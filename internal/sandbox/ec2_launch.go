package sandbox

import (
	"fmt"
	"time"
)

// ec2PlannedVolume is one volume RunInstance will create, resolved from the
// image's mappings and the launch's overrides before anything is created.
type ec2PlannedVolume struct {
	Device              string
	SnapshotID          string
	Size                int
	Type                string
	Iops                int
	Throughput          int
	Encrypted           bool
	KMSKeyID            string
	DeleteOnTermination bool
}

// launchVolumes merges an image's block-device mappings with requested
// overrides (matched by device name), as EC2 does: NoDevice drops a
// mapping, sizes may only grow, an encrypted snapshot gives an encrypted
// volume, and extra devices without a snapshot need a size.
func (w *World) launchVolumes(img *Image, overrides []BlockDeviceSpec) ([]ec2PlannedVolume, *APIError) {
	var out []ec2PlannedVolume
	used := map[string]bool{}
	for _, bd := range img.BlockDevices {
		pv := ec2PlannedVolume{Device: bd.DeviceName, SnapshotID: bd.SnapshotID, Size: bd.VolumeSize, Type: bd.VolumeType,
			Encrypted: bd.Encrypted, KMSKeyID: bd.KMSKeyID, DeleteOnTermination: bd.DeleteOnTermination}
		if pv.Type == "" {
			pv.Type = "gp2"
		}
		drop := false
		for _, o := range overrides {
			if o.DeviceName != bd.DeviceName {
				continue
			}
			used[o.DeviceName] = true
			if o.NoDevice {
				drop = true
				break
			}
			if e := ec2ApplyBlockDeviceSpec(&pv, o, bd.VolumeSize); e != nil {
				return nil, e
			}
		}
		if drop {
			if bd.DeviceName == img.RootDeviceName {
				return nil, Errorf("InvalidBlockDeviceMapping", "The device '%s' is the root device and cannot be suppressed", bd.DeviceName)
			}
			continue
		}
		out = append(out, pv)
	}
	for _, o := range overrides {
		if used[o.DeviceName] || o.NoDevice {
			continue
		}
		if o.DeviceName == "" {
			return nil, errMissingParameter("BlockDeviceMapping.DeviceName")
		}
		used[o.DeviceName] = true
		pv := ec2PlannedVolume{Device: o.DeviceName, Type: "gp2", DeleteOnTermination: true}
		minSize := 0
		if o.SnapshotID != "" {
			snap := w.EC2.Snapshots[o.SnapshotID]
			if snap == nil || snap.Region != img.Region {
				return nil, Errorf("InvalidSnapshot.NotFound", "The snapshot '%s' does not exist.", o.SnapshotID)
			}
			pv.SnapshotID, pv.Size, pv.Encrypted, pv.KMSKeyID = snap.ID, snap.VolumeSize, snap.Encrypted, snap.KMSKeyID
			minSize = snap.VolumeSize
		} else if o.VolumeSize == 0 {
			return nil, Errorf("InvalidBlockDeviceMapping", "The device '%s' needs a VolumeSize or a SnapshotId", o.DeviceName)
		}
		if e := ec2ApplyBlockDeviceSpec(&pv, o, minSize); e != nil {
			return nil, e
		}
		out = append(out, pv)
	}
	return out, nil
}

func ec2ApplyBlockDeviceSpec(pv *ec2PlannedVolume, o BlockDeviceSpec, minSize int) *APIError {
	if o.VolumeSize != 0 {
		if o.VolumeSize < minSize {
			return Errorf("InvalidBlockDeviceMapping", "Volume of size %dGB is smaller than snapshot '%s', expect size >= %dGB", o.VolumeSize, pv.SnapshotID, minSize)
		}
		if o.VolumeSize < 1 || o.VolumeSize > 16384 {
			return errInvalidParameterValue("Volume size %d is out of range (1-16384 GiB)", o.VolumeSize)
		}
		pv.Size = o.VolumeSize
	}
	if o.VolumeType != "" {
		if !ec2ValidVolumeType(o.VolumeType) {
			return errInvalidParameterValue("Value (%s) for parameter volumeType is invalid. Valid values: standard, io1, io2, gp2, gp3, sc1, st1", o.VolumeType)
		}
		pv.Type = o.VolumeType
	}
	if o.Iops != 0 {
		pv.Iops = o.Iops
	}
	if o.Throughput != 0 {
		pv.Throughput = o.Throughput
	}
	if o.Encrypted != nil {
		if !*o.Encrypted && pv.Encrypted {
			return Errorf("InvalidBlockDeviceMapping", "the encrypted flag cannot be turned off for a volume restored from an encrypted snapshot")
		}
		pv.Encrypted = *o.Encrypted
	}
	if o.KMSKeyID != "" {
		if !pv.Encrypted {
			return Errorf("InvalidParameterDependency", "The parameter KmsKeyId requires the parameter Encrypted to be set.")
		}
		pv.KMSKeyID = o.KMSKeyID
	}
	if o.DeleteOnTermination != nil {
		pv.DeleteOnTermination = *o.DeleteOnTermination
	}
	return nil
}

func ec2ValidVolumeType(t string) bool {
	switch t {
	case "standard", "io1", "io2", "gp2", "gp3", "sc1", "st1":
		return true
	}
	return false
}

// completeLaunch finishes an instance RunInstance built: reservation,
// metadata options, user data and its volumes.
func (w *World) completeLaunch(inst *Instance, spec LaunchSpec, volumes []ec2PlannedVolume, now time.Time) {
	inst.ReservationID = spec.ReservationID
	if inst.ReservationID == "" {
		inst.ReservationID = w.NewID("r")
	}
	inst.LaunchIndex = spec.LaunchIndex
	inst.HTTPEndpoint = spec.HTTPEndpoint
	if inst.HTTPEndpoint == "" {
		inst.HTTPEndpoint = "enabled"
	}
	inst.HTTPPutResponseHopLimit = spec.HTTPPutResponseHopLimit
	if inst.HTTPPutResponseHopLimit == 0 {
		inst.HTTPPutResponseHopLimit = 2
	}
	inst.UserData = spec.UserData
	for i, pv := range volumes {
		vol := &Volume{
			ID: w.NewID("vol"), Account: inst.Account, Region: inst.Region, AZ: inst.AZ,
			Size: pv.Size, Type: pv.Type, State: "in-use", InstanceID: inst.ID, SnapshotID: pv.SnapshotID,
			Encrypted: pv.Encrypted, KMSKeyID: pv.KMSKeyID, Iops: pv.Iops, Throughput: pv.Throughput,
			Device: pv.Device, DeleteOnTermination: pv.DeleteOnTermination, CreateTime: now,
			Tags: cloneTags(spec.VolumeTags), VisibleAt: inst.VisibleAt,
		}
		if vol.Encrypted && vol.KMSKeyID == "" {
			vol.KMSKeyID = ec2DefaultEBSKey(inst.Account, inst.Region)
		}
		if vol.Type == "gp3" {
			if vol.Iops == 0 {
				vol.Iops = 3000
			}
			if vol.Throughput == 0 {
				vol.Throughput = 125
			}
		}
		w.EC2.Volumes[vol.ID] = vol
		inst.BlockDevices = append(inst.BlockDevices, InstanceBlockDevice{
			DeviceName: pv.Device, VolumeID: vol.ID, DeleteOnTermination: pv.DeleteOnTermination, AttachTime: now,
		})
		if i == 0 {
			inst.RootVolumeID = vol.ID
		}
	}
}

// releaseInstanceVolumes runs when an instance reaches terminated: volumes
// marked DeleteOnTermination go away, the others are detached.
func (w *World) releaseInstanceVolumes(inst *Instance) {
	if len(inst.BlockDevices) == 0 && inst.RootVolumeID != "" {
		// Instances from older state files: root volume only.
		delete(w.EC2.Volumes, inst.RootVolumeID)
		return
	}
	for _, bd := range inst.BlockDevices {
		v := w.EC2.Volumes[bd.VolumeID]
		if v == nil {
			continue
		}
		if bd.DeleteOnTermination {
			delete(w.EC2.Volumes, v.ID)
			continue
		}
		v.State, v.InstanceID, v.Device = "available", "", ""
	}
}

// ec2DefaultEBSKey is the ARN of the account's AWS-managed EBS key
// (alias/aws/ebs) in a region.
func ec2DefaultEBSKey(account, region string) string {
	return fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", region, account, "aws-ebs-default-key-0000000000")
}
