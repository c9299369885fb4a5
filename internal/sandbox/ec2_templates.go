package sandbox

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// ---- XML ----

type ec2LaunchTemplateXML struct {
	LaunchTemplateID     string      `xml:"launchTemplateId"`
	LaunchTemplateName   string      `xml:"launchTemplateName"`
	CreateTime           string      `xml:"createTime"`
	CreatedBy            string      `xml:"createdBy"`
	DefaultVersionNumber int         `xml:"defaultVersionNumber"`
	LatestVersionNumber  int         `xml:"latestVersionNumber"`
	Tags                 []ec2TagXML `xml:"tagSet>item"`
}

type ec2LtIamXML struct {
	Arn  string `xml:"arn,omitempty"`
	Name string `xml:"name,omitempty"`
}

type ec2LtMetadataXML struct {
	State                   string `xml:"state"`
	HTTPTokens              string `xml:"httpTokens,omitempty"`
	HTTPPutResponseHopLimit int    `xml:"httpPutResponseHopLimit,omitempty"`
	HTTPEndpoint            string `xml:"httpEndpoint,omitempty"`
}

type ec2LtTagSpecXML struct {
	ResourceType string      `xml:"resourceType"`
	Tags         []ec2TagXML `xml:"tagSet>item"`
}

type ec2LtEbsXML struct {
	Encrypted           *bool  `xml:"encrypted,omitempty"`
	DeleteOnTermination *bool  `xml:"deleteOnTermination,omitempty"`
	Iops                int    `xml:"iops,omitempty"`
	KMSKeyID            string `xml:"kmsKeyId,omitempty"`
	SnapshotID          string `xml:"snapshotId,omitempty"`
	VolumeSize          int    `xml:"volumeSize,omitempty"`
	VolumeType          string `xml:"volumeType,omitempty"`
	Throughput          int    `xml:"throughput,omitempty"`
}

type ec2LtBdmXML struct {
	DeviceName string       `xml:"deviceName"`
	Ebs        *ec2LtEbsXML `xml:"ebs,omitempty"`
	NoDevice   *string      `xml:"noDevice,omitempty"`
}

type ec2LtDataXML struct {
	ImageID             string            `xml:"imageId,omitempty"`
	InstanceType        string            `xml:"instanceType,omitempty"`
	KeyName             string            `xml:"keyName,omitempty"`
	UserData            string            `xml:"userData,omitempty"`
	SecurityGroupIDs    []string          `xml:"securityGroupIdSet>item"`
	SecurityGroups      []string          `xml:"securityGroupSet>item"`
	IamInstanceProfile  *ec2LtIamXML      `xml:"iamInstanceProfile,omitempty"`
	MetadataOptions     *ec2LtMetadataXML `xml:"metadataOptions,omitempty"`
	TagSpecifications   []ec2LtTagSpecXML `xml:"tagSpecificationSet>item"`
	BlockDeviceMappings []ec2LtBdmXML     `xml:"blockDeviceMappingSet>item"`
}

type ec2LtVersionXML struct {
	LaunchTemplateID   string       `xml:"launchTemplateId"`
	LaunchTemplateName string       `xml:"launchTemplateName"`
	VersionNumber      int          `xml:"versionNumber"`
	VersionDescription string       `xml:"versionDescription,omitempty"`
	CreateTime         string       `xml:"createTime"`
	CreatedBy          string       `xml:"createdBy"`
	DefaultVersion     bool         `xml:"defaultVersion"`
	LaunchTemplateData ec2LtDataXML `xml:"launchTemplateData"`
}

func (lt *LaunchTemplate) ec2XML() ec2LaunchTemplateXML {
	return ec2LaunchTemplateXML{
		LaunchTemplateID: lt.ID, LaunchTemplateName: lt.Name, CreateTime: ec2Time(lt.CreateTime),
		CreatedBy: ec2CreatedBy(lt.Account), DefaultVersionNumber: lt.DefaultVersion, LatestVersionNumber: lt.ec2Latest(),
		Tags: ec2TagsXML(lt.Tags),
	}
}

func ec2CreatedBy(account string) string { return fmt.Sprintf("arn:aws:iam::%s:user/sandbox", account) }

