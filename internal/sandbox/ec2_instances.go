package sandbox

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// ec2TerminatedVisibleFor is how long terminated instances stay in
// DescribeInstances, as on EC2 (about an hour).
const ec2TerminatedVisibleFor = time.Hour

var ec2StateCodes = map[string]int{
	StatePending: 0, StateRunning: 16, StateShuttingDown: 32, StateTerminated: 48, StateStopping: 64, StateStopped: 80,
}

// ---- XML ----

type ec2InstanceStateXML struct {
	Code int    `xml:"code"`
	Name string `xml:"name"`
}

func ec2StateXML(s string) ec2InstanceStateXML {
	return ec2InstanceStateXML{Code: ec2StateCodes[s], Name: s}
}

type ec2GroupXML struct {
	GroupID   string `xml:"groupId"`
	GroupName string `xml:"groupName"`
}

type ec2InstanceBdmXML struct {
	DeviceName string `xml:"deviceName"`
	Ebs        struct {
		VolumeID            string `xml:"volumeId"`
		Status              string `xml:"status"`
		AttachTime          string `xml:"attachTime"`
		DeleteOnTermination bool   `xml:"deleteOnTermination"`
	} `xml:"ebs"`
}

type ec2IamProfileXML struct {
	Arn string `xml:"arn"`
	ID  string `xml:"id"`
}

type ec2MetadataOptionsXML struct {
	State                   string `xml:"state"`
	HTTPTokens              string `xml:"httpTokens"`
	HTTPPutResponseHopLimit int    `xml:"httpPutResponseHopLimit"`
	HTTPEndpoint            string `xml:"httpEndpoint"`
	HTTPProtocolIpv6        string `xml:"httpProtocolIpv6"`
	InstanceMetadataTags    string `xml:"instanceMetadataTags"`
}

type ec2InstanceXML struct {
	InstanceID     string              `xml:"instanceId"`
	ImageID        string              `xml:"imageId"`
	State          ec2InstanceStateXML `xml:"instanceState"`
	PrivateDNSName string              `xml:"privateDnsName"`
	DNSName        string              `xml:"dnsName"`
	Reason         string              `xml:"reason"`
	KeyName        string              `xml:"keyName,omitempty"`
	AmiLaunchIndex int                 `xml:"amiLaunchIndex"`
	InstanceType   string              `xml:"instanceType"`
	LaunchTime     string              `xml:"launchTime"`
	Placement      struct {
		AvailabilityZone   string `xml:"availabilityZone"`
		AvailabilityZoneID string `xml:"availabilityZoneId"`
		GroupName          string `xml:"groupName"`
		Tenancy            string `xml:"tenancy"`
	} `xml:"placement"`
	Monitoring struct {
		State string `xml:"state"`
	} `xml:"monitoring"`
	SubnetID                string                `xml:"subnetId"`
	VpcID                   string                `xml:"vpcId"`
	PrivateIPAddress        string                `xml:"privateIpAddress"`
	SourceDestCheck         bool                  `xml:"sourceDestCheck"`
	Groups                  []ec2GroupXML         `xml:"groupSet>item"`
	StateReason             *ec2StateReasonXML    `xml:"stateReason,omitempty"`
	Architecture            string                `xml:"architecture"`
	RootDeviceType          string                `xml:"rootDeviceType"`
	RootDeviceName          string                `xml:"rootDeviceName"`
	BlockDeviceMapping      []ec2InstanceBdmXML   `xml:"blockDeviceMapping>item"`
	VirtualizationType      string                `xml:"virtualizationType"`
	ClientToken             string                `xml:"clientToken"`
	Tags                    []ec2TagXML           `xml:"tagSet>item"`
	Hypervisor              string                `xml:"hypervisor"`
	IamInstanceProfile      *ec2IamProfileXML     `xml:"iamInstanceProfile,omitempty"`
	EbsOptimized            bool                  `xml:"ebsOptimized"`
	EnaSupport              bool                  `xml:"enaSupport"`
	MetadataOptions         ec2MetadataOptionsXML `xml:"metadataOptions"`
	PlatformDetails         string                `xml:"platformDetails"`
	UsageOperation          string                `xml:"usageOperation"`
	BootMode                string                `xml:"bootMode"`
	CurrentInstanceBootMode string                `xml:"currentInstanceBootMode"`
}

func ec2ProfileArn(account, nameOrArn string) string {
	if strings.HasPrefix(nameOrArn, "arn:") {
		return nameOrArn
	}
	return fmt.Sprintf("arn:aws:iam::%s:instance-profile/%s", account, nameOrArn)
}

