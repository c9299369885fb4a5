package sandbox

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"
)

// ec2DeregisteredVisibleFor is how long a deregistered image still answers a
// DescribeImages by its id (state "deregistered"), as EC2 does for "a
// short interval"; afterwards such a query returns nothing.
const ec2DeregisteredVisibleFor = 10 * time.Minute

// ---- XML ----

type ec2ImageXML struct {
	ImageID            string             `xml:"imageId"`
	ImageLocation      string             `xml:"imageLocation"`
	State              string             `xml:"imageState"`
	OwnerID            string             `xml:"imageOwnerId"`
	CreationDate       string             `xml:"creationDate"`
	IsPublic           bool               `xml:"isPublic"`
	Architecture       string             `xml:"architecture"`
	ImageType          string             `xml:"imageType"`
	ImageOwnerAlias    string             `xml:"imageOwnerAlias,omitempty"`
	Name               string             `xml:"name"`
	Description        string             `xml:"description,omitempty"`
	RootDeviceType     string             `xml:"rootDeviceType"`
	RootDeviceName     string             `xml:"rootDeviceName"`
	BlockDeviceMapping []ec2BdmXML        `xml:"blockDeviceMapping>item"`
	VirtualizationType string             `xml:"virtualizationType"`
	Hypervisor         string             `xml:"hypervisor"`
	EnaSupport         bool               `xml:"enaSupport"`
	SriovNetSupport    string             `xml:"sriovNetSupport"`
	PlatformDetails    string             `xml:"platformDetails"`
	UsageOperation     string             `xml:"usageOperation"`
	BootMode           string             `xml:"bootMode"`
	ImdsSupport        string             `xml:"imdsSupport,omitempty"`
	DeprecationTime    string             `xml:"deprecationTime,omitempty"`
	SourceInstanceID   string             `xml:"sourceInstanceId,omitempty"`
	SourceImageID      string             `xml:"sourceImageId,omitempty"`
	SourceImageRegion  string             `xml:"sourceImageRegion,omitempty"`
	StateReason        *ec2StateReasonXML `xml:"stateReason,omitempty"`
	Tags               []ec2TagXML        `xml:"tagSet>item"`
}

type ec2BdmXML struct {
	DeviceName string     `xml:"deviceName"`
	Ebs        *ec2EbsXML `xml:"ebs,omitempty"`
	NoDevice   *string    `xml:"noDevice,omitempty"`
}

type ec2EbsXML struct {
	SnapshotID          string `xml:"snapshotId,omitempty"`
	VolumeSize          int    `xml:"volumeSize"`
	DeleteOnTermination bool   `xml:"deleteOnTermination"`
	VolumeType          string `xml:"volumeType"`
	Iops                int    `xml:"iops,omitempty"`
	Throughput          int    `xml:"throughput,omitempty"`
	Encrypted           bool   `xml:"encrypted"`
	KMSKeyID            string `xml:"kmsKeyId,omitempty"`
}

func ec2BootMode(arch string) string {
	if arch == "arm64" {
		return "uefi"
	}
	return "uefi-preferred"
}

func (img *Image) ec2XML(caller string) ec2ImageXML {
	loc := img.Account + "/" + img.Name
	if img.OwnerAlias != "" {
		loc = img.OwnerAlias + "/" + img.Name
	}
	x := ec2ImageXML{
		ImageID: img.ID, ImageLocation: loc, State: img.State, OwnerID: img.Account,
		CreationDate: ec2Time(img.CreationDate), IsPublic: img.Public, Architecture: img.Architecture,
		ImageType: "machine", ImageOwnerAlias: img.OwnerAlias, Name: img.Name, Description: img.Description,
		RootDeviceType: "ebs", RootDeviceName: img.RootDeviceName, VirtualizationType: "hvm", Hypervisor: "xen",
		EnaSupport: true, SriovNetSupport: "simple", PlatformDetails: "Linux/UNIX", UsageOperation: "RunInstances",
		BootMode: ec2BootMode(img.Architecture), ImdsSupport: img.ImdsSupport, DeprecationTime: ec2Time(img.DeprecationTime),
		SourceImageID: img.SourceImageID, SourceImageRegion: img.SourceRegion, Tags: ec2TagsXML(img.Tags),
	}
	if caller == img.Account {
		x.SourceInstanceID = img.SourceInstanceID
	}
	for _, bd := range img.BlockDevices {
		x.BlockDeviceMapping = append(x.BlockDeviceMapping, ec2BdmXML{DeviceName: bd.DeviceName, Ebs: &ec2EbsXML{
			SnapshotID: bd.SnapshotID, VolumeSize: bd.VolumeSize, DeleteOnTermination: bd.DeleteOnTermination,
			VolumeType: bd.VolumeType, Encrypted: bd.Encrypted, KMSKeyID: bd.KMSKeyID,
		}})
	}
	if img.StateReason != "" {
		code := "Server.InternalError"
		if img.State == ec2ImageDeregistered {
			code = "Client.UserInitiatedShutdown"
		}
		x.StateReason = &ec2StateReasonXML{Code: code, Message: img.StateReason}
	}
	return x
}

// ---- lookups and rules ----

var ec2ImageIDRE = regexp.MustCompile(`^ami-[0-9a-f]{8,17}$`)

func (img *Image) ec2Deprecated(now time.Time) bool {
	return !img.DeprecationTime.IsZero() && !img.DeprecationTime.After(now)
}

// ec2VisibleTo reports whether account can see (and launch) the image now.
func (img *Image) ec2VisibleTo(account string, now time.Time) bool {
	return !ec2Hidden(img.VisibleAt, now) && img.launchableBy(account)
}

// ec2ImageFor returns an image the caller can see in its region.
func ec2ImageFor(c *Call, id string) (*Image, *APIError) {
	if id == "" {
		return nil, errMissingParameter("ImageId")
	}
	if !ec2ImageIDRE.MatchString(id) {
		return nil, Errorf("InvalidAMIID.Malformed", "Invalid id: %q (expecting \"ami-...\")", id)
	}
	img := c.World.EC2.Images[id]
	if img == nil || img.Region != c.Region || !img.ec2VisibleTo(c.Account, c.Now) || img.State == ec2ImageDeregistered {
		return nil, ec2NotFound("image", id)
	}
	return img, nil
}

// ec2OwnImage returns an image the caller owns (modify, deregister, deprecate).
func ec2OwnImage(c *Call, id string) (*Image, *APIError) {
	img, err := ec2ImageFor(c, id)
	if err != nil {
		return nil, err
	}
	if img.Account != c.Account {
		return nil, &APIError{Status: 401, Code: "AuthFailure", Message: "Not authorized for image:" + id, Sender: true}
	}
	return img, nil
}

var ec2AMINameRE = regexp.MustCompile(`^[A-Za-z0-9()\[\] ./\-'@_]{3,128}$`)

// ec2CheckImageName enforces EC2's name rules and per-account, per-region
// uniqueness among registered images.
func ec2CheckImageName(w *World, account, region, name string) *APIError {
	if name == "" {
		return errMissingParameter("Name")
	}
	if !ec2AMINameRE.MatchString(name) {
		return Errorf("InvalidAMIName.Malformed", "AMI names must be between 3 and 128 characters long, and may contain letters, numbers, '(', ')', '.', '-', '/', '_', spaces, apostrophes, '@' and brackets: %q", name)
	}
	for _, img := range w.EC2.Images {
		if img.Account == account && img.Region == region && img.Name == name && img.State != ec2ImageDeregistered {
			return Errorf("InvalidAMIName.Duplicate", "AMI name %s is already in use by AMI %s", name, img.ID)
		}
	}
	return nil
}

