package sandbox

import (
	"fmt"
	"time"
)

// EC2State is every EC2 resource in every account and region. Ids are
// globally unique, so maps are keyed by id; each resource carries its
// Account and Region.
type EC2State struct {
	Instances       map[string]*Instance       `json:"instances"`
	Images          map[string]*Image          `json:"images"`
	Snapshots       map[string]*Snapshot       `json:"snapshots"`
	Volumes         map[string]*Volume         `json:"volumes"`
	KeyPairs        map[string]*KeyPair        `json:"key_pairs"`
	SecurityGroups  map[string]*SecurityGroup  `json:"security_groups"`
	LaunchTemplates map[string]*LaunchTemplate `json:"launch_templates"`
	VPCs            map[string]*VPC            `json:"vpcs"`
	Subnets         map[string]*Subnet         `json:"subnets"`
	// PendingTags are tag writes hidden by an eventual-consistency fault
	// until ApplyAt (ec2_common.go).
	PendingTags []PendingTag `json:"pending_tags,omitempty"`

	// gen and the lookups derived from the maps above (ec2_index.go).
	gen        uint64
	pendingSet *ec2PendingSet
	imgIndex   *ec2ImageIndex
}

// Instance states, as EC2 names them.
const (
	StatePending      = "pending"
	StateRunning      = "running"
	StateStopping     = "stopping"
	StateStopped      = "stopped"
	StateShuttingDown = "shutting-down"
	StateTerminated   = "terminated"
)

// Instance is an EC2 instance. Content starts as its image's content and
// changes as commands run on it (SSM Run Command, patching).
type Instance struct {
	ID                    string    `json:"id"`
	Account               string    `json:"account"`
	Region                string    `json:"region"`
	AZ                    string    `json:"az"`
	ImageID               string    `json:"image_id"`
	InstanceType          string    `json:"instance_type"`
	KeyName               string    `json:"key_name,omitempty"`
	SubnetID              string    `json:"subnet_id"`
	VpcID                 string    `json:"vpc_id"`
	PrivateIP             string    `json:"private_ip"`
	SecurityGroupIDs      []string  `json:"security_group_ids,omitempty"`
	IAMInstanceProfile    string    `json:"iam_instance_profile,omitempty"`
	State                 string    `json:"state"`
	StateSince            time.Time `json:"state_since"`
	StateReason           string    `json:"state_reason,omitempty"`
	LaunchTime            time.Time `json:"launch_time"`
	Tags                  Tags      `json:"tags,omitempty"`
	Content               Content   `json:"content"`
	HTTPTokens            string    `json:"http_tokens"` // "required" (IMDSv2) or "optional"
	LaunchTemplateID      string    `json:"launch_template_id,omitempty"`
	LaunchTemplateVersion string    `json:"launch_template_version,omitempty"`
	ClientToken           string    `json:"client_token,omitempty"`
	RootVolumeID          string    `json:"root_volume_id,omitempty"`
	Architecture          string    `json:"architecture"`
	// Unhealthy instances (launched from a bad image) fail status and ASG
	// health checks once running.
	Unhealthy bool      `json:"unhealthy,omitempty"`
	VisibleAt time.Time `json:"visible_at,omitempty"`
	// ReservationID groups the instances of one RunInstances call;
	// LaunchIndex is the position within it.
	ReservationID string `json:"reservation_id,omitempty"`
	LaunchIndex   int    `json:"launch_index,omitempty"`
	// BlockDevices are the attached EBS volumes, root first.
	BlockDevices            []InstanceBlockDevice `json:"block_devices,omitempty"`
	HTTPEndpoint            string                `json:"http_endpoint,omitempty"` // "enabled" | "disabled"
	HTTPPutResponseHopLimit int                   `json:"http_put_response_hop_limit,omitempty"`
	UserData                string                `json:"user_data,omitempty"` // base64, as sent
}

// InstanceBlockDevice is one volume attached to an instance.
type InstanceBlockDevice struct {
	DeviceName          string    `json:"device_name"`
	VolumeID            string    `json:"volume_id"`
	DeleteOnTermination bool      `json:"delete_on_termination"`
	AttachTime          time.Time `json:"attach_time"`
}