func (w *World) ec2InstanceXML(inst *Instance) ec2InstanceXML {
	x := ec2InstanceXML{
		InstanceID: inst.ID, ImageID: inst.ImageID, State: ec2StateXML(inst.State), KeyName: inst.KeyName,
		AmiLaunchIndex: inst.LaunchIndex, InstanceType: inst.InstanceType, LaunchTime: ec2Time(inst.LaunchTime),
		SubnetID: inst.SubnetID, VpcID: inst.VpcID, PrivateIPAddress: inst.PrivateIP, SourceDestCheck: true,
		Architecture: inst.Architecture, RootDeviceType: "ebs", RootDeviceName: "/dev/xvda", VirtualizationType: "hvm",
		ClientToken: inst.ClientToken, Tags: ec2TagsXML(inst.Tags), Hypervisor: "xen", EnaSupport: true,
		PlatformDetails: "Linux/UNIX", UsageOperation: "RunInstances", BootMode: ec2BootMode(inst.Architecture),
		CurrentInstanceBootMode: "uefi",
	}
	if inst.PrivateIP != "" && inst.State != StateTerminated {
		x.PrivateDNSName = "ip-" + strings.ReplaceAll(inst.PrivateIP, ".", "-") + "." + ec2RegionDomain(inst.Region)
	}
	if inst.State == StateTerminated {
		x.PrivateIPAddress = ""
	}
	if inst.Architecture == "x86_64" {
		x.CurrentInstanceBootMode = "legacy-bios"
	}
	if img := w.EC2.Images[inst.ImageID]; img != nil && img.RootDeviceName != "" {
		x.RootDeviceName = img.RootDeviceName
	}
	x.Placement.AvailabilityZone, x.Placement.AvailabilityZoneID, x.Placement.Tenancy = inst.AZ, ec2AZID(inst.AZ), "default"
	x.Monitoring.State = "disabled"
	for _, g := range inst.SecurityGroupIDs {
		name := ""
		if sg := w.EC2.SecurityGroups[g]; sg != nil {
			name = sg.Name
		}
		x.Groups = append(x.Groups, ec2GroupXML{GroupID: g, GroupName: name})
	}
	switch inst.State {
	case StateStopping, StateStopped, StateShuttingDown, StateTerminated:
		msg := inst.StateReason
		if msg == "" {
			msg = "Client.UserInitiatedShutdown: User initiated shutdown"
		}
		x.StateReason = &ec2StateReasonXML{Code: "Client.UserInitiatedShutdown", Message: msg}
		x.Reason = "User initiated (" + inst.StateSince.UTC().Format("2006-01-02 15:04:05 GMT") + ")"
	}
	if inst.State != StateTerminated {
		for _, bd := range inst.BlockDevices {
			var b ec2InstanceBdmXML
			b.DeviceName = bd.DeviceName
			b.Ebs.VolumeID, b.Ebs.Status, b.Ebs.AttachTime, b.Ebs.DeleteOnTermination = bd.VolumeID, "attached", ec2Time(bd.AttachTime), bd.DeleteOnTermination
			x.BlockDeviceMapping = append(x.BlockDeviceMapping, b)
		}
	}
	if inst.IAMInstanceProfile != "" {
		x.IamInstanceProfile = &ec2IamProfileXML{Arn: ec2ProfileArn(inst.Account, inst.IAMInstanceProfile), ID: "AIPA" + strings.ToUpper(strings.TrimPrefix(inst.ID, "i-"))}
	}
	hop := inst.HTTPPutResponseHopLimit
	if hop == 0 {
		hop = 2
	}
	endpoint := inst.HTTPEndpoint
	if endpoint == "" {
		endpoint = "enabled"
	}
	x.MetadataOptions = ec2MetadataOptionsXML{State: "applied", HTTPTokens: inst.HTTPTokens, HTTPPutResponseHopLimit: hop,
		HTTPEndpoint: endpoint, HTTPProtocolIpv6: "disabled", InstanceMetadataTags: "disabled"}
	return x
}

// ---- lookups ----

var ec2InstanceIDRE = regexp.MustCompile(`^i-[0-9a-f]{8,17}$`)

// ec2InstanceVisible reports whether DescribeInstances shows the instance to c.
func ec2InstanceVisible(c *Call, inst *Instance) bool {
	if inst.Account != c.Account || inst.Region != c.Region || ec2Hidden(inst.VisibleAt, c.Now) {
		return false
	}
	return !(inst.State == StateTerminated && c.Now.Sub(inst.StateSince) > ec2TerminatedVisibleFor)
}

func ec2InstanceFor(c *Call, id string) (*Instance, *APIError) {
	if id == "" {
		return nil, errMissingParameter("InstanceId")
	}
	if !ec2InstanceIDRE.MatchString(id) {
		return nil, ec2Malformed("InvalidInstanceID.Malformed", id)
	}
	inst := c.World.EC2.Instances[id]
	if inst == nil || !ec2InstanceVisible(c, inst) {
		return nil, ec2NotFound("instance", id)
	}
	return inst, nil
}

// ec2InstancesFor resolves InstanceId.N all-or-nothing, as EC2 does.
func ec2InstancesFor(c *Call) ([]*Instance, *APIError) {
	ids := ec2Dedupe(formList(c.Form, "InstanceId"))
	if len(ids) == 0 {
		return nil, errMissingParameter("InstanceId")
	}
	return ec2LookupInstances(c, ids)
}

func ec2LookupInstances(c *Call, ids []string) ([]*Instance, *APIError) {
	var out []*Instance
	var missing []string
	for _, id := range ids {
		if !ec2InstanceIDRE.MatchString(id) {
			return nil, ec2Malformed("InvalidInstanceID.Malformed", id)
		}
		inst := c.World.EC2.Instances[id]
		if inst == nil || !ec2InstanceVisible(c, inst) {
			missing = append(missing, id)
			continue
		}
		out = append(out, inst)
	}
	switch {
	case len(missing) == 1:
		return nil, ec2NotFound("instance", missing[0])
	case len(missing) > 1:
		return nil, Errorf("InvalidInstanceID.NotFound", "The instance IDs '%s' do not exist", strings.Join(missing, ", "))
	}
	return out, nil
}