// ec2SnapshotInUse returns the registered image using a snapshot, if any.
func (w *World) ec2SnapshotInUse(snapID string) *Image {
	for _, img := range w.EC2.Images {
		if img.State == ec2ImageDeregistered {
			continue
		}
		for _, bd := range img.BlockDevices {
			if bd.SnapshotID == snapID {
				return img
			}
		}
	}
	return nil
}

// ec2TickImages moves pending images to available and completes snapshots.
// It looks at the pending ones only (ec2_index.go): walking 50,000 images
// and snapshots before every request was most of a big world's cost.
func (w *World) ec2TickImages(now time.Time) {
	p := w.EC2.pending()
	for id, img := range p.img {
		if img.State != ec2ImagePending {
			delete(p.img, id)
			continue
		}
		if !img.AvailableAt.After(now) {
			img.State, img.StateSince = ec2ImageAvailable, img.AvailableAt
			delete(p.img, id)
		}
	}
	for id, s := range p.snap {
		if s.State != "pending" {
			delete(p.snap, id)
			continue
		}
		if !s.CompleteAt.After(now) {
			s.State, s.StateSince = "completed", s.CompleteAt
			delete(p.snap, id)
		}
	}
	if ec2IndexAudit {
		w.ec2AuditTick(now)
	}
}

// ec2AuditTick is the walk the pending set saves: anything it still finds
// to move on was missed.
func (w *World) ec2AuditTick(now time.Time) {
	for _, img := range w.EC2.Images {
		if img.State == ec2ImagePending && !img.AvailableAt.After(now) {
			ec2AuditFail("tick: pending image %s (available at %s) not in the pending set", img.ID, img.AvailableAt)
			img.State, img.StateSince = ec2ImageAvailable, img.AvailableAt
		}
	}
	for _, s := range w.EC2.Snapshots {
		if s.State == "pending" && !s.CompleteAt.IsZero() && !s.CompleteAt.After(now) {
			ec2AuditFail("tick: pending snapshot %s (complete at %s) not in the pending set", s.ID, s.CompleteAt)
			s.State, s.StateSince = "completed", s.CompleteAt
		}
	}
}

// ---- DescribeImages ----

var ec2ImageFilters = ec2FilterFields[*Image]{
	"architecture":        func(i *Image) []string { return ec2One(i.Architecture) },
	"name":                func(i *Image) []string { return ec2One(i.Name) },
	"state":               func(i *Image) []string { return ec2One(i.State) },
	"image-id":            func(i *Image) []string { return ec2One(i.ID) },
	"image-type":          func(*Image) []string { return ec2One("machine") },
	"is-public":           func(i *Image) []string { return ec2Bool(i.Public) },
	"owner-alias":         func(i *Image) []string { return ec2One(i.OwnerAlias) },
	"owner-id":            func(i *Image) []string { return ec2One(i.Account) },
	"description":         func(i *Image) []string { return ec2One(i.Description) },
	"root-device-type":    func(*Image) []string { return ec2One("ebs") },
	"root-device-name":    func(i *Image) []string { return ec2One(i.RootDeviceName) },
	"virtualization-type": func(*Image) []string { return ec2One("hvm") },
	"hypervisor":          func(*Image) []string { return ec2One("xen") },
	"ena-support":         func(*Image) []string { return ec2Bool(true) },
	"platform-details":    func(*Image) []string { return ec2One("Linux/UNIX") },
	"imds-support":        func(i *Image) []string { return ec2One(i.ImdsSupport) },
	"boot-mode":           func(i *Image) []string { return ec2One(ec2BootMode(i.Architecture)) },
	"creation-date":       func(i *Image) []string { return ec2One(ec2Time(i.CreationDate)) },
	"source-instance-id":  func(i *Image) []string { return ec2One(i.SourceInstanceID) },
	"source-image-id":     func(i *Image) []string { return ec2One(i.SourceImageID) },
	"source-image-region": func(i *Image) []string { return ec2One(i.SourceRegion) },
	"manifest-location": func(i *Image) []string {
		if i.OwnerAlias != "" {
			return ec2One(i.OwnerAlias + "/" + i.Name)
		}
		return ec2One(i.Account + "/" + i.Name)
	},
	"block-device-mapping.device-name": func(i *Image) []string { return ec2BdVals(i, func(b BlockDevice) string { return b.DeviceName }) },
	"block-device-mapping.snapshot-id": func(i *Image) []string { return ec2BdVals(i, func(b BlockDevice) string { return b.SnapshotID }) },
	"block-device-mapping.volume-type": func(i *Image) []string { return ec2BdVals(i, func(b BlockDevice) string { return b.VolumeType }) },
	"block-device-mapping.volume-size": func(i *Image) []string {
		return ec2BdVals(i, func(b BlockDevice) string { return fmt.Sprint(b.VolumeSize) })
	},
	"block-device-mapping.encrypted": func(i *Image) []string {
		return ec2BdVals(i, func(b BlockDevice) string { return fmt.Sprint(b.Encrypted) })
	},
	"block-device-mapping.delete-on-termination": func(i *Image) []string {
		return ec2BdVals(i, func(b BlockDevice) string { return fmt.Sprint(b.DeleteOnTermination) })
	},
}

func ec2BdVals(i *Image, f func(BlockDevice) string) []string {
	out := make([]string, 0, len(i.BlockDevices))
	for _, b := range i.BlockDevices {
		out = append(out, f(b))
	}
	return out
}

// ec2OwnerMatches implements DescribeImages Owners: self, amazon,
// aws-marketplace, aws-backup-vault or an account id.
func ec2OwnerMatches(img *Image, owners []string, caller string) bool {
	for _, o := range owners {
		switch o {
		case "self":
			if img.Account == caller {
				return true
			}
		case "amazon", "aws-marketplace", "aws-backup-vault":
			if img.OwnerAlias == o {
				return true
			}
		default:
			if img.Account == o {
				return true
			}
		}
	}
	return false
}

// ec2ExecutableMatches implements ExecutableBy: all (public images), self or
// the caller's id (images shared with the caller), another account id
// (images shared with that account).
func ec2ExecutableMatches(img *Image, users []string, caller string) bool {
	for _, u := range users {
		switch u {
		case "all":
			if img.Public {
				return true
			}
		case "self":
			if ec2Contains(img.LaunchPermissions, caller) {
				return true
			}
		default:
			if ec2Contains(img.LaunchPermissions, u) {
				return true
			}
		}
	}
	return false
}