func (lt *LaunchTemplate) ec2VersionXML(v *LaunchTemplateVersion) ec2LtVersionXML {
	d := ec2LtDataXML{
		ImageID: v.ImageID, InstanceType: v.InstanceType, KeyName: v.KeyName, UserData: v.UserData,
		SecurityGroupIDs: v.SecurityGroupIDs, SecurityGroups: v.SecurityGroupNames,
	}
	if v.IAMInstanceProfile != "" || v.IAMInstanceProfileARN != "" {
		d.IamInstanceProfile = &ec2LtIamXML{Arn: v.IAMInstanceProfileARN, Name: v.IAMInstanceProfile}
	}
	if v.HTTPTokens != "" || v.HTTPEndpoint != "" || v.HTTPPutResponseHopLimit != 0 {
		d.MetadataOptions = &ec2LtMetadataXML{State: "applied", HTTPTokens: v.HTTPTokens, HTTPPutResponseHopLimit: v.HTTPPutResponseHopLimit, HTTPEndpoint: v.HTTPEndpoint}
	}
	for _, ts := range v.TagSpecifications {
		d.TagSpecifications = append(d.TagSpecifications, ec2LtTagSpecXML{ResourceType: ts.ResourceType, Tags: ec2TagsXML(ts.Tags)})
	}
	for _, bd := range v.BlockDevices {
		b := ec2LtBdmXML{DeviceName: bd.DeviceName}
		if bd.NoDevice {
			empty := ""
			b.NoDevice = &empty
		} else {
			b.Ebs = &ec2LtEbsXML{Encrypted: bd.Encrypted, DeleteOnTermination: bd.DeleteOnTermination, Iops: bd.Iops,
				KMSKeyID: bd.KMSKeyID, SnapshotID: bd.SnapshotID, VolumeSize: bd.VolumeSize, VolumeType: bd.VolumeType, Throughput: bd.Throughput}
		}
		d.BlockDeviceMappings = append(d.BlockDeviceMappings, b)
	}
	return ec2LtVersionXML{
		LaunchTemplateID: lt.ID, LaunchTemplateName: lt.Name, VersionNumber: v.Number, VersionDescription: v.Description,
		CreateTime: ec2Time(v.CreateTime), CreatedBy: v.CreatedBy, DefaultVersion: v.Number == lt.DefaultVersion,
		LaunchTemplateData: d,
	}
}

// ec2Latest is the highest existing ec2Version ($Latest).
func (lt *LaunchTemplate) ec2Latest() int {
	n := 0
	for _, v := range lt.Versions {
		if v.Number > n {
			n = v.Number
		}
	}
	return n
}

func (lt *LaunchTemplate) ec2Version(n int) *LaunchTemplateVersion {
	for _, v := range lt.Versions {
		if v.Number == n {
			return v
		}
	}
	return nil
}

// ec2ResolveVersion maps "", "$Default", "$Latest" or a number to a ec2Version.
func (lt *LaunchTemplate) ec2ResolveVersion(s string) (*LaunchTemplateVersion, *APIError) {
	n := 0
	switch s {
	case "", "$Default":
		n = lt.DefaultVersion
	case "$Latest":
		n = lt.ec2Latest()
	default:
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			return nil, Errorf("InvalidLaunchTemplateId.VersionNotFound", "Could not find launch template version %s for launch template ID %s", s, lt.ID)
		}
		n = v
	}
	v := lt.ec2Version(n)
	if v == nil {
		return nil, Errorf("InvalidLaunchTemplateId.VersionNotFound", "Could not find launch template version %s for launch template ID %s", s, lt.ID)
	}
	return v, nil
}

// ---- lookups ----

var ec2LTNameRE = regexp.MustCompile(`^[a-zA-Z0-9().\-/_]{3,128}$`)

func (w *World) ec2LaunchTemplateByName(account, region, name string) *LaunchTemplate {
	for _, lt := range w.EC2.LaunchTemplates {
		if lt.Account == account && lt.Region == region && lt.Name == name {
			return lt
		}
	}
	return nil
}