// ---- instance types ----

var ec2InstanceTypeRE = regexp.MustCompile(`^[a-z][a-z0-9-]*\.[a-z0-9-]+$`)

// ec2InstanceTypeArch derives the architecture of an instance type: Graviton
// families carry a 'g' after the generation digit (t4g, m7gd, c6gn), and a1.
func ec2InstanceTypeArch(t string) string {
	family, _, _ := strings.Cut(t, ".")
	if family == "a1" {
		return "arm64"
	}
	i := strings.IndexAny(family, "0123456789")
	if i < 0 {
		return "x86_64"
	}
	for i < len(family) && family[i] >= '0' && family[i] <= '9' {
		i++
	}
	if strings.Contains(family[i:], "g") {
		return "arm64"
	}
	return "x86_64"
}

// ---- RunInstances ----

type ec2ReservationXML struct {
	ReservationID string           `xml:"reservationId"`
	OwnerID       string           `xml:"ownerId"`
	Groups        []ec2GroupXML    `xml:"groupSet>item"`
	Instances     []ec2InstanceXML `xml:"instancesSet>item"`
}

func ec2RunInstances(c *Call) (any, error) {
	f, w := c.Form, c.World
	if !formHas(f, "MinCount") {
		return nil, errMissingParameter("MinCount")
	}
	if !formHas(f, "MaxCount") {
		return nil, errMissingParameter("MaxCount")
	}
	minCount, err := formInt(f, "MinCount", 1)
	if err != nil {
		return nil, err
	}
	maxCount, err := formInt(f, "MaxCount", 1)
	if err != nil {
		return nil, err
	}
	if minCount < 1 || maxCount < minCount {
		return nil, errInvalidParameterValue("Invalid counts: MinCount %d, MaxCount %d", minCount, maxCount)
	}
	if maxCount > 100 {
		return nil, Errorf("InstanceLimitExceeded", "You have requested more instances (%d) than your current instance limit of 100 allows for the specified instance type.", maxCount)
	}

	// Idempotency: a retried request returns the original reservation.
	token := formGet(f, "ClientToken")
	if token != "" {
		var prior []*Instance
		for _, inst := range w.EC2.Instances {
			if inst.ClientToken == token && inst.Account == c.Account && inst.Region == c.Region {
				prior = append(prior, inst)
			}
		}
		if len(prior) > 0 {
			if id := formGet(f, "ImageId"); id != "" && id != prior[0].ImageID {
				return nil, Errorf("IdempotentParameterMismatch", "The client token %s was already used with different parameters", token)
			}
			sort.Slice(prior, func(i, j int) bool { return prior[i].LaunchIndex < prior[j].LaunchIndex })
			return w.ec2Reservation(prior, c.Account), nil
		}
	}

	spec := LaunchSpec{Account: c.Account, Region: c.Region}
	if formHas(f, "LaunchTemplate.LaunchTemplateId") || formHas(f, "LaunchTemplate.LaunchTemplateName") {
		s, e := w.LaunchTemplateSpec(c.Account, c.Region, formGet(f, "LaunchTemplate.LaunchTemplateId"),
			formGet(f, "LaunchTemplate.LaunchTemplateName"), formGet(f, "LaunchTemplate.Version"))
		if e != nil {
			return nil, e
		}
		spec = s
	}
	if v := formGet(f, "ImageId"); v != "" {
		spec.ImageID = v
	}
	if spec.ImageID == "" {
		return nil, errMissingParameter("ImageId")
	}
	img, e := ec2ImageFor(c, spec.ImageID)
	if e != nil {
		return nil, e
	}
	if v := formGet(f, "InstanceType"); v != "" {
		spec.InstanceType = v
	}
	if spec.InstanceType == "" {
		spec.InstanceType = "m1.small"
	}
	if !ec2InstanceTypeRE.MatchString(spec.InstanceType) {
		return nil, errInvalidParameterValue("Invalid value '%s' for InstanceType.", spec.InstanceType)
	}
	if a := ec2InstanceTypeArch(spec.InstanceType); a != img.Architecture {
		return nil, errInvalidParameterValue("The architecture '%s' of the specified instance type does not match the architecture '%s' of the specified AMI. Specify an instance type and an AMI that have matching architectures, and try again.", a, img.Architecture)
	}
	if v := formGet(f, "KeyName"); v != "" {
		spec.KeyName = v
	}
	if spec.KeyName != "" && w.ec2KeyPairByName(c.Account, c.Region, spec.KeyName) == nil {
		return nil, Errorf("InvalidKeyPair.NotFound", "The key pair '%s' does not exist", spec.KeyName)
	}
	if v := formGet(f, "SubnetId"); v != "" {
		spec.SubnetID = v
	}
	if spec.SubnetID != "" && !ec2ValidID("subnet", spec.SubnetID) {
		return nil, ec2Malformed("InvalidSubnetID.Malformed", spec.SubnetID)
	}
	if az := formGet(f, "Placement.AvailabilityZone"); az != "" && spec.SubnetID == "" {
		sn := w.ec2DefaultSubnetIn(c.Account, c.Region, az)
		if sn == nil {
			return nil, errInvalidParameterValue("Invalid availability zone: [%s]", az)
		}
		spec.SubnetID = sn.ID
	}
	subnet := w.subnetFor(c.Account, c.Region, spec.SubnetID)
	if subnet == nil {
		return nil, Errorf("InvalidSubnetID.NotFound", "The subnet ID '%s' does not exist", spec.SubnetID)
	}
	if az := formGet(f, "Placement.AvailabilityZone"); az != "" && az != subnet.AZ {
		return nil, errInvalidParameterValue("The subnet %s is in %s, not in the requested availability zone %s", subnet.ID, subnet.AZ, az)
	}
	if ids := formList(f, "SecurityGroupId"); len(ids) > 0 {
		spec.SecurityGroupIDs = ids
	}
	names := formList(f, "SecurityGroup")
	groups, e := w.ec2ResolveGroups(c, subnet.VpcID, spec.SecurityGroupIDs, names)
	if e != nil {
		return nil, e
	}
	spec.SecurityGroupIDs = groups
	if v := formGet(f, "IamInstanceProfile.Name"); v != "" {
		spec.IAMInstanceProfile = v
	}
	if v := formGet(f, "IamInstanceProfile.Arn"); v != "" {
		spec.IAMInstanceProfile = v
	}
	if e := ec2ParseMetadataOptions(f, "MetadataOptions.", &spec.HTTPTokens, &spec.HTTPEndpoint, &spec.HTTPPutResponseHopLimit); e != nil {
		return nil, e
	}
	bds, e := ec2ParseBlockDevices(f, "BlockDeviceMapping")
	if e != nil {
		return nil, e
	}
	if len(bds) > 0 {
		spec.BlockDevices = bds
	}
	specs, e := ec2ParseTagSpecs(f, "TagSpecification", "instance", "volume", "network-interface", "spot-instances-request")
	if e != nil {
		return nil, e
	}
	if t := specs["instance"]; len(t) > 0 {
		if spec.Tags == nil {
			spec.Tags = Tags{}
		}
		for k, v := range t {
			spec.Tags[k] = v
		}
	}
	if t := specs["volume"]; len(t) > 0 {
		if spec.VolumeTags == nil {
			spec.VolumeTags = Tags{}
		}
		for k, v := range t {
			spec.VolumeTags[k] = v
		}
	}
	if v := formGet(f, "UserData"); v != "" {
		spec.UserData = v
	}
	spec.ClientToken = token
	spec.ReservationID = w.NewID("r")

	var launched []*Instance
	for i := 0; i < maxCount; i++ {
		spec.LaunchIndex = i
		inst, e := w.RunInstance(spec, c.Now)
		if e != nil {
			if len(launched) >= minCount {
				break
			}
			for _, l := range launched {
				w.ec2DiscardInstance(l)
			}
			return nil, e
		}
		at := ec2VisibleAt(c)
		inst.VisibleAt = at
		for _, bd := range inst.BlockDevices {
			if v := w.EC2.Volumes[bd.VolumeID]; v != nil {
				v.VisibleAt = at
			}
		}
		launched = append(launched, inst)
	}
	return w.ec2Reservation(launched, c.Account), nil
}