func ec2Contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func ec2DescribeImages(c *Call) (any, error) {
	f := c.Form
	ids := ec2Dedupe(formList(f, "ImageId"))
	owners := formList(f, "Owner")
	execBy := formList(f, "ExecutableBy")
	for _, id := range ids {
		if !ec2ImageIDRE.MatchString(id) {
			return nil, Errorf("InvalidAMIID.Malformed", "Invalid id: %q (expecting \"ami-...\")", id)
		}
	}
	for _, o := range owners {
		switch o {
		case "self", "amazon", "aws-marketplace", "aws-backup-vault":
		default:
			if !ec2AccountIDRE.MatchString(o) {
				return nil, Errorf("InvalidUserID.Malformed", "Invalid user id: %q", o)
			}
		}
	}
	for _, u := range execBy {
		if u != "self" && u != "all" && !ec2AccountIDRE.MatchString(u) {
			return nil, Errorf("InvalidUserID.Malformed", "Invalid user id: %q", u)
		}
	}
	if e := ec2NoMaxWithIDs(f, ids, "imageId"); e != nil {
		return nil, e
	}
	filters, e := ec2ParseFilters(f)
	if e != nil {
		return nil, e
	}
	ms, e := ec2CompileImageFilters(filters)
	if e != nil {
		return nil, e
	}
	q := ec2ImageQuery{owners: owners, execBy: execBy, ms: ms, includeDeprecated: formBool(f, "IncludeDeprecated")}
	w := c.World

	var page []*Image
	var next string
	if len(ids) > 0 {
		var items []*Image
		var missing []string
		for _, id := range ids {
			img := w.EC2.Images[id]
			if img == nil || img.Region != c.Region || !img.ec2VisibleTo(c.Account, c.Now) {
				missing = append(missing, id)
				continue
			}
			if img.State == ec2ImageDeregistered {
				// Still answered for a short while, then silently absent.
				if c.Now.Sub(img.StateSince) < ec2DeregisteredVisibleFor {
					items = append(items, img)
				}
				continue
			}
			items = append(items, img)
		}
		if len(missing) > 0 {
			return nil, Errorf("InvalidAMIID.NotFound", "The image id '[%s]' does not exist", strings.Join(missing, ", "))
		}
		kept := items[:0]
		for _, img := range items {
			if q.match(c, img) {
				kept = append(kept, img)
			}
		}
		ec2SortBy(kept, func(i *Image) string { return i.ID })
		if page, next, e = ec2Paginate(f, kept, func(i *Image) string { return i.ID }, 6, 1000); e != nil {
			return nil, e
		}
	} else {
		if page, next, e = ec2DescribeImagesIndexed(c, q); e != nil {
			return nil, e
		}
		if ec2IndexAudit {
			scan, scanNext, se := ec2DescribeImagesScan(c, q)
			if ok, diff := ec2SameImages(page, scan, next, scanNext); se == nil && !ok {
				ec2AuditFail("DescribeImages %v: %s", filters, diff)
				return nil, &APIError{Status: 500, Code: "InternalError", Message: "sandbox: image index out of date: " + diff}
			}
		}
	}
	out := struct {
		Images    []ec2ImageXML `xml:"imagesSet>item"`
		NextToken string        `xml:"nextToken,omitempty"`
	}{NextToken: next}
	for _, img := range page {
		out.Images = append(out.Images, img.ec2XML(c.Account))
	}
	return out, nil
}

// ec2ImageMatcher is one DescribeImages filter compiled once per request:
// its literal values in a set, its wildcard patterns apart. Matching an
// image then costs a map lookup per value it has (plus the patterns), not
// a wildcard match of every filter value against it — plan sends 200
// fingerprints in one tag filter, over tens of thousands of images.
type ec2ImageMatcher struct {
	name     string
	tag      string // for tag:K, K
	isTag    bool
	exact    map[string]bool
	patterns []string
}

func ec2CompileImageFilter(fl ec2Filter) ec2ImageMatcher {
	m := ec2ImageMatcher{name: fl.Name, exact: make(map[string]bool, len(fl.Values))}
	if _, field := ec2ImageFilters[fl.Name]; !field && strings.HasPrefix(fl.Name, "tag:") {
		m.tag, m.isTag = strings.TrimPrefix(fl.Name, "tag:"), true
	}
	for _, v := range fl.Values {
		if strings.ContainsAny(v, "*?") {
			m.patterns = append(m.patterns, v)
		} else {
			m.exact[v] = true
		}
	}
	return m
}

func (m *ec2ImageMatcher) matchValue(h string) bool {
	if m.exact[h] {
		return true
	}
	for _, p := range m.patterns {
		if wildcard(p, h) {
			return true
		}
	}
	return false
}

func (m *ec2ImageMatcher) match(img *Image) bool {
	if m.isTag {
		v, ok := img.Tags[m.tag]
		return ok && m.matchValue(v)
	}
	for _, h := range ec2FilterValues(img, m.name, ec2ImageFilters, func(i *Image) Tags { return i.Tags }) {
		if m.matchValue(h) {
			return true
		}
	}
	return false
}

// ec2CompileImageFilters validates filters exactly as for every other
// resource (unknown names, missing values) and compiles them, the most
// selective — tag:K — first.
func ec2CompileImageFilters(filters []ec2Filter) ([]ec2ImageMatcher, *APIError) {
	if len(filters) == 0 {
		return nil, nil
	}
	if _, e := ec2ApplyFilters(nil, filters, ec2ImageFilters, func(i *Image) Tags { return i.Tags }); e != nil {
		return nil, e
	}
	ms := make([]ec2ImageMatcher, len(filters))
	for i, fl := range filters {
		ms[i] = ec2CompileImageFilter(fl)
	}
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].isTag && !ms[j].isTag })
	return ms, nil
}

// ec2ImageQuery is what a DescribeImages asks of each image besides its
// ids: Owners, ExecutableBy, the filters, IncludeDeprecated.
type ec2ImageQuery struct {
	owners, execBy    []string
	ms                []ec2ImageMatcher
	includeDeprecated bool
}

func (q *ec2ImageQuery) match(c *Call, img *Image) bool {
	if len(q.owners) > 0 && !ec2OwnerMatches(img, q.owners, c.Account) {
		return false
	}
	if len(q.execBy) > 0 && !ec2ExecutableMatches(img, q.execBy, c.Account) {
		return false
	}
	for i := range q.ms {
		if !q.ms[i].match(img) {
			return false
		}
	}
	return true
}

// listed: without ids, DescribeImages lists the region's registered images
// the caller can see, deprecated ones only when asked or its own.
func (q *ec2ImageQuery) listed(c *Call, img *Image) bool {
	if img.Region != c.Region || img.State == ec2ImageDeregistered || !img.ec2VisibleTo(c.Account, c.Now) {
		return false
	}
	return !img.ec2Deprecated(c.Now) || q.includeDeprecated || img.Account == c.Account
}

// ec2PageAfter is the id a NextToken's page starts after ("" for the first
// page or a malformed token, which ec2Paginate rejects).
func ec2PageAfter(c *Call) string {
	if raw, err := base64.RawURLEncoding.DecodeString(formGet(c.Form, "NextToken")); err == nil && strings.HasPrefix(string(raw), "after:") {
		return strings.TrimPrefix(string(raw), "after:")
	}
	return ""
}

// ec2DescribeImagesIndexed answers a DescribeImages without ids from the
// image index: the candidates of its most selective filter, already sorted
// by id, from the token on, and no further than one image past the page.
func ec2DescribeImagesIndexed(c *Call, q ec2ImageQuery) ([]*Image, string, *APIError) {
	cands := ec2ImageCandidates(c.World.EC2, c.Region, q.ms)
	if after := ec2PageAfter(c); after != "" {
		cands = cands[sort.Search(len(cands), func(i int) bool { return cands[i].ID > after }):]
	}
	limit := -1 // the whole list: no MaxResults, or one ec2Paginate rejects
	if formHas(c.Form, "MaxResults") {
		if n, err := formInt(c.Form, "MaxResults", 0); err == nil && n >= 6 && n <= 1000 {
			limit = n
		}
	}
	var items []*Image
	for _, img := range cands {
		if !q.listed(c, img) || !q.match(c, img) {
			continue
		}
		items = append(items, img)
		if limit >= 0 && len(items) > limit {
			break // enough to know there is a next page
		}
	}
	return ec2Paginate(c.Form, items, func(i *Image) string { return i.ID }, 6, 1000)
}