// FindLaunchTemplate returns the template named by id or name (exactly one
// of them) in an account's region, with EC2's errors.
func (w *World) FindLaunchTemplate(account, region, id, name string) (*LaunchTemplate, *APIError) {
	switch {
	case id != "" && name != "":
		return nil, Errorf("InvalidParameterCombination", "Specify either the launch template ID or the launch template name, but not both.")
	case id != "":
		if !ec2ValidID("lt", id) {
			return nil, ec2Malformed("InvalidLaunchTemplateId.Malformed", id)
		}
		lt := w.EC2.LaunchTemplates[id]
		if lt == nil || lt.Account != account || lt.Region != region {
			return nil, ec2NotFound("launch-template", id)
		}
		return lt, nil
	case name != "":
		lt := w.ec2LaunchTemplateByName(account, region, name)
		if lt == nil {
			return nil, Errorf("InvalidLaunchTemplateName.NotFoundException", "The specified launch template, with template name %s, does not exist.", name)
		}
		return lt, nil
	}
	return nil, Errorf("MissingParameter", "The request must contain the parameter launchTemplateName or launchTemplateId")
}

// LaunchTemplateSpec resolves a launch template version ("" = default,
// "$Latest", "$Default" or a number) to what a launch needs: the Auto
// Scaling reconciler and RunInstances with LaunchTemplate both use it.
// Instances get the aws:ec2launchtemplate:id/version tags, as on EC2.
func (w *World) LaunchTemplateSpec(account, region, id, name, ec2Version string) (LaunchSpec, *APIError) {
	lt, e := w.FindLaunchTemplate(account, region, id, name)
	if e != nil {
		return LaunchSpec{}, e
	}
	v, e := lt.ec2ResolveVersion(ec2Version)
	if e != nil {
		return LaunchSpec{}, e
	}
	spec := LaunchSpec{
		Account: account, Region: region, ImageID: v.ImageID, InstanceType: v.InstanceType, KeyName: v.KeyName,
		SecurityGroupIDs: append([]string(nil), v.SecurityGroupIDs...), IAMInstanceProfile: v.IAMInstanceProfile,
		HTTPTokens: v.HTTPTokens, HTTPEndpoint: v.HTTPEndpoint, HTTPPutResponseHopLimit: v.HTTPPutResponseHopLimit,
		UserData: v.UserData, BlockDevices: append([]BlockDeviceSpec(nil), v.BlockDevices...),
		LaunchTemplateID: lt.ID, LaunchTemplateVersion: strconv.Itoa(v.Number),
		Tags: Tags{"aws:ec2launchtemplate:id": lt.ID, "aws:ec2launchtemplate:version": strconv.Itoa(v.Number)},
	}
	if v.IAMInstanceProfileARN != "" {
		spec.IAMInstanceProfile = v.IAMInstanceProfileARN
	}
	for _, n := range v.SecurityGroupNames {
		w.ensureDefaultVPC(account, region)
		if vpc := w.ec2DefaultVPC(account, region); vpc != nil {
			if sg := w.ec2SecurityGroupByName(account, region, vpc.ID, n); sg != nil {
				spec.SecurityGroupIDs = append(spec.SecurityGroupIDs, sg.ID)
			}
		}
	}
	for _, ts := range v.TagSpecifications {
		switch ts.ResourceType {
		case "instance":
			for k, val := range ts.Tags {
				spec.Tags[k] = val
			}
		case "volume":
			if spec.VolumeTags == nil {
				spec.VolumeTags = Tags{}
			}
			for k, val := range ts.Tags {
				spec.VolumeTags[k] = val
			}
		}
	}
	return spec, nil
}

// ---- request data ----