// ec2DefaultSubnetIn is the account's default subnet in an AZ.
func (w *World) ec2DefaultSubnetIn(account, region, az string) *Subnet {
	w.ensureDefaultVPC(account, region)
	for _, s := range w.EC2.Subnets {
		if s.Account == account && s.Region == region && s.IsDefault && s.AZ == az {
			return s
		}
	}
	return nil
}

// ec2DiscardInstance undoes a launch that a later failure in the same
// RunInstances call rolled back.
func (w *World) ec2DiscardInstance(inst *Instance) {
	for _, bd := range inst.BlockDevices {
		delete(w.EC2.Volumes, bd.VolumeID)
	}
	delete(w.EC2.Instances, inst.ID)
}

func (w *World) ec2Reservation(insts []*Instance, account string) ec2ReservationXML {
	r := ec2ReservationXML{OwnerID: account}
	if len(insts) > 0 {
		r.ReservationID = insts[0].ReservationID
	}
	for _, inst := range insts {
		r.Instances = append(r.Instances, w.ec2InstanceXML(inst))
	}
	return r
}

// parseMetadataOptions reads HttpTokens, HttpEndpoint and
// HttpPutResponseHopLimit under prefix, validating them as EC2 does.
func ec2ParseMetadataOptions(f map[string][]string, prefix string, tokens, endpoint *string, hop *int) *APIError {
	if v := formGet(f, prefix+"HttpTokens"); v != "" {
		if v != "required" && v != "optional" {
			return errInvalidParameterValue("Value (%s) for parameter HttpTokens is invalid. Valid values: optional, required", v)
		}
		*tokens = v
	}
	if v := formGet(f, prefix+"HttpEndpoint"); v != "" {
		if v != "enabled" && v != "disabled" {
			return errInvalidParameterValue("Value (%s) for parameter HttpEndpoint is invalid. Valid values: enabled, disabled", v)
		}
		*endpoint = v
	}
	if formHas(f, prefix+"HttpPutResponseHopLimit") {
		n, err := formInt(f, prefix+"HttpPutResponseHopLimit", 0)
		if err != nil {
			return err.(*APIError)
		}
		if n < 1 || n > 64 {
			return errInvalidParameterValue("Value (%d) for parameter HttpPutResponseHopLimit is invalid. Valid range: 1-64", n)
		}
		*hop = n
	}
	return nil
}