// ec2DescribeImagesScan is the same answer from a walk of every image: the
// audit's reference.
func ec2DescribeImagesScan(c *Call, q ec2ImageQuery) ([]*Image, string, *APIError) {
	after := ec2PageAfter(c)
	var items []*Image
	for _, img := range c.World.EC2.Images {
		if after != "" && img.ID <= after {
			continue
		}
		if q.listed(c, img) && q.match(c, img) {
			items = append(items, img)
		}
	}
	ec2SortBy(items, func(i *Image) string { return i.ID })
	return ec2Paginate(c.Form, items, func(i *Image) string { return i.ID }, 6, 1000)
}

// ---- block device mappings in requests ----

// parseBlockDeviceSpecs reads prefix.N.{DeviceName,NoDevice,Ebs.*}.
func ec2ParseBlockDevices(f url.Values, prefix string) ([]BlockDeviceSpec, *APIError) {
	var out []BlockDeviceSpec
	for _, p := range formStructs(f, prefix) {
		bd := BlockDeviceSpec{DeviceName: formGet(f, p+".DeviceName")}
		if bd.DeviceName == "" {
			return nil, errMissingParameter(p + ".DeviceName")
		}
		if formHas(f, p+".NoDevice") {
			bd.NoDevice = true
		}
		e := p + ".Ebs."
		bd.SnapshotID = formGet(f, e+"SnapshotId")
		bd.VolumeType = formGet(f, e+"VolumeType")
		bd.KMSKeyID = formGet(f, e+"KmsKeyId")
		var err error
		if bd.VolumeSize, err = formInt(f, e+"VolumeSize", 0); err != nil {
			return nil, err.(*APIError)
		}
		if bd.Iops, err = formInt(f, e+"Iops", 0); err != nil {
			return nil, err.(*APIError)
		}
		if bd.Throughput, err = formInt(f, e+"Throughput", 0); err != nil {
			return nil, err.(*APIError)
		}
		if formHas(f, e+"Encrypted") {
			v := formBool(f, e+"Encrypted")
			bd.Encrypted = &v
		}
		if formHas(f, e+"DeleteOnTermination") {
			v := formBool(f, e+"DeleteOnTermination")
			bd.DeleteOnTermination = &v
		}
		if bd.VolumeType != "" && !ec2ValidVolumeType(bd.VolumeType) {
			return nil, errInvalidParameterValue("Value (%s) for parameter volumeType is invalid. Valid values: standard, io1, io2, gp2, gp3, sc1, st1", bd.VolumeType)
		}
		out = append(out, bd)
	}
	return out, nil
}

// ---- CreateImage ----

func ec2CreateImage(c *Call) (any, error) {
	f, w := c.Form, c.World
	inst, e := ec2InstanceFor(c, formGet(f, "InstanceId"))
	if e != nil {
		return nil, e
	}
	name := formGet(f, "Name")
	if e := ec2CheckImageName(w, c.Account, c.Region, name); e != nil {
		return nil, e
	}
	if inst.State != StateRunning && inst.State != StateStopped {
		return nil, Errorf("IncorrectInstanceState", "The instance '%s' is not in a state from which it can be imaged: Instance is not in state 'running' or 'stopped'", inst.ID)
	}
	overrides, e := ec2ParseBlockDevices(f, "BlockDeviceMapping")
	if e != nil {
		return nil, e
	}
	specs, e := ec2ParseTagSpecs(f, "TagSpecification", "image", "snapshot")
	if e != nil {
		return nil, e
	}
	now := c.Now
	ready := now.Add(w.Timing.ImageCreate)
	src := w.EC2.Images[inst.ImageID]
	rootName := "/dev/xvda"
	if src != nil && src.RootDeviceName != "" {
		rootName = src.RootDeviceName
	}
	img := &Image{
		ID: w.NewID("ami"), Account: c.Account, Region: c.Region, Name: name,
		Description: formGet(f, "Description"), State: ec2ImagePending, StateSince: now, CreationDate: now,
		Architecture: inst.Architecture, RootDeviceName: rootName, Tags: cloneTags(specs["image"]),
		SourceInstanceID: inst.ID, Content: inst.Content.Clone(), AvailableAt: ready, VisibleAt: ec2VisibleAt(c),
	}
	// One new snapshot per attached volume, then the request's overrides.
	devices := inst.BlockDevices
	if len(devices) == 0 && inst.RootVolumeID != "" {
		devices = []InstanceBlockDevice{{DeviceName: rootName, VolumeID: inst.RootVolumeID, DeleteOnTermination: true}}
	}
	var bds []BlockDevice
	for _, d := range devices {
		vol := w.EC2.Volumes[d.VolumeID]
		if vol == nil {
			continue
		}
		bds = append(bds, BlockDevice{DeviceName: d.DeviceName, VolumeSize: vol.Size, VolumeType: vol.Type,
			Encrypted: vol.Encrypted, KMSKeyID: vol.KMSKeyID, DeleteOnTermination: d.DeleteOnTermination, SnapshotID: vol.ID})
	}
	bds, e = ec2ApplyImageOverrides(w, c.Region, bds, overrides, rootName)
	if e != nil {
		return nil, e
	}
	for i := range bds {
		bd := &bds[i]
		if !strings.HasPrefix(bd.SnapshotID, "vol-") {
			continue // an existing snapshot named by an override
		}
		volID := bd.SnapshotID
		snap := &Snapshot{
			ID: w.NewID("snap"), Account: c.Account, Region: c.Region, VolumeID: volID, VolumeSize: bd.VolumeSize,
			State: "pending", StartTime: now, StateSince: now, CompleteAt: ready, Encrypted: bd.Encrypted, KMSKeyID: bd.KMSKeyID,
			Description: fmt.Sprintf("Created by CreateImage(%s) for %s", inst.ID, img.ID),
			Tags:        cloneTags(specs["snapshot"]), VisibleAt: img.VisibleAt,
		}
		w.EC2.Snapshots[snap.ID] = snap
		bd.SnapshotID = snap.ID
		if bd.DeviceName == rootName && bd.Encrypted {
			img.Encrypted = true
		}
	}
	img.BlockDevices = bds
	w.EC2.Images[img.ID] = img
	return struct {
		ImageID string `xml:"imageId"`
	}{img.ID}, nil
}