// ec2ParseLaunchTemplateData reads LaunchTemplateData.* onto base (a copy of
// the source version, or empty): fields present in the request replace
// the base's, lists as a whole.
func ec2ParseLaunchTemplateData(f url.Values, base LaunchTemplateVersion) (LaunchTemplateVersion, *APIError) {
	const p = "LaunchTemplateData."
	v := base
	if formHas(f, p+"ImageId") {
		v.ImageID = formGet(f, p+"ImageId")
		if v.ImageID != "" && !ec2ImageIDRE.MatchString(v.ImageID) && !strings.HasPrefix(v.ImageID, "resolve:ssm:") {
			return v, Errorf("InvalidAMIID.Malformed", "Invalid id: %q (expecting \"ami-...\")", v.ImageID)
		}
	}
	if formHas(f, p+"InstanceType") {
		v.InstanceType = formGet(f, p+"InstanceType")
		if v.InstanceType != "" && !ec2InstanceTypeRE.MatchString(v.InstanceType) {
			return v, errInvalidParameterValue("Invalid value '%s' for InstanceType.", v.InstanceType)
		}
	}
	if formHas(f, p+"KeyName") {
		v.KeyName = formGet(f, p+"KeyName")
	}
	if formHas(f, p+"UserData") {
		v.UserData = formGet(f, p+"UserData")
	}
	if ids := formList(f, p+"SecurityGroupId"); len(ids) > 0 {
		for _, id := range ids {
			if !ec2ValidID("sg", id) {
				return v, ec2Malformed("InvalidGroupId.Malformed", id)
			}
		}
		v.SecurityGroupIDs = ids
	}
	if names := formList(f, p+"SecurityGroup"); len(names) > 0 {
		v.SecurityGroupNames = names
	}
	if formHas(f, p+"IamInstanceProfile.Name") || formHas(f, p+"IamInstanceProfile.Arn") {
		v.IAMInstanceProfile, v.IAMInstanceProfileARN = formGet(f, p+"IamInstanceProfile.Name"), formGet(f, p+"IamInstanceProfile.Arn")
	}
	if e := ec2ParseMetadataOptions(f, p+"MetadataOptions.", &v.HTTPTokens, &v.HTTPEndpoint, &v.HTTPPutResponseHopLimit); e != nil {
		return v, e
	}
	if len(formStructs(f, p+"TagSpecification")) > 0 {
		specs, e := ec2ParseTagSpecs(f, p+"TagSpecification", "instance", "volume", "network-interface", "spot-instances-request")
		if e != nil {
			return v, e
		}
		v.TagSpecifications = nil
		for _, rt := range sortedKeys(specs) {
			v.TagSpecifications = append(v.TagSpecifications, TagSpec{ResourceType: rt, Tags: specs[rt]})
		}
	}
	if len(formStructs(f, p+"BlockDeviceMapping")) > 0 {
		bds, e := ec2ParseBlockDevices(f, p+"BlockDeviceMapping")
		if e != nil {
			return v, e
		}
		v.BlockDevices = bds
	}
	return v, nil
}

// ec2CloneVersion deep-copies a version's data.
func ec2CloneVersion(v *LaunchTemplateVersion) LaunchTemplateVersion {
	out := *v
	out.SecurityGroupIDs = append([]string(nil), v.SecurityGroupIDs...)
	out.SecurityGroupNames = append([]string(nil), v.SecurityGroupNames...)
	out.BlockDevices = append([]BlockDeviceSpec(nil), v.BlockDevices...)
	out.TagSpecifications = nil
	for _, ts := range v.TagSpecifications {
		out.TagSpecifications = append(out.TagSpecifications, TagSpec{ResourceType: ts.ResourceType, Tags: cloneTags(ts.Tags)})
	}
	return out
}

// ---- actions ----