// ec2ResolveGroups checks security group ids and resolves names in a VPC; no
// group at all means the VPC's default group.
func (w *World) ec2ResolveGroups(c *Call, vpcID string, ids, names []string) ([]string, *APIError) {
	var out []string
	for _, id := range ids {
		if !ec2ValidID("sg", id) {
			return nil, ec2Malformed("InvalidGroupId.Malformed", id)
		}
		sg := w.EC2.SecurityGroups[id]
		if sg == nil || sg.Account != c.Account || sg.Region != c.Region {
			return nil, ec2NotFound("security-group", id)
		}
		if sg.VpcID != vpcID {
			return nil, Errorf("InvalidParameter", "Security group %s and subnet belong to different networks.", id)
		}
		out = append(out, id)
	}
	for _, n := range names {
		sg := w.ec2SecurityGroupByName(c.Account, c.Region, vpcID, n)
		if sg == nil {
			return nil, Errorf("InvalidGroup.NotFound", "The security group '%s' does not exist in VPC '%s'", n, vpcID)
		}
		out = append(out, sg.ID)
	}
	if len(out) == 0 {
		out = []string{w.ec2DefaultSecurityGroup(c.Account, c.Region, vpcID).ID}
	}
	return ec2Dedupe(out), nil
}

// ---- DescribeInstances ----

var ec2InstanceFilters = ec2FilterFields[*Instance]{
	"instance-id":         func(i *Instance) []string { return ec2One(i.ID) },
	"instance-state-name": func(i *Instance) []string { return ec2One(i.State) },
	"instance-state-code": func(i *Instance) []string { return ec2Int(ec2StateCodes[i.State]) },
	"image-id":            func(i *Instance) []string { return ec2One(i.ImageID) },
	"instance-type":       func(i *Instance) []string { return ec2One(i.InstanceType) },
	"subnet-id":           func(i *Instance) []string { return ec2One(i.SubnetID) },
	"vpc-id":              func(i *Instance) []string { return ec2One(i.VpcID) },
	"availability-zone":   func(i *Instance) []string { return ec2One(i.AZ) },
	"key-name":            func(i *Instance) []string { return ec2One(i.KeyName) },
	"private-ip-address":  func(i *Instance) []string { return ec2One(i.PrivateIP) },
	"private-dns-name": func(i *Instance) []string {
		return ec2One("ip-" + strings.ReplaceAll(i.PrivateIP, ".", "-") + "." + ec2RegionDomain(i.Region))
	},
	"reservation-id":                 func(i *Instance) []string { return ec2One(i.ReservationID) },
	"launch-time":                    func(i *Instance) []string { return ec2One(ec2Time(i.LaunchTime)) },
	"architecture":                   func(i *Instance) []string { return ec2One(i.Architecture) },
	"client-token":                   func(i *Instance) []string { return ec2One(i.ClientToken) },
	"owner-id":                       func(i *Instance) []string { return ec2One(i.Account) },
	"root-device-type":               func(*Instance) []string { return ec2One("ebs") },
	"metadata-options.http-tokens":   func(i *Instance) []string { return ec2One(i.HTTPTokens) },
	"metadata-options.http-endpoint": func(i *Instance) []string { return ec2One(i.HTTPEndpoint) },
	"iam-instance-profile.arn": func(i *Instance) []string {
		if i.IAMInstanceProfile == "" {
			return nil
		}
		return ec2One(ec2ProfileArn(i.Account, i.IAMInstanceProfile))
	},
	"instance.group-id": func(i *Instance) []string { return i.SecurityGroupIDs },
	"block-device-mapping.volume-id": func(i *Instance) []string {
		var out []string
		for _, b := range i.BlockDevices {
			out = append(out, b.VolumeID)
		}
		return out
	},
}

func ec2DescribeInstances(c *Call) (any, error) {
	f := c.Form
	ids := ec2Dedupe(formList(f, "InstanceId"))
	if e := ec2NoMaxWithIDs(f, ids, "instanceId"); e != nil {
		return nil, e
	}
	filters, e := ec2ParseFilters(f)
	if e != nil {
		return nil, e
	}
	var items []*Instance
	if len(ids) > 0 {
		if items, e = ec2LookupInstances(c, ids); e != nil {
			return nil, e
		}
	} else {
		for _, inst := range c.World.EC2.Instances {
			if ec2InstanceVisible(c, inst) {
				items = append(items, inst)
			}
		}
	}
	items, e = ec2ApplyFilters(items, filters, ec2InstanceFilters, func(i *Instance) Tags { return i.Tags })
	if e != nil {
		return nil, e
	}
	key := func(i *Instance) string { return i.ReservationID + "/" + fmt.Sprintf("%04d", i.LaunchIndex) + i.ID }
	ec2SortBy(items, key)
	page, next, e := ec2Paginate(f, items, key, 5, 1000)
	if e != nil {
		return nil, e
	}
	out := struct {
		Reservations []ec2ReservationXML `xml:"reservationSet>item"`
		NextToken    string              `xml:"nextToken,omitempty"`
	}{NextToken: next}
	for i := 0; i < len(page); {
		j := i
		for j < len(page) && page[j].ReservationID == page[i].ReservationID {
			j++
		}
		out.Reservations = append(out.Reservations, c.World.ec2Reservation(page[i:j], c.Account))
		i = j
	}
	return out, nil
}