// ec2ApplyImageOverrides applies CreateImage's BlockDeviceMapping: NoDevice
// drops a device, sizes may grow, new devices come from a snapshot or are
// empty volumes (represented by a fresh snapshot).
func ec2ApplyImageOverrides(w *World, region string, bds []BlockDevice, overrides []BlockDeviceSpec, root string) ([]BlockDevice, *APIError) {
	for _, o := range overrides {
		idx := -1
		for i := range bds {
			if bds[i].DeviceName == o.DeviceName {
				idx = i
			}
		}
		if o.NoDevice {
			if o.DeviceName == root {
				return nil, Errorf("InvalidBlockDeviceMapping", "The device '%s' is the root device and cannot be suppressed", root)
			}
			if idx >= 0 {
				bds = append(bds[:idx], bds[idx+1:]...)
			}
			continue
		}
		if idx < 0 {
			nb := BlockDevice{DeviceName: o.DeviceName, VolumeType: "gp2", DeleteOnTermination: true, SnapshotID: "vol-ffffffff"}
			if o.SnapshotID != "" {
				snap := w.EC2.Snapshots[o.SnapshotID]
				if snap == nil || snap.Region != region {
					return nil, ec2NotFound("snapshot", o.SnapshotID)
				}
				nb.SnapshotID, nb.VolumeSize, nb.Encrypted, nb.KMSKeyID = snap.ID, snap.VolumeSize, snap.Encrypted, snap.KMSKeyID
			} else if o.VolumeSize == 0 {
				return nil, Errorf("InvalidBlockDeviceMapping", "The device '%s' needs a VolumeSize or a SnapshotId", o.DeviceName)
			}
			bds = append(bds, nb)
			idx = len(bds) - 1
		}
		bd := &bds[idx]
		pv := ec2PlannedVolume{Size: bd.VolumeSize, Type: bd.VolumeType, Encrypted: bd.Encrypted, KMSKeyID: bd.KMSKeyID, DeleteOnTermination: bd.DeleteOnTermination, SnapshotID: bd.SnapshotID}
		if e := ec2ApplyBlockDeviceSpec(&pv, o, bd.VolumeSize); e != nil {
			return nil, e
		}
		bd.VolumeSize, bd.VolumeType, bd.Encrypted, bd.KMSKeyID, bd.DeleteOnTermination = pv.Size, pv.Type, pv.Encrypted, pv.KMSKeyID, pv.DeleteOnTermination
	}
	return bds, nil
}

// ---- DeregisterImage ----

func ec2DeregisterImage(c *Call) (any, error) {
	id := formGet(c.Form, "ImageId")
	img, e := ec2OwnImage(c, id)
	if e != nil {
		return nil, e
	}
	img.State, img.StateSince, img.StateReason = ec2ImageDeregistered, c.Now, ""
	type snapResult struct {
		SnapshotID string `xml:"snapshotId"`
		ReturnCode string `xml:"returnCode"`
	}
	out := struct {
		Return  bool         `xml:"return"`
		Results []snapResult `xml:"deleteSnapshotResultSet>item"`
	}{Return: true}
	if formBool(c.Form, "DeleteAssociatedSnapshots") {
		for _, bd := range img.BlockDevices {
			snap := c.World.EC2.Snapshots[bd.SnapshotID]
			switch {
			case snap == nil:
				out.Results = append(out.Results, snapResult{bd.SnapshotID, "client-error"})
			case c.World.ec2SnapshotInUse(snap.ID) != nil || snap.Account != c.Account:
				out.Results = append(out.Results, snapResult{snap.ID, "skipped"})
			default:
				delete(c.World.EC2.Snapshots, snap.ID)
				out.Results = append(out.Results, snapResult{snap.ID, "success"})
			}
		}
	}
	return out, nil
}

// ---- CopyImage ----

func ec2CopyImage(c *Call) (any, error) {
	f, w := c.Form, c.World
	srcRegion := formGet(f, "SourceRegion")
	srcID := formGet(f, "SourceImageId")
	name := formGet(f, "Name")
	switch {
	case srcRegion == "":
		return nil, errMissingParameter("SourceRegion")
	case srcID == "":
		return nil, errMissingParameter("SourceImageId")
	case name == "":
		return nil, errMissingParameter("Name")
	}
	if !w.HasRegion(srcRegion) {
		return nil, errInvalidParameterValue("Invalid source region: %s", srcRegion)
	}
	if token := formGet(f, "ClientToken"); token != "" {
		for _, img := range w.EC2.Images {
			if img.ClientToken == token && img.Account == c.Account && img.Region == c.Region {
				return struct {
					ImageID string `xml:"imageId"`
				}{img.ID}, nil
			}
		}
	}
	if !ec2ImageIDRE.MatchString(srcID) {
		return nil, Errorf("InvalidAMIID.Malformed", "Invalid id: %q (expecting \"ami-...\")", srcID)
	}
	src := w.EC2.Images[srcID]
	if src == nil || src.Region != srcRegion || !src.ec2VisibleTo(c.Account, c.Now) || src.State == ec2ImageDeregistered {
		return nil, ec2NotFound("image", srcID)
	}
	if src.State != ec2ImageAvailable {
		return nil, Errorf("InvalidAMIID.Unavailable", "The image id '[%s]' is not available (state %s)", srcID, src.State)
	}
	if e := ec2CheckImageName(w, c.Account, c.Region, name); e != nil {
		return nil, e
	}
	encrypt := formBool(f, "Encrypted")
	kms := formGet(f, "KmsKeyId")
	if kms != "" && !encrypt {
		return nil, Errorf("InvalidParameterDependency", "The parameter KmsKeyId requires the parameter Encrypted to be set.")
	}
	specs, e := ec2ParseTagSpecs(f, "TagSpecification", "image", "snapshot")
	if e != nil {
		return nil, e
	}
	now := c.Now
	ready := now.Add(w.Timing.ImageCopy)
	desc := formGet(f, "Description")
	if !formHas(f, "Description") {
		desc = fmt.Sprintf("[Copied %s from %s] %s", src.ID, srcRegion, src.Name)
	}
	img := &Image{
		ID: w.NewID("ami"), Account: c.Account, Region: c.Region, Name: name, Description: desc,
		State: ec2ImagePending, StateSince: now, CreationDate: now, Architecture: src.Architecture,
		RootDeviceName: src.RootDeviceName, ImdsSupport: src.ImdsSupport, Content: src.Content.Clone(),
		SourceImageID: src.ID, SourceRegion: srcRegion, AvailableAt: ready, VisibleAt: ec2VisibleAt(c),
		ClientToken: formGet(f, "ClientToken"), Tags: Tags{},
	}
	if formBool(f, "CopyImageTags") && src.Account == c.Account {
		for k, v := range src.Tags {
			img.Tags[k] = v
		}
	}
	for k, v := range specs["image"] {
		img.Tags[k] = v
	}
	for _, bd := range src.BlockDevices {
		nb := bd
		srcSnap := w.EC2.Snapshots[bd.SnapshotID]
		nb.Encrypted = bd.Encrypted || encrypt
		if nb.Encrypted {
			switch {
			case kms != "":
				nb.KMSKeyID = kms
			case bd.Encrypted && src.Region == c.Region && bd.KMSKeyID != "":
				nb.KMSKeyID = bd.KMSKeyID
			default:
				nb.KMSKeyID = ec2DefaultEBSKey(c.Account, c.Region)
			}
		}
		snap := &Snapshot{
			ID: w.NewID("snap"), Account: c.Account, Region: c.Region, VolumeID: "vol-ffffffff", VolumeSize: bd.VolumeSize,
			State: "pending", StartTime: now, StateSince: now, CompleteAt: ready, Encrypted: nb.Encrypted, KMSKeyID: nb.KMSKeyID,
			Description: fmt.Sprintf("Copied for DestinationAmi %s from SourceAmi %s for SourceSnapshot %s. Task created on %s.", img.ID, src.ID, bd.SnapshotID, ec2Time(now)),
			Tags:        cloneTags(specs["snapshot"]), VisibleAt: img.VisibleAt,
		}
		if srcSnap != nil {
			snap.VolumeID = srcSnap.VolumeID
		}
		w.EC2.Snapshots[snap.ID] = snap
		nb.SnapshotID = snap.ID
		if nb.DeviceName == img.RootDeviceName && nb.Encrypted {
			img.Encrypted = true
		}
		img.BlockDevices = append(img.BlockDevices, nb)
	}
	w.EC2.Images[img.ID] = img
	return struct {
		ImageID string `xml:"imageId"`
	}{img.ID}, nil
}