// Image is an AMI in one region.
type Image struct {
	ID                  string        `json:"id"`
	Account             string        `json:"owner_id"`
	OwnerAlias          string        `json:"owner_alias,omitempty"` // "amazon" for public Amazon images
	Region              string        `json:"region"`
	Name                string        `json:"name"`
	Description         string        `json:"description,omitempty"`
	State               string        `json:"state"` // pending | available | failed | deregistered
	StateSince          time.Time     `json:"state_since"`
	StateReason         string        `json:"state_reason,omitempty"`
	CreationDate        time.Time     `json:"creation_date"`
	Architecture        string        `json:"architecture"`
	RootDeviceName      string        `json:"root_device_name"`
	BlockDevices        []BlockDevice `json:"block_devices"`
	Tags                Tags          `json:"tags,omitempty"`
	Public              bool          `json:"public,omitempty"`
	LaunchPermissions   []string      `json:"launch_permissions,omitempty"` // account ids
	LaunchPermissionOrg []string      `json:"launch_permission_orgs,omitempty"`
	LaunchPermissionOUs []string      `json:"launch_permission_ous,omitempty"`
	DeprecationTime     time.Time     `json:"deprecation_time,omitempty"`
	SourceInstanceID    string        `json:"source_instance_id,omitempty"`
	SourceImageID       string        `json:"source_image_id,omitempty"` // CopyImage
	SourceRegion        string        `json:"source_region,omitempty"`
	ImdsSupport         string        `json:"imds_support,omitempty"` // "v2.0"
	Content             Content       `json:"content"`
	// Bad marks an AMI whose instances fail health checks (admin API).
	Bad       bool      `json:"bad,omitempty"`
	VisibleAt time.Time `json:"visible_at,omitempty"`
	// AvailableAt is when a pending image becomes available (CreateImage,
	// CopyImage); ClientToken makes CopyImage idempotent.
	AvailableAt time.Time `json:"available_at,omitempty"`
	ClientToken string    `json:"client_token,omitempty"`
	Encrypted   bool      `json:"encrypted,omitempty"`
}

// BlockDevice is one block-device mapping of an image.
type BlockDevice struct {
	DeviceName          string `json:"device_name"`
	SnapshotID          string `json:"snapshot_id"`
	VolumeSize          int    `json:"volume_size"`
	VolumeType          string `json:"volume_type"`
	Encrypted           bool   `json:"encrypted"`
	KMSKeyID            string `json:"kms_key_id,omitempty"`
	DeleteOnTermination bool   `json:"delete_on_termination"`
}

// Snapshot is an EBS snapshot.
type Snapshot struct {
	ID          string    `json:"id"`
	Account     string    `json:"owner_id"`
	Region      string    `json:"region"`
	VolumeID    string    `json:"volume_id"`
	VolumeSize  int       `json:"volume_size"`
	State       string    `json:"state"` // pending | completed | error
	StartTime   time.Time `json:"start_time"`
	StateSince  time.Time `json:"state_since"`
	Encrypted   bool      `json:"encrypted"`
	KMSKeyID    string    `json:"kms_key_id,omitempty"`
	Description string    `json:"description,omitempty"`
	Tags        Tags      `json:"tags,omitempty"`
	VisibleAt   time.Time `json:"visible_at,omitempty"`
	// CompleteAt is when a pending snapshot completes.
	CompleteAt time.Time `json:"complete_at,omitempty"`
	// CreateVolumePermissions are accounts the snapshot is shared with.
	CreateVolumePermissions []string `json:"create_volume_permissions,omitempty"`
	Public                  bool     `json:"public,omitempty"`
}

// Volume is an EBS volume (root volumes of instances).
type Volume struct {
	ID         string `json:"id"`
	Account    string `json:"account"`
	Region     string `json:"region"`
	AZ         string `json:"az"`
	Size       int    `json:"size"`
	Type       string `json:"type"`
	State      string `json:"state"` // creating | available | in-use | deleted
	InstanceID string `json:"instance_id,omitempty"`
	SnapshotID string `json:"snapshot_id,omitempty"`
	Encrypted  bool   `json:"encrypted"`
	Tags       Tags   `json:"tags,omitempty"`
	// Attachment and creation details (RunInstances block devices).
	Device              string    `json:"device,omitempty"`
	DeleteOnTermination bool      `json:"delete_on_termination,omitempty"`
	KMSKeyID            string    `json:"kms_key_id,omitempty"`
	Iops                int       `json:"iops,omitempty"`
	Throughput          int       `json:"throughput,omitempty"`
	CreateTime          time.Time `json:"create_time,omitempty"`
	VisibleAt           time.Time `json:"visible_at,omitempty"`
}