// ---- DescribeInstanceStatus ----

type ec2StatusDetailXML struct {
	Name          string `xml:"name"`
	Status        string `xml:"status"`
	ImpairedSince string `xml:"impairedSince,omitempty"`
}

type ec2StatusSummaryXML struct {
	Status  string               `xml:"status"`
	Details []ec2StatusDetailXML `xml:"details>item"`
}

type ec2InstanceStatusXML struct {
	InstanceID         string              `xml:"instanceId"`
	AvailabilityZone   string              `xml:"availabilityZone"`
	AvailabilityZoneID string              `xml:"availabilityZoneId"`
	InstanceState      ec2InstanceStateXML `xml:"instanceState"`
	SystemStatus       ec2StatusSummaryXML `xml:"systemStatus"`
	InstanceStatus     ec2StatusSummaryXML `xml:"instanceStatus"`
}

// ec2InstanceHealth is the (system, instance) status of an instance: checks
// initialise for as long again as the launch took, then pass, except that
// instances of a bad image fail their instance reachability check.
func (w *World) ec2InstanceHealth(inst *Instance, now time.Time) (system, instance ec2StatusSummaryXML) {
	if inst.State != StateRunning {
		na := ec2StatusSummaryXML{Status: "not-applicable"}
		return na, na
	}
	if now.Before(inst.StateSince.Add(w.Timing.InstancePending)) {
		init := ec2StatusSummaryXML{Status: "initializing", Details: []ec2StatusDetailXML{{Name: "reachability", Status: "initializing"}}}
		return init, init
	}
	ok := ec2StatusSummaryXML{Status: "ok", Details: []ec2StatusDetailXML{{Name: "reachability", Status: "passed"}}}
	if inst.Unhealthy {
		return ok, ec2StatusSummaryXML{Status: "impaired", Details: []ec2StatusDetailXML{{Name: "reachability", Status: "failed",
			ImpairedSince: ec2Time(inst.StateSince.Add(w.Timing.InstancePending))}}}
	}
	return ok, ok
}

func ec2DescribeInstanceStatus(c *Call) (any, error) {
	f := c.Form
	ids := ec2Dedupe(formList(f, "InstanceId"))
	if e := ec2NoMaxWithIDs(f, ids, "instanceId"); e != nil {
		return nil, e
	}
	filters, e := ec2ParseFilters(f)
	if e != nil {
		return nil, e
	}
	all := formBool(f, "IncludeAllInstances")
	var items []*Instance
	if len(ids) > 0 {
		if items, e = ec2LookupInstances(c, ids); e != nil {
			return nil, e
		}
	} else {
		for _, inst := range c.World.EC2.Instances {
			if ec2InstanceVisible(c, inst) {
				items = append(items, inst)
			}
		}
	}
	if !all {
		kept := items[:0]
		for _, inst := range items {
			if inst.State == StateRunning {
				kept = append(kept, inst)
			}
		}
		items = kept
	}
	w := c.World
	statusFilters := ec2FilterFields[*Instance]{
		"instance-state-name": func(i *Instance) []string { return ec2One(i.State) },
		"instance-state-code": func(i *Instance) []string { return ec2Int(ec2StateCodes[i.State]) },
		"availability-zone":   func(i *Instance) []string { return ec2One(i.AZ) },
		"instance-status.status": func(i *Instance) []string {
			_, s := w.ec2InstanceHealth(i, c.Now)
			return ec2One(s.Status)
		},
		"system-status.status": func(i *Instance) []string {
			s, _ := w.ec2InstanceHealth(i, c.Now)
			return ec2One(s.Status)
		},
		"instance-status.reachability": func(i *Instance) []string {
			_, s := w.ec2InstanceHealth(i, c.Now)
			return ec2DetailStatus(s)
		},
		"system-status.reachability": func(i *Instance) []string {
			s, _ := w.ec2InstanceHealth(i, c.Now)
			return ec2DetailStatus(s)
		},
	}
	items, e = ec2ApplyFilters(items, filters, statusFilters, nil)
	if e != nil {
		return nil, e
	}
	ec2SortBy(items, func(i *Instance) string { return i.ID })
	page, next, e := ec2Paginate(f, items, func(i *Instance) string { return i.ID }, 5, 1000)
	if e != nil {
		return nil, e
	}
	out := struct {
		Statuses  []ec2InstanceStatusXML `xml:"instanceStatusSet>item"`
		NextToken string                 `xml:"nextToken,omitempty"`
	}{NextToken: next}
	for _, inst := range page {
		sys, ins := w.ec2InstanceHealth(inst, c.Now)
		out.Statuses = append(out.Statuses, ec2InstanceStatusXML{InstanceID: inst.ID, AvailabilityZone: inst.AZ,
			AvailabilityZoneID: ec2AZID(inst.AZ), InstanceState: ec2StateXML(inst.State), SystemStatus: sys, InstanceStatus: ins})
	}
	return out, nil
}