// ---- image attributes ----

type ec2LaunchPermXML struct {
	Group                 string `xml:"group,omitempty"`
	UserID                string `xml:"userId,omitempty"`
	OrganizationArn       string `xml:"organizationArn,omitempty"`
	OrganizationalUnitArn string `xml:"organizationalUnitArn,omitempty"`
}

func ec2DescribeImageAttribute(c *Call) (any, error) {
	attr := formGet(c.Form, "Attribute")
	if attr == "" {
		return nil, errMissingParameter("Attribute")
	}
	img, e := ec2OwnImage(c, formGet(c.Form, "ImageId"))
	if e != nil {
		return nil, e
	}
	out := struct {
		ImageID                  string             `xml:"imageId"`
		LaunchPermission         []ec2LaunchPermXML `xml:"launchPermission>item"`
		Description              *ec2ValueXML       `xml:"description,omitempty"`
		ImdsSupport              *ec2ValueXML       `xml:"imdsSupport,omitempty"`
		BootMode                 *ec2ValueXML       `xml:"bootMode,omitempty"`
		LastLaunchedTime         *ec2ValueXML       `xml:"lastLaunchedTime,omitempty"`
		DeregistrationProtection *ec2ValueXML       `xml:"deregistrationProtection,omitempty"`
		BlockDeviceMapping       []ec2BdmXML        `xml:"blockDeviceMapping>item"`
	}{ImageID: img.ID}
	switch attr {
	case "launchPermission":
		if img.Public {
			out.LaunchPermission = append(out.LaunchPermission, ec2LaunchPermXML{Group: "all"})
		}
		for _, a := range img.LaunchPermissions {
			out.LaunchPermission = append(out.LaunchPermission, ec2LaunchPermXML{UserID: a})
		}
		for _, a := range img.LaunchPermissionOrg {
			out.LaunchPermission = append(out.LaunchPermission, ec2LaunchPermXML{OrganizationArn: a})
		}
		for _, a := range img.LaunchPermissionOUs {
			out.LaunchPermission = append(out.LaunchPermission, ec2LaunchPermXML{OrganizationalUnitArn: a})
		}
	case "description":
		out.Description = &ec2ValueXML{img.Description}
	case "imdsSupport":
		out.ImdsSupport = &ec2ValueXML{img.ImdsSupport}
	case "bootMode":
		out.BootMode = &ec2ValueXML{ec2BootMode(img.Architecture)}
	case "deregistrationProtection":
		out.DeregistrationProtection = &ec2ValueXML{"disabled"}
	case "lastLaunchedTime":
		var last time.Time
		for _, inst := range c.World.EC2.Instances {
			if inst.ImageID == img.ID && inst.LaunchTime.After(last) {
				last = inst.LaunchTime
			}
		}
		out.LastLaunchedTime = &ec2ValueXML{ec2Time(last)}
	case "blockDeviceMapping":
		out.BlockDeviceMapping = img.ec2XML(c.Account).BlockDeviceMapping
	case "kernel", "ramdisk", "productCodes", "sriovNetSupport", "tpmSupport", "uefiData":
		// Not set on these images: EC2 answers with the id only.
	default:
		return nil, errInvalidParameterValue("Value (%s) for parameter attribute is invalid. Unknown attribute.", attr)
	}
	return out, nil
}

// ec2PermChange is one launch or create-volume permission item.
type ec2PermChange struct {
	UserID, Group, OrgArn, OUArn string
}

func ec2ParsePerms(f url.Values, prefix string) []ec2PermChange {
	var out []ec2PermChange
	for _, p := range formStructs(f, prefix) {
		out = append(out, ec2PermChange{UserID: formGet(f, p+".UserId"), Group: formGet(f, p+".Group"),
			OrgArn: formGet(f, p+".OrganizationArn"), OUArn: formGet(f, p+".OrganizationalUnitArn")})
	}
	return out
}

// legacyPermissions reads the flat OperationType + UserId.N / UserGroup.N form.
func ec2LegacyPerms(f url.Values) (add, remove []ec2PermChange) {
	var items []ec2PermChange
	for _, u := range formList(f, "UserId") {
		items = append(items, ec2PermChange{UserID: u})
	}
	for _, g := range formList(f, "UserGroup") {
		items = append(items, ec2PermChange{Group: g})
	}
	for _, o := range formList(f, "OrganizationArn") {
		items = append(items, ec2PermChange{OrgArn: o})
	}
	for _, o := range formList(f, "OrganizationalUnitArn") {
		items = append(items, ec2PermChange{OUArn: o})
	}
	if formGet(f, "OperationType") == "remove" {
		return nil, items
	}
	return items, nil
}

func ec2ValidatePerm(p ec2PermChange) *APIError {
	switch {
	case p.UserID != "" && !ec2AccountIDRE.MatchString(p.UserID):
		return Errorf("InvalidAMIAttributeItemValue", "Invalid attribute item value \"%s\" for userId item type.", p.UserID)
	case p.Group != "" && p.Group != "all":
		return Errorf("InvalidAMIAttributeItemValue", "Invalid attribute item value \"%s\" for group item type.", p.Group)
	case p.OrgArn != "" && !strings.HasPrefix(p.OrgArn, "arn:aws:organizations::"):
		return Errorf("InvalidAMIAttributeItemValue", "Invalid attribute item value \"%s\" for organizationArn item type.", p.OrgArn)
	case p.OUArn != "" && !strings.HasPrefix(p.OUArn, "arn:aws:organizations::"):
		return Errorf("InvalidAMIAttributeItemValue", "Invalid attribute item value \"%s\" for organizationalUnitArn item type.", p.OUArn)
	case p.UserID == "" && p.Group == "" && p.OrgArn == "" && p.OUArn == "":
		return errMissingParameter("LaunchPermission.UserId")
	}
	return nil
}

func ec2AddUnique(list []string, s string) []string {
	if s == "" || ec2Contains(list, s) {
		return list
	}
	return append(list, s)
}