func ec2CreateLaunchTemplate(c *Call) (any, error) {
	f, w := c.Form, c.World
	name := formGet(f, "LaunchTemplateName")
	if name == "" {
		return nil, errMissingParameter("LaunchTemplateName")
	}
	if !ec2LTNameRE.MatchString(name) {
		return nil, Errorf("InvalidLaunchTemplateName.MalformedException", "A launch template name must be between 3 and 128 characters, and may contain letters, numbers, and the following characters: - ( ) . / _.")
	}
	if len(formStructs(f, "LaunchTemplateData")) == 0 && !ec2HasPrefixKey(f, "LaunchTemplateData.") {
		return nil, errMissingParameter("LaunchTemplateData")
	}
	if existing := w.ec2LaunchTemplateByName(c.Account, c.Region, name); existing != nil {
		return nil, Errorf("InvalidLaunchTemplateName.AlreadyExistsException", "Launch template name already in use.")
	}
	data, e := ec2ParseLaunchTemplateData(f, LaunchTemplateVersion{})
	if e != nil {
		return nil, e
	}
	specs, e := ec2ParseTagSpecs(f, "TagSpecification", "launch-template")
	if e != nil {
		return nil, e
	}
	lt := &LaunchTemplate{
		ID: w.NewID("lt"), Account: c.Account, Region: c.Region, Name: name, DefaultVersion: 1, LatestVersion: 1,
		CreateTime: c.Now, Tags: cloneTags(specs["launch-template"]),
	}
	data.Number, data.CreateTime, data.Description, data.CreatedBy = 1, c.Now, formGet(f, "VersionDescription"), ec2CreatedBy(c.Account)
	lt.Versions = []*LaunchTemplateVersion{&data}
	w.EC2.LaunchTemplates[lt.ID] = lt
	return struct {
		LaunchTemplate ec2LaunchTemplateXML `xml:"launchTemplate"`
	}{lt.ec2XML()}, nil
}