func ec2DetailStatus(s ec2StatusSummaryXML) []string {
	if len(s.Details) == 0 {
		return nil
	}
	return ec2One(s.Details[0].Status)
}

// ---- Start / Stop / Terminate / Reboot ----

type ec2StateChangeXML struct {
	InstanceID    string              `xml:"instanceId"`
	CurrentState  ec2InstanceStateXML `xml:"currentState"`
	PreviousState ec2InstanceStateXML `xml:"previousState"`
}

type ec2StateChangesXML struct {
	Instances []ec2StateChangeXML `xml:"instancesSet>item"`
}

func ec2StopInstances(c *Call) (any, error) {
	return ec2ChangeState(c, "This instance '%s' is not in a state from which it can be stopped.",
		StateRunning, StateStopping, StateRunning, StateStopping, StateStopped)
}

func ec2StartInstances(c *Call) (any, error) {
	return ec2ChangeState(c, "The instance '%s' is not in a state from which it can be started.",
		StateStopped, StatePending, StateStopped, StatePending, StateRunning)
}

// ec2ChangeState is StopInstances and StartInstances: every instance must
// be in one of allowed (else nothing changes, as EC2 checks the whole
// request first, and refusal names the first that is not); those in from
// move to to, the others are reported as they are (already on their way).
func ec2ChangeState(c *Call, refusal, from, to string, allowed ...string) (any, error) {
	insts, e := ec2InstancesFor(c)
	if e != nil {
		return nil, e
	}
	for _, inst := range insts {
		if !slices.Contains(allowed, inst.State) {
			return nil, Errorf("IncorrectInstanceState", refusal, inst.ID)
		}
	}
	var out ec2StateChangesXML
	for _, inst := range insts {
		prev := inst.State
		if inst.State == from {
			inst.State, inst.StateSince, inst.StateReason = to, c.Now, ""
		}
		out.Instances = append(out.Instances, ec2StateChangeXML{inst.ID, ec2StateXML(inst.State), ec2StateXML(prev)})
	}
	return out, nil
}

func ec2TerminateInstances(c *Call) (any, error) {
	insts, e := ec2InstancesFor(c)
	if e != nil {
		return nil, e
	}
	var out ec2StateChangesXML
	for _, inst := range insts {
		prev := inst.State
		c.World.TerminateInstance(inst, c.Now)
		out.Instances = append(out.Instances, ec2StateChangeXML{inst.ID, ec2StateXML(inst.State), ec2StateXML(prev)})
	}
	return out, nil
}

func ec2RebootInstances(c *Call) (any, error) {
	insts, e := ec2InstancesFor(c)
	if e != nil {
		return nil, e
	}
	for _, inst := range insts {
		if inst.State != StateRunning && inst.State != StatePending {
			return nil, Errorf("IncorrectInstanceState", "The instance '%s' is not in a state from which it can be rebooted.", inst.ID)
		}
	}
	return ec2ReturnTrue, nil
}

// ---- instance attributes ----

func ec2AttrValue(f map[string][]string, attr, name string) (string, bool) {
	if formHas(f, name+".Value") {
		return formGet(f, name+".Value"), true
	}
	if strings.EqualFold(formGet(f, "Attribute"), name) && formHas(f, "Value") {
		return formGet(f, "Value"), true
	}
	return "", false
}

func ec2ModifyInstanceAttribute(c *Call) (any, error) {
	f := c.Form
	inst, e := ec2InstanceFor(c, formGet(f, "InstanceId"))
	if e != nil {
		return nil, e
	}
	changed := false
	if v, ok := ec2AttrValue(f, "instanceType", "InstanceType"); ok {
		if inst.State != StateStopped {
			return nil, Errorf("IncorrectInstanceState", "The instance '%s' is not in the 'stopped' state.", inst.ID)
		}
		if !ec2InstanceTypeRE.MatchString(v) {
			return nil, errInvalidParameterValue("Invalid value '%s' for InstanceType.", v)
		}
		if ec2InstanceTypeArch(v) != inst.Architecture {
			return nil, errInvalidParameterValue("The architecture of instance type %s does not match the instance's architecture %s.", v, inst.Architecture)
		}
		inst.InstanceType, changed = v, true
	}
	if v, ok := ec2AttrValue(f, "userData", "UserData"); ok {
		if inst.State != StateStopped {
			return nil, Errorf("IncorrectInstanceState", "The instance '%s' is not in the 'stopped' state.", inst.ID)
		}
		inst.UserData, changed = v, true
	}
	if ids := formList(f, "GroupId"); len(ids) > 0 {
		groups, e := c.World.ec2ResolveGroups(c, inst.VpcID, ids, nil)
		if e != nil {
			return nil, e
		}
		inst.SecurityGroupIDs, changed = groups, true
	}
	// ENA and SR-IOV are always on for the sandbox's images; accepting
	// them keeps packer's ena_support/sriov_support settings working.
	for _, name := range []string{"EnaSupport", "SriovNetSupport", "SourceDestCheck"} {
		if _, ok := ec2AttrValue(f, name, name); ok {
			changed = true
		}
	}
	if !changed {
		return nil, Errorf("InvalidParameterCombination", "No attributes specified, or the sandbox does not model the attribute given.")
	}
	return ec2ReturnTrue, nil
}