func ec2Remove(list []string, s string) []string {
	out := list[:0]
	for _, x := range list {
		if x != s {
			out = append(out, x)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func ec2ModifyImageAttribute(c *Call) (any, error) {
	f := c.Form
	img, e := ec2OwnImage(c, formGet(f, "ImageId"))
	if e != nil {
		return nil, e
	}
	attr := formGet(f, "Attribute")
	add := ec2ParsePerms(f, "LaunchPermission.Add")
	remove := ec2ParsePerms(f, "LaunchPermission.Remove")
	if attr == "launchPermission" || (attr == "" && (formHas(f, "UserId.1") || formHas(f, "UserGroup.1"))) {
		la, lr := ec2LegacyPerms(f)
		add, remove = append(add, la...), append(remove, lr...)
	}
	desc, hasDesc := formGet(f, "Description.Value"), formHas(f, "Description.Value")
	if attr == "description" {
		desc, hasDesc = formGet(f, "Value"), true
	}
	imds, hasImds := formGet(f, "ImdsSupport.Value"), formHas(f, "ImdsSupport.Value")
	if attr == "imdsSupport" {
		imds, hasImds = formGet(f, "Value"), true
	}
	if len(add) == 0 && len(remove) == 0 && !hasDesc && !hasImds {
		return nil, errMissingParameter("LaunchPermission, Description or ImdsSupport")
	}
	for _, p := range append(append([]ec2PermChange(nil), add...), remove...) {
		if e := ec2ValidatePerm(p); e != nil {
			return nil, e
		}
	}
	if hasImds && imds != "v2.0" {
		return nil, errInvalidParameterValue("Value (%s) for parameter imdsSupport is invalid. Valid value: v2.0", imds)
	}
	for _, p := range add {
		if p.Group == "all" {
			img.Public = true
		}
		img.LaunchPermissions = ec2AddUnique(img.LaunchPermissions, p.UserID)
		img.LaunchPermissionOrg = ec2AddUnique(img.LaunchPermissionOrg, p.OrgArn)
		img.LaunchPermissionOUs = ec2AddUnique(img.LaunchPermissionOUs, p.OUArn)
	}
	for _, p := range remove {
		if p.Group == "all" {
			img.Public = false
		}
		img.LaunchPermissions = ec2Remove(img.LaunchPermissions, p.UserID)
		img.LaunchPermissionOrg = ec2Remove(img.LaunchPermissionOrg, p.OrgArn)
		img.LaunchPermissionOUs = ec2Remove(img.LaunchPermissionOUs, p.OUArn)
	}
	if hasDesc {
		img.Description = desc
	}
	if hasImds {
		img.ImdsSupport = imds
	}
	return ec2ReturnTrue, nil
}

func ec2ResetImageAttribute(c *Call) (any, error) {
	img, e := ec2OwnImage(c, formGet(c.Form, "ImageId"))
	if e != nil {
		return nil, e
	}
	if attr := formGet(c.Form, "Attribute"); attr != "launchPermission" {
		return nil, errInvalidParameterValue("Value (%s) for parameter attribute is invalid. Only launchPermission can be reset.", attr)
	}
	img.Public, img.LaunchPermissions, img.LaunchPermissionOrg, img.LaunchPermissionOUs = false, nil, nil, nil
	return ec2ReturnTrue, nil
}

// ---- deprecation ----

func ec2ParseTimestamp(f url.Values, name string) (time.Time, *APIError) {
	v := formGet(f, name)
	if v == "" {
		return time.Time{}, errMissingParameter(name)
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, errInvalidParameterValue("Value (%s) for parameter %s is invalid. Expected an ISO 8601 timestamp.", v, name)
}

func ec2EnableImageDeprecation(c *Call) (any, error) {
	img, e := ec2OwnImage(c, formGet(c.Form, "ImageId"))
	if e != nil {
		return nil, e
	}
	at, e := ec2ParseTimestamp(c.Form, "DeprecateAt")
	if e != nil {
		return nil, e
	}
	// EC2 rounds to the minute and refuses the past and more than 10 years out.
	at = at.Add(30 * time.Second).Truncate(time.Minute)
	if at.Before(c.Now.Truncate(time.Minute)) {
		return nil, errInvalidParameterValue("The deprecation time %s must be in the future.", ec2Time(at))
	}
	if at.After(c.Now.AddDate(10, 0, 0)) {
		return nil, errInvalidParameterValue("The deprecation time %s must be within 10 years from now.", ec2Time(at))
	}
	img.DeprecationTime = at
	return ec2ReturnTrue, nil
}

func ec2DisableImageDeprecation(c *Call) (any, error) {
	img, e := ec2OwnImage(c, formGet(c.Form, "ImageId"))
	if e != nil {
		return nil, e
	}
	img.DeprecationTime = time.Time{}
	return ec2ReturnTrue, nil
}

// ---- snapshots ----

type ec2SnapshotXML struct {
	SnapshotID  string      `xml:"snapshotId"`
	VolumeID    string      `xml:"volumeId"`
	Status      string      `xml:"status"`
	StartTime   string      `xml:"startTime"`
	Progress    string      `xml:"progress"`
	OwnerID     string      `xml:"ownerId"`
	OwnerAlias  string      `xml:"ownerAlias,omitempty"`
	VolumeSize  int         `xml:"volumeSize"`
	Description string      `xml:"description"`
	Encrypted   bool        `xml:"encrypted"`
	KMSKeyID    string      `xml:"kmsKeyId,omitempty"`
	StorageTier string      `xml:"storageTier"`
	Tags        []ec2TagXML `xml:"tagSet>item"`
}

func (s *Snapshot) ec2XML() ec2SnapshotXML {
	progress := "100%"
	if s.State == "pending" {
		progress = "0%"
	}
	x := ec2SnapshotXML{
		SnapshotID: s.ID, VolumeID: s.VolumeID, Status: s.State, StartTime: ec2Time(s.StartTime), Progress: progress,
		OwnerID: s.Account, VolumeSize: s.VolumeSize, Description: s.Description, Encrypted: s.Encrypted,
		KMSKeyID: s.KMSKeyID, StorageTier: "standard", Tags: ec2TagsXML(s.Tags),
	}
	if s.Account == AmazonAccount {
		x.OwnerAlias = "amazon"
	}
	return x
}

func (s *Snapshot) ec2VisibleTo(account string, now time.Time) bool {
	return !ec2Hidden(s.VisibleAt, now) && (s.Account == account || s.Public || ec2Contains(s.CreateVolumePermissions, account))
}

var ec2SnapshotFilters = ec2FilterFields[*Snapshot]{
	"snapshot-id": func(s *Snapshot) []string { return ec2One(s.ID) },
	"status":      func(s *Snapshot) []string { return ec2One(s.State) },
	"owner-id":    func(s *Snapshot) []string { return ec2One(s.Account) },
	"owner-alias": func(s *Snapshot) []string {
		if s.Account == AmazonAccount {
			return ec2One("amazon")
		}
		return nil
	},
	"volume-id":    func(s *Snapshot) []string { return ec2One(s.VolumeID) },
	"volume-size":  func(s *Snapshot) []string { return ec2Int(s.VolumeSize) },
	"encrypted":    func(s *Snapshot) []string { return ec2Bool(s.Encrypted) },
	"description":  func(s *Snapshot) []string { return ec2One(s.Description) },
	"start-time":   func(s *Snapshot) []string { return ec2One(ec2Time(s.StartTime)) },
	"kms-key-id":   func(s *Snapshot) []string { return ec2One(s.KMSKeyID) },
	"storage-tier": func(*Snapshot) []string { return ec2One("standard") },
	"progress": func(s *Snapshot) []string {
		if s.State == "pending" {
			return ec2One("0%")
		}
		return ec2One("100%")
	},
}

func ec2SnapshotFor(c *Call, id string) (*Snapshot, *APIError) {
	if id == "" {
		return nil, errMissingParameter("SnapshotId")
	}
	if !ec2ValidID("snap", id) {
		return nil, ec2Malformed("InvalidSnapshotID.Malformed", id)
	}
	s := c.World.EC2.Snapshots[id]
	if s == nil || s.Region != c.Region || !s.ec2VisibleTo(c.Account, c.Now) {
		return nil, ec2NotFound("snapshot", id)
	}
	return s, nil
}

func ec2DescribeSnapshots(c *Call) (any, error) {
	f := c.Form
	ids := ec2Dedupe(formList(f, "SnapshotId"))
	owners := formList(f, "Owner")
	restorable := formList(f, "RestorableBy")
	if e := ec2NoMaxWithIDs(f, ids, "snapshotId"); e != nil {
		return nil, e
	}
	filters, e := ec2ParseFilters(f)
	if e != nil {
		return nil, e
	}
	var items []*Snapshot
	if len(ids) > 0 {
		var missing []string
		for _, id := range ids {
			if !ec2ValidID("snap", id) {
				return nil, ec2Malformed("InvalidSnapshotID.Malformed", id)
			}
			s := c.World.EC2.Snapshots[id]
			if s == nil || s.Region != c.Region || !s.ec2VisibleTo(c.Account, c.Now) {
				missing = append(missing, id)
				continue
			}
			items = append(items, s)
		}
		if len(missing) > 0 {
			return nil, Errorf("InvalidSnapshot.NotFound", "The snapshot '%s' does not exist.", strings.Join(missing, ", "))
		}
	} else {
		for _, s := range c.World.EC2.Snapshots {
			if s.Region == c.Region && s.ec2VisibleTo(c.Account, c.Now) {
				items = append(items, s)
			}
		}
	}
	if len(owners) > 0 {
		kept := items[:0]
		for _, s := range items {
			for _, o := range owners {
				if (o == "self" && s.Account == c.Account) || (o == "amazon" && s.Account == AmazonAccount) || o == s.Account {
					kept = append(kept, s)
					break
				}
			}
		}
		items = kept
	}
	if len(restorable) > 0 {
		kept := items[:0]
		for _, s := range items {
			for _, r := range restorable {
				if (r == "all" && s.Public) || ((r == "self" || r == c.Account) && (s.Account == c.Account || ec2Contains(s.CreateVolumePermissions, c.Account))) || ec2Contains(s.CreateVolumePermissions, r) {
					kept = append(kept, s)
					break
				}
			}
		}
		items = kept
	}
	items, e = ec2ApplyFilters(items, filters, ec2SnapshotFilters, func(s *Snapshot) Tags { return s.Tags })
	if e != nil {
		return nil, e
	}
	ec2SortBy(items, func(s *Snapshot) string { return s.ID })
	page, next, e := ec2Paginate(f, items, func(s *Snapshot) string { return s.ID }, 5, 1000)
	if e != nil {
		return nil, e
	}
	out := struct {
		Snapshots []ec2SnapshotXML `xml:"snapshotSet>item"`
		NextToken string           `xml:"nextToken,omitempty"`
	}{NextToken: next}
	for _, s := range page {
		out.Snapshots = append(out.Snapshots, s.ec2XML())
	}
	return out, nil
}

func ec2CreateSnapshot(c *Call) (any, error) {
	vol, e := ec2VolumeFor(c, formGet(c.Form, "VolumeId"))
	if e != nil {
		return nil, e
	}
	specs, e := ec2ParseTagSpecs(c.Form, "TagSpecification", "snapshot")
	if e != nil {
		return nil, e
	}
	now := c.Now
	s := &Snapshot{
		ID: c.World.NewID("snap"), Account: c.Account, Region: c.Region, VolumeID: vol.ID, VolumeSize: vol.Size,
		State: "pending", StartTime: now, StateSince: now, CompleteAt: now.Add(c.World.Timing.SnapshotCreate),
		Encrypted: vol.Encrypted, KMSKeyID: vol.KMSKeyID, Description: formGet(c.Form, "Description"),
		Tags: cloneTags(specs["snapshot"]), VisibleAt: ec2VisibleAt(c),
	}
	c.World.EC2.Snapshots[s.ID] = s
	return s.ec2XML(), nil
}

func ec2DeleteSnapshot(c *Call) (any, error) {
	s, e := ec2SnapshotFor(c, formGet(c.Form, "SnapshotId"))
	if e != nil {
		return nil, e
	}
	if s.Account != c.Account {
		return nil, Errorf("UnauthorizedOperation", "You are not authorized to delete snapshot %s.", s.ID)
	}
	if img := c.World.ec2SnapshotInUse(s.ID); img != nil {
		return nil, Errorf("InvalidSnapshot.InUse", "The snapshot %s is currently in use by %s", s.ID, img.ID)
	}
	delete(c.World.EC2.Snapshots, s.ID)
	return ec2ReturnTrue, nil
}

func ec2DescribeSnapshotAttribute(c *Call) (any, error) {
	s, e := ec2SnapshotFor(c, formGet(c.Form, "SnapshotId"))
	if e != nil {
		return nil, e
	}
	if s.Account != c.Account {
		return nil, Errorf("UnauthorizedOperation", "You are not authorized to describe snapshot %s.", s.ID)
	}
	type permXML struct {
		Group  string `xml:"group,omitempty"`
		UserID string `xml:"userId,omitempty"`
	}
	out := struct {
		SnapshotID string    `xml:"snapshotId"`
		Perms      []permXML `xml:"createVolumePermission>item"`
	}{SnapshotID: s.ID}
	switch attr := formGet(c.Form, "Attribute"); attr {
	case "createVolumePermission":
		if s.Public {
			out.Perms = append(out.Perms, permXML{Group: "all"})
		}
		for _, a := range s.CreateVolumePermissions {
			out.Perms = append(out.Perms, permXML{UserID: a})
		}
	case "productCodes":
	default:
		return nil, errInvalidParameterValue("Value (%s) for parameter attribute is invalid.", attr)
	}
	return out, nil
}

func ec2ModifySnapshotAttribute(c *Call) (any, error) {
	f := c.Form
	s, e := ec2SnapshotFor(c, formGet(f, "SnapshotId"))
	if e != nil {
		return nil, e
	}
	if s.Account != c.Account {
		return nil, Errorf("UnauthorizedOperation", "You are not authorized to modify snapshot %s.", s.ID)
	}
	add := ec2ParsePerms(f, "CreateVolumePermission.Add")
	remove := ec2ParsePerms(f, "CreateVolumePermission.Remove")
	if a := formGet(f, "Attribute"); a == "createVolumePermission" || a == "" {
		la, lr := ec2LegacyPerms(f)
		add, remove = append(add, la...), append(remove, lr...)
	}
	if len(add) == 0 && len(remove) == 0 {
		return nil, errMissingParameter("CreateVolumePermission")
	}
	for _, p := range append(append([]ec2PermChange(nil), add...), remove...) {
		if p.OrgArn != "" || p.OUArn != "" {
			return nil, errInvalidParameterValue("Snapshots are shared with accounts or the group all only")
		}
		if e := ec2ValidatePerm(p); e != nil {
			e.Code = "InvalidParameterValue"
			return nil, e
		}
	}
	for _, p := range add {
		if p.Group == "all" {
			s.Public = true
		}
		s.CreateVolumePermissions = ec2AddUnique(s.CreateVolumePermissions, p.UserID)
	}
	for _, p := range remove {
		if p.Group == "all" {
			s.Public = false
		}
		s.CreateVolumePermissions = ec2Remove(s.CreateVolumePermissions, p.UserID)
	}
	return ec2ReturnTrue, nil
}