func ec2HasPrefixKey(f url.Values, prefix string) bool {
	for k := range f {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}

func ec2CreateLaunchTemplateVersion(c *Call) (any, error) {
	f := c.Form
	lt, e := c.World.FindLaunchTemplate(c.Account, c.Region, formGet(f, "LaunchTemplateId"), formGet(f, "LaunchTemplateName"))
	if e != nil {
		return nil, e
	}
	if !ec2HasPrefixKey(f, "LaunchTemplateData.") && !formHas(f, "LaunchTemplateData") {
		return nil, errMissingParameter("LaunchTemplateData")
	}
	if len(lt.Versions) >= 10000 {
		return nil, Errorf("VersionLimitExceeded", "Launch template %s has reached the maximum of 10000 versions.", lt.ID)
	}
	base := LaunchTemplateVersion{}
	if src := formGet(f, "SourceVersion"); src != "" {
		sv, e := lt.ec2ResolveVersion(src)
		if e != nil {
			return nil, e
		}
		base = ec2CloneVersion(sv)
	}
	data, e := ec2ParseLaunchTemplateData(f, base)
	if e != nil {
		return nil, e
	}
	// Version numbers are never reused, even after DeleteLaunchTemplateVersions.
	lt.LatestVersion = max(lt.LatestVersion, lt.ec2Latest()) + 1
	data.Number, data.CreateTime, data.Description, data.CreatedBy = lt.LatestVersion, c.Now, formGet(f, "VersionDescription"), ec2CreatedBy(c.Account)
	lt.Versions = append(lt.Versions, &data)
	return struct {
		Version ec2LtVersionXML `xml:"launchTemplateVersion"`
	}{lt.ec2VersionXML(&data)}, nil
}

func ec2DescribeLaunchTemplates(c *Call) (any, error) {
	f := c.Form
	ids := formList(f, "LaunchTemplateId")
	names := formList(f, "LaunchTemplateName")
	filters, e := ec2ParseFilters(f)
	if e != nil {
		return nil, e
	}
	var items []*LaunchTemplate
	switch {
	case len(ids) > 0 || len(names) > 0:
		for _, id := range ids {
			if !ec2ValidID("lt", id) {
				return nil, ec2Malformed("InvalidLaunchTemplateId.Malformed", id)
			}
			lt := c.World.EC2.LaunchTemplates[id]
			if lt == nil || lt.Account != c.Account || lt.Region != c.Region {
				return nil, Errorf("InvalidLaunchTemplateId.NotFound", "At least one of the launch templates specified in the request does not exist.")
			}
			items = append(items, lt)
		}
		for _, n := range names {
			lt := c.World.ec2LaunchTemplateByName(c.Account, c.Region, n)
			if lt == nil {
				return nil, Errorf("InvalidLaunchTemplateName.NotFoundException", "At least one of the launch templates specified in the request does not exist.")
			}
			items = append(items, lt)
		}
	default:
		for _, lt := range c.World.EC2.LaunchTemplates {
			if lt.Account == c.Account && lt.Region == c.Region {
				items = append(items, lt)
			}
		}
	}
	items, e = ec2ApplyFilters(items, filters, ec2FilterFields[*LaunchTemplate]{
		"launch-template-name": func(l *LaunchTemplate) []string { return ec2One(l.Name) },
		"create-time":          func(l *LaunchTemplate) []string { return ec2One(ec2Time(l.CreateTime)) },
	}, func(l *LaunchTemplate) Tags { return l.Tags })
	if e != nil {
		return nil, e
	}
	ec2SortBy(items, func(l *LaunchTemplate) string { return l.ID })
	page, next, e := ec2Paginate(f, items, func(l *LaunchTemplate) string { return l.ID }, 1, 200)
	if e != nil {
		return nil, e
	}
	out := struct {
		LaunchTemplates []ec2LaunchTemplateXML `xml:"launchTemplates>item"`
		NextToken       string                 `xml:"nextToken,omitempty"`
	}{NextToken: next}
	for _, lt := range page {
		out.LaunchTemplates = append(out.LaunchTemplates, lt.ec2XML())
	}
	return out, nil
}

type ec2LtVersionRef struct {
	lt *LaunchTemplate
	v  *LaunchTemplateVersion
}

func ec2DescribeLaunchTemplateVersions(c *Call) (any, error) {
	f, w := c.Form, c.World
	id, name := formGet(f, "LaunchTemplateId"), formGet(f, "LaunchTemplateName")
	versions := formList(f, "LaunchTemplateVersion")
	filters, e := ec2ParseFilters(f)
	if e != nil {
		return nil, e
	}
	var items []ec2LtVersionRef
	if id == "" && name == "" {
		// Across templates only $Latest / $Default may be asked for.
		if len(versions) == 0 {
			return nil, Errorf("MissingParameter", "The request must contain the parameter launchTemplateName or launchTemplateId")
		}
		for _, v := range versions {
			if v != "$Latest" && v != "$Default" {
				return nil, Errorf("InvalidParameterCombination", "Without a launch template ID or name, only $Latest and $Default versions can be described.")
			}
		}
		for _, lt := range w.EC2.LaunchTemplates {
			if lt.Account != c.Account || lt.Region != c.Region {
				continue
			}
			seen := map[int]bool{}
			for _, vs := range versions {
				v, e := lt.ec2ResolveVersion(vs)
				if e == nil && !seen[v.Number] {
					seen[v.Number] = true
					items = append(items, ec2LtVersionRef{lt, v})
				}
			}
		}
	} else {
		lt, e := w.FindLaunchTemplate(c.Account, c.Region, id, name)
		if e != nil {
			return nil, e
		}
		if len(versions) > 0 {
			seen := map[int]bool{}
			for _, vs := range versions {
				v, e := lt.ec2ResolveVersion(vs)
				if e != nil {
					return nil, e
				}
				if !seen[v.Number] {
					seen[v.Number] = true
					items = append(items, ec2LtVersionRef{lt, v})
				}
			}
		} else {
			minV, err := formInt(f, "MinVersion", 0)
			if err != nil {
				return nil, err
			}
			maxV, err := formInt(f, "MaxVersion", 0)
			if err != nil {
				return nil, err
			}
			for _, v := range lt.Versions {
				if (minV == 0 || v.Number >= minV) && (maxV == 0 || v.Number <= maxV) {
					items = append(items, ec2LtVersionRef{lt, v})
				}
			}
		}
	}
	items, e = ec2ApplyFilters(items, filters, ec2FilterFields[ec2LtVersionRef]{
		"image-id":           func(r ec2LtVersionRef) []string { return ec2One(r.v.ImageID) },
		"instance-type":      func(r ec2LtVersionRef) []string { return ec2One(r.v.InstanceType) },
		"is-default-version": func(r ec2LtVersionRef) []string { return ec2Bool(r.v.Number == r.lt.DefaultVersion) },
		"create-time":        func(r ec2LtVersionRef) []string { return ec2One(ec2Time(r.v.CreateTime)) },
		"iam-instance-profile": func(r ec2LtVersionRef) []string {
			return []string{r.v.IAMInstanceProfile, r.v.IAMInstanceProfileARN}
		},
		"metadata-options.http-tokens": func(r ec2LtVersionRef) []string { return ec2One(r.v.HTTPTokens) },
	}, nil)
	if e != nil {
		return nil, e
	}
	// Newest first within a template, as EC2 lists them.
	key := func(r ec2LtVersionRef) string { return fmt.Sprintf("%s/%010d", r.lt.ID, 1<<30-r.v.Number) }
	ec2SortBy(items, key)
	page, next, e := ec2Paginate(f, items, key, 1, 200)
	if e != nil {
		return nil, e
	}
	out := struct {
		Versions  []ec2LtVersionXML `xml:"launchTemplateVersionSet>item"`
		NextToken string            `xml:"nextToken,omitempty"`
	}{NextToken: next}
	for _, r := range page {
		out.Versions = append(out.Versions, r.lt.ec2VersionXML(r.v))
	}
	return out, nil
}

func ec2ModifyLaunchTemplate(c *Call) (any, error) {
	f := c.Form
	lt, e := c.World.FindLaunchTemplate(c.Account, c.Region, formGet(f, "LaunchTemplateId"), formGet(f, "LaunchTemplateName"))
	if e != nil {
		return nil, e
	}
	if vs := formGet(f, "SetDefaultVersion"); vs != "" {
		v, e := lt.ec2ResolveVersion(vs)
		if e != nil {
			return nil, e
		}
		lt.DefaultVersion = v.Number
	}
	return struct {
		LaunchTemplate ec2LaunchTemplateXML `xml:"launchTemplate"`
	}{lt.ec2XML()}, nil
}

func ec2DeleteLaunchTemplate(c *Call) (any, error) {
	f := c.Form
	lt, e := c.World.FindLaunchTemplate(c.Account, c.Region, formGet(f, "LaunchTemplateId"), formGet(f, "LaunchTemplateName"))
	if e != nil {
		return nil, e
	}
	delete(c.World.EC2.LaunchTemplates, lt.ID)
	return struct {
		LaunchTemplate ec2LaunchTemplateXML `xml:"launchTemplate"`
	}{lt.ec2XML()}, nil
}

func ec2DeleteLaunchTemplateVersions(c *Call) (any, error) {
	f := c.Form
	lt, e := c.World.FindLaunchTemplate(c.Account, c.Region, formGet(f, "LaunchTemplateId"), formGet(f, "LaunchTemplateName"))
	if e != nil {
		return nil, e
	}
	versions := formList(f, "LaunchTemplateVersion")
	if len(versions) == 0 {
		return nil, errMissingParameter("LaunchTemplateVersion")
	}
	type okItem struct {
		ID      string `xml:"launchTemplateId"`
		Name    string `xml:"launchTemplateName"`
		Version int    `xml:"versionNumber"`
	}
	type errItem struct {
		ID      string `xml:"launchTemplateId"`
		Name    string `xml:"launchTemplateName"`
		Version int    `xml:"versionNumber"`
		Error   struct {
			Code    string `xml:"code"`
			Message string `xml:"message"`
		} `xml:"responseError"`
	}
	out := struct {
		OK     []okItem  `xml:"successfullyDeletedLaunchTemplateVersionSet>item"`
		Failed []errItem `xml:"unsuccessfullyDeletedLaunchTemplateVersionSet>item"`
	}{}
	for _, vs := range versions {
		n, err := strconv.Atoi(vs)
		fail := func(code, msg string) {
			it := errItem{ID: lt.ID, Name: lt.Name, Version: n}
			it.Error.Code, it.Error.Message = code, msg
			out.Failed = append(out.Failed, it)
		}
		switch {
		case err != nil || lt.ec2Version(n) == nil:
			fail("launchTemplateVersionDoesNotExist", "The specified launch template version does not exist.")
		case n == lt.DefaultVersion:
			fail("unexpectedError", "The default version of a launch template cannot be deleted.")
		default:
			kept := lt.Versions[:0]
			for _, v := range lt.Versions {
				if v.Number != n {
					kept = append(kept, v)
				}
			}
			lt.Versions = kept
			out.OK = append(out.OK, okItem{lt.ID, lt.Name, n})
		}
	}
	return out, nil
}