func ec2DescribeInstanceAttribute(c *Call) (any, error) {
	inst, e := ec2InstanceFor(c, formGet(c.Form, "InstanceId"))
	if e != nil {
		return nil, e
	}
	type boolValue struct {
		Value bool `xml:"value"`
	}
	out := struct {
		InstanceID            string              `xml:"instanceId"`
		InstanceType          *ec2ValueXML        `xml:"instanceType,omitempty"`
		UserData              *ec2ValueXML        `xml:"userData,omitempty"`
		RootDeviceName        *ec2ValueXML        `xml:"rootDeviceName,omitempty"`
		ShutdownBehavior      *ec2ValueXML        `xml:"instanceInitiatedShutdownBehavior,omitempty"`
		DisableAPITermination *boolValue          `xml:"disableApiTermination,omitempty"`
		SourceDestCheck       *boolValue          `xml:"sourceDestCheck,omitempty"`
		EbsOptimized          *boolValue          `xml:"ebsOptimized,omitempty"`
		EnaSupport            *boolValue          `xml:"enaSupport,omitempty"`
		Groups                []ec2GroupXML       `xml:"groupSet>item"`
		BlockDeviceMapping    []ec2InstanceBdmXML `xml:"blockDeviceMapping>item"`
	}{InstanceID: inst.ID}
	x := c.World.ec2InstanceXML(inst)
	switch attr := formGet(c.Form, "Attribute"); attr {
	case "instanceType":
		out.InstanceType = &ec2ValueXML{inst.InstanceType}
	case "userData":
		out.UserData = &ec2ValueXML{inst.UserData}
	case "rootDeviceName":
		out.RootDeviceName = &ec2ValueXML{x.RootDeviceName}
	case "instanceInitiatedShutdownBehavior":
		out.ShutdownBehavior = &ec2ValueXML{"stop"}
	case "disableApiTermination":
		out.DisableAPITermination = &boolValue{false}
	case "sourceDestCheck":
		out.SourceDestCheck = &boolValue{true}
	case "ebsOptimized":
		out.EbsOptimized = &boolValue{false}
	case "enaSupport":
		out.EnaSupport = &boolValue{true}
	case "groupSet":
		out.Groups = x.Groups
	case "blockDeviceMapping":
		out.BlockDeviceMapping = x.BlockDeviceMapping
	case "":
		return nil, errMissingParameter("Attribute")
	default:
		return nil, errInvalidParameterValue("Value (%s) for parameter attribute is invalid.", attr)
	}
	return out, nil
}

// ---- DescribeInstanceTypeOfferings ----

// ec2OfferedInstanceTypes are the types every region and AZ of the sandbox offers.
var ec2OfferedInstanceTypes = []string{
	"c5.large", "c5.xlarge", "c6g.large", "c6i.large", "c7g.large", "c7i.large",
	"m5.large", "m5.xlarge", "m6g.large", "m6i.large", "m7g.large", "m7i.large",
	"r6g.large", "r6i.large", "t3.large", "t3.medium", "t3.micro", "t3.small",
	"t3a.medium", "t3a.small", "t4g.medium", "t4g.micro", "t4g.small",
}

func ec2DescribeInstanceTypeOfferings(c *Call) (any, error) {
	f := c.Form
	lt := formGet(f, "LocationType")
	if lt == "" {
		lt = "region"
	}
	var locations []string
	switch lt {
	case "region":
		locations = []string{c.Region}
	case "availability-zone":
		for _, z := range []string{"a", "b", "c"} {
			locations = append(locations, c.Region+z)
		}
	case "availability-zone-id":
		for _, z := range []string{"a", "b", "c"} {
			locations = append(locations, ec2AZID(c.Region+z))
		}
	default:
		return nil, errInvalidParameterValue("Value (%s) for parameter locationType is invalid.", lt)
	}
	type offering struct {
		InstanceType string `xml:"instanceType"`
		LocationType string `xml:"locationType"`
		Location     string `xml:"location"`
	}
	var items []offering
	for _, loc := range locations {
		for _, t := range ec2OfferedInstanceTypes {
			items = append(items, offering{t, lt, loc})
		}
	}
	filters, e := ec2ParseFilters(f)
	if e != nil {
		return nil, e
	}
	items, e = ec2ApplyFilters(items, filters, ec2FilterFields[offering]{
		"instance-type": func(o offering) []string { return ec2One(o.InstanceType) },
		"location":      func(o offering) []string { return ec2One(o.Location) },
	}, nil)
	if e != nil {
		return nil, e
	}
	key := func(o offering) string { return o.Location + "/" + o.InstanceType }
	ec2SortBy(items, key)
	page, next, e := ec2Paginate(f, items, key, 5, 1000)
	if e != nil {
		return nil, e
	}
	return struct {
		Offerings []offering `xml:"instanceTypeOfferingSet>item"`
		NextToken string     `xml:"nextToken,omitempty"`
	}{page, next}, nil
}