// KeyPair is an EC2 key pair.
type KeyPair struct {
	ID          string    `json:"id"`
	Account     string    `json:"account"`
	Region      string    `json:"region"`
	Name        string    `json:"name"`
	Type        string    `json:"type"`
	Fingerprint string    `json:"fingerprint"`
	Tags        Tags      `json:"tags,omitempty"`
	CreateTime  time.Time `json:"create_time,omitempty"`
	PublicKey   string    `json:"public_key,omitempty"`
}

// SecurityGroup is a VPC security group.
type SecurityGroup struct {
	ID          string   `json:"id"`
	Account     string   `json:"account"`
	Region      string   `json:"region"`
	VpcID       string   `json:"vpc_id"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Ingress     []SGRule `json:"ingress,omitempty"`
	Tags        Tags     `json:"tags,omitempty"`
}

// SGRule is one ingress permission.
type SGRule struct {
	Protocol string `json:"protocol"`
	FromPort int    `json:"from_port"`
	ToPort   int    `json:"to_port"`
	CIDR     string `json:"cidr"`
	// ID is the security group rule id (sgr-…).
	ID          string `json:"id,omitempty"`
	Description string `json:"description,omitempty"`
}

// LaunchTemplate is a launch template with its versions.
type LaunchTemplate struct {
	ID             string                   `json:"id"`
	Account        string                   `json:"account"`
	Region         string                   `json:"region"`
	Name           string                   `json:"name"`
	DefaultVersion int                      `json:"default_version"`
	LatestVersion  int                      `json:"latest_version"`
	CreateTime     time.Time                `json:"create_time"`
	Versions       []*LaunchTemplateVersion `json:"versions"`
	Tags           Tags                     `json:"tags,omitempty"`
}

// LaunchTemplateVersion is one immutable version's data.
type LaunchTemplateVersion struct {
	Number             int       `json:"number"`
	Description        string    `json:"description,omitempty"`
	CreateTime         time.Time `json:"create_time"`
	ImageID            string    `json:"image_id,omitempty"`
	InstanceType       string    `json:"instance_type,omitempty"`
	KeyName            string    `json:"key_name,omitempty"`
	SecurityGroupIDs   []string  `json:"security_group_ids,omitempty"`
	IAMInstanceProfile string    `json:"iam_instance_profile,omitempty"`
	UserData           string    `json:"user_data,omitempty"`
	HTTPTokens         string    `json:"http_tokens,omitempty"`
	TagSpecifications  []TagSpec `json:"tag_specifications,omitempty"`
	// Further launch data the EC2 handlers model.
	IAMInstanceProfileARN   string            `json:"iam_instance_profile_arn,omitempty"`
	SecurityGroupNames      []string          `json:"security_group_names,omitempty"`
	BlockDevices            []BlockDeviceSpec `json:"block_devices,omitempty"`
	HTTPEndpoint            string            `json:"http_endpoint,omitempty"`
	HTTPPutResponseHopLimit int               `json:"http_put_response_hop_limit,omitempty"`
	CreatedBy               string            `json:"created_by,omitempty"`
}

// BlockDeviceSpec is a requested block-device mapping (RunInstances, launch
// templates, CreateImage): zero or nil fields inherit from the image.
type BlockDeviceSpec struct {
	DeviceName          string `json:"device_name"`
	NoDevice            bool   `json:"no_device,omitempty"`
	SnapshotID          string `json:"snapshot_id,omitempty"`
	VolumeSize          int    `json:"volume_size,omitempty"`
	VolumeType          string `json:"volume_type,omitempty"`
	Iops                int    `json:"iops,omitempty"`
	Throughput          int    `json:"throughput,omitempty"`
	Encrypted           *bool  `json:"encrypted,omitempty"`
	KMSKeyID            string `json:"kms_key_id,omitempty"`
	DeleteOnTermination *bool  `json:"delete_on_termination,omitempty"`
}

// TagSpec is a TagSpecification (resource type + tags).
type TagSpec struct {
	ResourceType string `json:"resource_type"`
	Tags         Tags   `json:"tags"`
}

// VPC and Subnet: each region has a default VPC with one subnet per AZ.
type VPC struct {
	ID        string `json:"id"`
	Account   string `json:"account"`
	Region    string `json:"region"`
	CIDR      string `json:"cidr"`
	IsDefault bool   `json:"is_default"`
	Tags      Tags   `json:"tags,omitempty"`
}

type Subnet struct {
	ID        string `json:"id"`
	Account   string `json:"account"`
	Region    string `json:"region"`
	VpcID     string `json:"vpc_id"`
	AZ        string `json:"az"`
	CIDR      string `json:"cidr"`
	IsDefault bool   `json:"is_default"`
	NextIP    int    `json:"next_ip"`
	Tags      Tags   `json:"tags,omitempty"`
}

func newEC2State() *EC2State {
	return &EC2State{
		Instances:       map[string]*Instance{},
		Images:          map[string]*Image{},
		Snapshots:       map[string]*Snapshot{},
		Volumes:         map[string]*Volume{},
		KeyPairs:        map[string]*KeyPair{},
		SecurityGroups:  map[string]*SecurityGroup{},
		LaunchTemplates: map[string]*LaunchTemplate{},
		VPCs:            map[string]*VPC{},
		Subnets:         map[string]*Subnet{},
	}
}

// LaunchSpec is what RunInstances, an Auto Scaling group or a scan/canary
// launch asks for. Shared by the EC2 and Auto Scaling handlers.
type LaunchSpec struct {
	Account               string
	Region                string
	ImageID               string
	InstanceType          string
	SubnetID              string
	KeyName               string
	SecurityGroupIDs      []string
	IAMInstanceProfile    string
	Tags                  Tags
	HTTPTokens            string
	LaunchTemplateID      string
	LaunchTemplateVersion string
	ClientToken           string
	// BlockDevices override or add to the image's mappings; VolumeTags tag
	// the created volumes. ReservationID/LaunchIndex group a RunInstances
	// call (a new reservation when empty).
	BlockDevices            []BlockDeviceSpec
	VolumeTags              Tags
	HTTPEndpoint            string
	HTTPPutResponseHopLimit int
	UserData                string
	ReservationID           string
	LaunchIndex             int
}

// RunInstance launches one instance in state pending. The image must exist,
// be visible to the account and be available, as on EC2.
func (w *World) RunInstance(spec LaunchSpec, now time.Time) (*Instance, *APIError) {
	img := w.EC2.Images[spec.ImageID]
	if img == nil || img.Region != spec.Region || !img.launchableBy(spec.Account) || img.VisibleAt.After(now) {
		return nil, Errorf("InvalidAMIID.NotFound", "The image id '[%s]' does not exist", spec.ImageID)
	}
	if img.State != "available" {
		return nil, Errorf("InvalidAMIID.Unavailable", "The image id '[%s]' is not available", spec.ImageID)
	}
	if spec.InstanceType == "" {
		spec.InstanceType = "m1.small"
	}
	volumes, verr := w.launchVolumes(img, spec.BlockDevices)
	if verr != nil {
		return nil, verr
	}
	subnet := w.subnetFor(spec.Account, spec.Region, spec.SubnetID)
	if subnet == nil {
		if spec.SubnetID != "" {
			return nil, Errorf("InvalidSubnetID.NotFound", "The subnet ID '%s' does not exist", spec.SubnetID)
		}
		return nil, Errorf("VPCIdNotSpecified", "No default VPC for this user")
	}
	if spec.HTTPTokens == "" {
		spec.HTTPTokens = "optional"
		if img.ImdsSupport == "v2.0" {
			spec.HTTPTokens = "required"
		}
	}
	inst := &Instance{
		ID:                    w.NewID("i"),
		Account:               spec.Account,
		Region:                spec.Region,
		AZ:                    subnet.AZ,
		ImageID:               img.ID,
		InstanceType:          spec.InstanceType,
		KeyName:               spec.KeyName,
		SubnetID:              subnet.ID,
		VpcID:                 subnet.VpcID,
		PrivateIP:             subnet.allocateIP(),
		SecurityGroupIDs:      append([]string(nil), spec.SecurityGroupIDs...),
		IAMInstanceProfile:    spec.IAMInstanceProfile,
		State:                 StatePending,
		StateSince:            now,
		LaunchTime:            now,
		Tags:                  cloneTags(spec.Tags),
		Content:               img.Content.Clone(),
		HTTPTokens:            spec.HTTPTokens,
		LaunchTemplateID:      spec.LaunchTemplateID,
		LaunchTemplateVersion: spec.LaunchTemplateVersion,
		ClientToken:           spec.ClientToken,
		Architecture:          img.Architecture,
		Unhealthy:             img.Bad,
	}
	w.completeLaunch(inst, spec, volumes, now)
	w.EC2.Instances[inst.ID] = inst
	return inst, nil
}

// TerminateInstance starts shutting an instance down (idempotent).
func (w *World) TerminateInstance(inst *Instance, now time.Time) {
	if inst.State == StateTerminated || inst.State == StateShuttingDown {
		return
	}
	inst.State, inst.StateSince = StateShuttingDown, now
}

// tickInstances advances instance state machines.
func (w *World) tickInstances(now time.Time) {
	t := w.Timing
	for _, inst := range w.EC2.Instances {
		switch inst.State {
		case StatePending:
			if !now.Before(inst.StateSince.Add(t.InstancePending)) {
				inst.State, inst.StateSince = StateRunning, inst.StateSince.Add(t.InstancePending)
			}
		case StateStopping:
			if !now.Before(inst.StateSince.Add(t.InstanceStopping)) {
				inst.State, inst.StateSince = StateStopped, inst.StateSince.Add(t.InstanceStopping)
			}
		case StateShuttingDown:
			if !now.Before(inst.StateSince.Add(t.InstanceShutdown)) {
				inst.State, inst.StateSince = StateTerminated, inst.StateSince.Add(t.InstanceShutdown)
				w.releaseInstanceVolumes(inst)
			}
		}
	}
}

// launchableBy reports whether account may see and launch the image.
func (img *Image) launchableBy(account string) bool {
	if img.Public || img.Account == account {
		return true
	}
	for _, a := range img.LaunchPermissions {
		if a == account {
			return true
		}
	}
	return false
}

func (w *World) subnetFor(account, region, id string) *Subnet {
	if id != "" {
		s := w.EC2.Subnets[id]
		if s == nil || s.Region != region || s.Account != account {
			return nil
		}
		return s
	}
	var best *Subnet
	for _, s := range w.EC2.Subnets {
		if s.Account == account && s.Region == region && s.IsDefault && (best == nil || s.AZ < best.AZ) {
			best = s
		}
	}
	if best == nil && w.HasRegion(region) {
		w.ensureDefaultVPC(account, region)
		return w.subnetFor(account, region, "")
	}
	return best
}

// ensureDefaultVPC creates an account's default VPC in a region on first use,
// as AWS has one in every region of every account.
func (w *World) ensureDefaultVPC(account, region string) {
	for _, v := range w.EC2.VPCs {
		if v.Account == account && v.Region == region && v.IsDefault {
			return
		}
	}
	vpc := &VPC{ID: w.NewID("vpc"), Account: account, Region: region, CIDR: "172.31.0.0/16", IsDefault: true}
	w.EC2.VPCs[vpc.ID] = vpc
	for i, az := range []string{"a", "b", "c"} {
		sn := &Subnet{ID: w.NewID("subnet"), Account: account, Region: region, VpcID: vpc.ID, AZ: region + az,
			CIDR: fmt.Sprintf("172.31.%d.0/20", i*16), IsDefault: true}
		w.EC2.Subnets[sn.ID] = sn
	}
}

func (s *Subnet) allocateIP() string {
	s.NextIP++
	var third, base int
	fmt.Sscanf(s.CIDR, "172.31.%d.0/20", &base)
	third = base + (s.NextIP+4)/256
	return fmt.Sprintf("172.31.%d.%d", third, (s.NextIP+4)%256)
}

func cloneTags(t Tags) Tags {
	if t == nil {
		return Tags{}
	}
	out := make(Tags, len(t))
	for k, v := range t {
		out[k] = v
	}
	return out
}
