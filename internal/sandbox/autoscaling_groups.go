package sandbox

import (
	"fmt"
	"sort"
	"strings"
)

// ---- wire shapes (awsquery result contents, element names as the SDK reads them) ----

type asgTemplateXML struct {
	LaunchTemplateID   string `xml:"LaunchTemplateId,omitempty"`
	LaunchTemplateName string `xml:"LaunchTemplateName,omitempty"`
	Version            string `xml:"Version,omitempty"`
}

func asgTemplateOut(s ASGTemplateSpec) *asgTemplateXML {
	return &asgTemplateXML{LaunchTemplateID: s.ID, LaunchTemplateName: s.Name, Version: s.Version}
}

type asgOverrideXML struct {
	InstanceType     string `xml:"InstanceType,omitempty"`
	ImageID          string `xml:"ImageId,omitempty"`
	WeightedCapacity string `xml:"WeightedCapacity,omitempty"`
}

type asgDistributionXML struct {
	OnDemandAllocationStrategy          string `xml:"OnDemandAllocationStrategy,omitempty"`
	OnDemandBaseCapacity                *int   `xml:"OnDemandBaseCapacity,omitempty"`
	OnDemandPercentageAboveBaseCapacity *int   `xml:"OnDemandPercentageAboveBaseCapacity,omitempty"`
	SpotAllocationStrategy              string `xml:"SpotAllocationStrategy,omitempty"`
	SpotInstancePools                   *int   `xml:"SpotInstancePools,omitempty"`
	SpotMaxPrice                        string `xml:"SpotMaxPrice,omitempty"`
}

type asgMixedXML struct {
	LaunchTemplate struct {
		LaunchTemplateSpecification *asgTemplateXML  `xml:"LaunchTemplateSpecification"`
		Overrides                   []asgOverrideXML `xml:"Overrides>member"`
	} `xml:"LaunchTemplate"`
	InstancesDistribution *asgDistributionXML `xml:"InstancesDistribution,omitempty"`
}

func asgMixedOut(m *ASGMixedInstancesPolicy) *asgMixedXML {
	if m == nil {
		return nil
	}
	out := &asgMixedXML{}
	out.LaunchTemplate.LaunchTemplateSpecification = asgTemplateOut(m.LaunchTemplate)
	for _, o := range m.Overrides {
		out.LaunchTemplate.Overrides = append(out.LaunchTemplate.Overrides, asgOverrideXML(o))
	}
	d := asgDistributionXML{
		OnDemandAllocationStrategy: m.OnDemandAllocationStrategy, OnDemandBaseCapacity: m.OnDemandBaseCapacity,
		OnDemandPercentageAboveBaseCapacity: m.OnDemandPercentageAboveBaseCapacity, SpotAllocationStrategy: m.SpotAllocationStrategy,
		SpotInstancePools: m.SpotInstancePools, SpotMaxPrice: m.SpotMaxPrice,
	}
	if d != (asgDistributionXML{}) {
		out.InstancesDistribution = &d
	}
	return out
}

type asgInstanceXML struct {
	InstanceID           string          `xml:"InstanceId"`
	AutoScalingGroupName string          `xml:"AutoScalingGroupName,omitempty"` // DescribeAutoScalingInstances only
	InstanceType         string          `xml:"InstanceType,omitempty"`
	ImageID              string          `xml:"ImageId,omitempty"`
	AvailabilityZone     string          `xml:"AvailabilityZone"`
	LifecycleState       string          `xml:"LifecycleState"`
	HealthStatus         string          `xml:"HealthStatus"`
	LaunchTemplate       *asgTemplateXML `xml:"LaunchTemplate,omitempty"`
	ProtectedFromScaleIn bool            `xml:"ProtectedFromScaleIn"`
}

func asgInstanceOut(m *ASGInstance, group string) asgInstanceXML {
	return asgInstanceXML{
		InstanceID: m.ID, AutoScalingGroupName: group, InstanceType: m.InstanceType, ImageID: m.ImageID,
		AvailabilityZone: m.AZ, LifecycleState: m.LifecycleState, HealthStatus: m.HealthStatus,
		LaunchTemplate: asgTemplateOut(m.LaunchTemplate), ProtectedFromScaleIn: m.Protected,
	}
}

type asgTagXML struct {
	ResourceID        string `xml:"ResourceId"`
	ResourceType      string `xml:"ResourceType"`
	Key               string `xml:"Key"`
	Value             string `xml:"Value"`
	PropagateAtLaunch bool   `xml:"PropagateAtLaunch"`
}

type asgSuspendedXML struct {
	ProcessName      string `xml:"ProcessName"`
	SuspensionReason string `xml:"SuspensionReason"`
}

type asgMaintenanceXML struct {
	MinHealthyPercentage int `xml:"MinHealthyPercentage"`
	MaxHealthyPercentage int `xml:"MaxHealthyPercentage"`
}

type asgGroupXML struct {
	AutoScalingGroupName             string             `xml:"AutoScalingGroupName"`
	AutoScalingGroupARN              string             `xml:"AutoScalingGroupARN"`
	LaunchTemplate                   *asgTemplateXML    `xml:"LaunchTemplate,omitempty"`
	MixedInstancesPolicy             *asgMixedXML       `xml:"MixedInstancesPolicy,omitempty"`
	MinSize                          int                `xml:"MinSize"`
	MaxSize                          int                `xml:"MaxSize"`
	DesiredCapacity                  int                `xml:"DesiredCapacity"`
	DefaultCooldown                  int                `xml:"DefaultCooldown"`
	AvailabilityZones                []string           `xml:"AvailabilityZones>member"`
	LoadBalancerNames                []string           `xml:"LoadBalancerNames>member"`
	TargetGroupARNs                  []string           `xml:"TargetGroupARNs>member"`
	HealthCheckType                  string             `xml:"HealthCheckType"`
	HealthCheckGracePeriod           int                `xml:"HealthCheckGracePeriod"`
	Instances                        []asgInstanceXML   `xml:"Instances>member"`
	CreatedTime                      string             `xml:"CreatedTime"`
	SuspendedProcesses               []asgSuspendedXML  `xml:"SuspendedProcesses>member"`
	VPCZoneIdentifier                string             `xml:"VPCZoneIdentifier,omitempty"`
	Tags                             []asgTagXML        `xml:"Tags>member"`
	TerminationPolicies              []string           `xml:"TerminationPolicies>member"`
	NewInstancesProtectedFromScaleIn bool               `xml:"NewInstancesProtectedFromScaleIn"`
	ServiceLinkedRoleARN             string             `xml:"ServiceLinkedRoleARN"`
	MaxInstanceLifetime              *int               `xml:"MaxInstanceLifetime,omitempty"`
	CapacityRebalance                bool               `xml:"CapacityRebalance"`
	DefaultInstanceWarmup            *int               `xml:"DefaultInstanceWarmup,omitempty"`
	InstanceMaintenancePolicy        *asgMaintenanceXML `xml:"InstanceMaintenancePolicy,omitempty"`
	Status                           string             `xml:"Status,omitempty"`
}

func (g *AutoScalingGroup) tagsOut() []asgTagXML {
	var out []asgTagXML
	for _, t := range g.Tags {
		out = append(out, asgTagXML{ResourceID: g.Name, ResourceType: "auto-scaling-group", Key: t.Key, Value: t.Value, PropagateAtLaunch: t.PropagateAtLaunch})
	}
	return out
}

func (g *AutoScalingGroup) out(includeInstances bool) asgGroupXML {
	x := asgGroupXML{
		AutoScalingGroupName: g.Name, AutoScalingGroupARN: g.ARN,
		MinSize: g.MinSize, MaxSize: g.MaxSize, DesiredCapacity: g.DesiredCapacity, DefaultCooldown: g.DefaultCooldown,
		AvailabilityZones: g.AvailabilityZones, HealthCheckType: g.HealthCheckType,
		CreatedTime: asgTime(g.CreatedTime), VPCZoneIdentifier: strings.Join(g.SubnetIDs, ","),
		Tags: g.tagsOut(), TerminationPolicies: g.TerminationPolicies,
		NewInstancesProtectedFromScaleIn: g.NewInstancesProtectedFromScaleIn,
		ServiceLinkedRoleARN:             fmt.Sprintf("arn:aws:iam::%s:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling", g.Account),
		CapacityRebalance:                g.CapacityRebalance, DefaultInstanceWarmup: g.DefaultInstanceWarmup,
	}
	if len(x.TerminationPolicies) == 0 {
		x.TerminationPolicies = []string{"Default"}
	}
	if g.Config.MixedInstancesPolicy != nil {
		x.MixedInstancesPolicy = asgMixedOut(g.Config.MixedInstancesPolicy)
	} else if g.Config.LaunchTemplate != nil {
		x.LaunchTemplate = asgTemplateOut(*g.Config.LaunchTemplate)
	}
	if g.HealthCheckGracePeriod != nil {
		x.HealthCheckGracePeriod = *g.HealthCheckGracePeriod
	}
	if g.MaxInstanceLifetime > 0 {
		n := g.MaxInstanceLifetime
		x.MaxInstanceLifetime = &n
	}
	if p := g.InstanceMaintenancePolicy; p != nil {
		x.InstanceMaintenancePolicy = &asgMaintenanceXML{MinHealthyPercentage: p.MinHealthyPercentage, MaxHealthyPercentage: p.MaxHealthyPercentage}
	}
	for _, s := range g.Suspended {
		x.SuspendedProcesses = append(x.SuspendedProcesses, asgSuspendedXML{ProcessName: s.Process, SuspensionReason: s.Reason})
	}
	if includeInstances {
		for _, m := range g.Instances {
			x.Instances = append(x.Instances, asgInstanceOut(m, ""))
		}
	}
	if g.Deleting {
		x.Status = "Delete in progress"
	}
	return x
}

type asgActivityXML struct {
	ActivityID           string  `xml:"ActivityId"`
	AutoScalingGroupName string  `xml:"AutoScalingGroupName"`
	AutoScalingGroupARN  string  `xml:"AutoScalingGroupARN"`
	Description          string  `xml:"Description"`
	Cause                string  `xml:"Cause"`
	Details              string  `xml:"Details,omitempty"`
	StartTime            string  `xml:"StartTime"`
	EndTime              *string `xml:"EndTime,omitempty"`
	StatusCode           string  `xml:"StatusCode"`
	StatusMessage        string  `xml:"StatusMessage,omitempty"`
	Progress             int     `xml:"Progress"`
}

func (a *ScalingActivity) out() asgActivityXML {
	return asgActivityXML{
		ActivityID: a.ID, AutoScalingGroupName: a.GroupName, AutoScalingGroupARN: a.GroupARN,
		Description: a.Description, Cause: a.Cause, Details: a.Details, StartTime: asgTime(a.StartTime),
		EndTime: asgTimePtr(a.EndTime), StatusCode: a.StatusCode, StatusMessage: a.StatusMessage, Progress: a.Progress,
	}
}

// ---- group actions ----

var asgTerminationPolicies = []string{"Default", "OldestInstance", "NewestInstance", "OldestLaunchConfiguration",
	"OldestLaunchTemplate", "ClosestToNextInstanceHour", "AllocationStrategy"}

func asgValidateSizes(min, max, desired int) *APIError {
	switch {
	case min < 0:
		return errValidation("1 validation error detected: Value '%d' at 'minSize' failed to satisfy constraint: Member must have value greater than or equal to 0", min)
	case max < 0:
		return errValidation("1 validation error detected: Value '%d' at 'maxSize' failed to satisfy constraint: Member must have value greater than or equal to 0", max)
	case max > asgMaxGroupSize:
		return errValidation("MaxSize %d exceeds the sandbox's limit of %d instances per Auto Scaling group.", max, asgMaxGroupSize)
	case min > max:
		return errValidation("Max bound, %d, must be greater than or equal to min bound, %d", max, min)
	case desired < min || desired > max:
		return errValidation("Desired capacity:%d must be between the specified min size:%d and max size:%d", desired, min, max)
	}
	return nil
}

// asgPlacement validates VPCZoneIdentifier / AvailabilityZones and returns
// the subnets and zones a group spreads over.
func (w *World) asgPlacement(account, region, vpcZone string, zones []string) ([]string, []string, *APIError) {
	var subnets []string
	for _, s := range strings.Split(vpcZone, ",") {
		if s = strings.TrimSpace(s); s != "" {
			subnets = append(subnets, s)
		}
	}
	if len(subnets) > 0 {
		seen := map[string]bool{}
		var azs []string
		for _, id := range subnets {
			sn := w.EC2.Subnets[id]
			if sn == nil || sn.Account != account || sn.Region != region {
				return nil, nil, errValidation("The subnet ID '%s' does not exist", id)
			}
			if !seen[sn.AZ] {
				seen[sn.AZ] = true
				azs = append(azs, sn.AZ)
			}
		}
		sort.Strings(azs)
		return subnets, azs, nil
	}
	if len(zones) == 0 {
		return nil, nil, errValidation("At least one Availability Zone or VPC Subnet is required.")
	}
	w.ensureDefaultVPC(account, region)
	for _, az := range zones {
		if w.asgDefaultSubnet(account, region, az) == nil {
			return nil, nil, errValidation("The availability zone %s is not legal in region %s.", az, region)
		}
	}
	return nil, asgSortedStrings(zones), nil
}

func (w *World) asgDefaultSubnet(account, region, az string) *Subnet {
	for _, id := range sortedKeys(w.EC2.Subnets) {
		s := w.EC2.Subnets[id]
		if s.Account == account && s.Region == region && s.AZ == az && s.IsDefault {
			return s
		}
	}
	return nil
}

// asgFormTags reads Tags.member.N for a group action.
func asgFormTags(f map[string][]string) ([]asgTagXML, *APIError) {
	var out []asgTagXML
	for _, p := range formStructs(f, "Tags.member") {
		t := asgTagXML{
			ResourceID: formGet(f, p+".ResourceId"), ResourceType: formGet(f, p+".ResourceType"),
			Key: formGet(f, p+".Key"), Value: formGet(f, p+".Value"), PropagateAtLaunch: formBool(f, p+".PropagateAtLaunch"),
		}
		if t.Key == "" {
			return nil, errASGRequired("tags.member.key")
		}
		if strings.HasPrefix(strings.ToLower(t.Key), "aws:") {
			return nil, errValidation("Tag keys starting with 'aws:' are reserved for internal use")
		}
		if len(t.Key) > 128 || len(t.Value) > 256 {
			return nil, errValidation("Tag key must be at most 128 and value at most 256 characters long")
		}
		out = append(out, t)
	}
	return out, nil
}

// setTag adds or replaces a tag, keeping tags sorted by key.
func (g *AutoScalingGroup) setTag(t ASGTag) {
	for i := range g.Tags {
		if g.Tags[i].Key == t.Key {
			g.Tags[i] = t
			return
		}
	}
	g.Tags = append(g.Tags, t)
	sort.Slice(g.Tags, func(i, j int) bool { return g.Tags[i].Key < g.Tags[j].Key })
}

func asgFormPolicies(f map[string][]string) ([]string, *APIError) {
	pols := formMembers(f, "TerminationPolicies")
	for _, p := range pols {
		ok := false
		for _, v := range asgTerminationPolicies {
			ok = ok || v == p
		}
		if !ok && !strings.HasPrefix(p, "arn:") {
			return nil, errValidation("Termination policy '%s' is not valid. Valid values are: %s", p, strings.Join(asgTerminationPolicies, ", "))
		}
	}
	return pols, nil
}

func asgFormMaintenance(f map[string][]string) (*ASGMaintenancePolicy, *APIError) {
	minP, err := asgFormIntPtr(f, "InstanceMaintenancePolicy.MinHealthyPercentage")
	if err != nil {
		return nil, err
	}
	maxP, err := asgFormIntPtr(f, "InstanceMaintenancePolicy.MaxHealthyPercentage")
	if err != nil {
		return nil, err
	}
	if minP == nil && maxP == nil {
		return nil, nil
	}
	p := &ASGMaintenancePolicy{MinHealthyPercentage: -1, MaxHealthyPercentage: -1}
	if minP != nil {
		p.MinHealthyPercentage = *minP
	}
	if maxP != nil {
		p.MaxHealthyPercentage = *maxP
	}
	if p.MinHealthyPercentage == -1 && p.MaxHealthyPercentage == -1 {
		return p, nil // clears the policy
	}
	if p.MinHealthyPercentage < 0 || p.MinHealthyPercentage > 100 || p.MaxHealthyPercentage < 100 || p.MaxHealthyPercentage > 200 ||
		p.MaxHealthyPercentage-p.MinHealthyPercentage > 100 {
		return nil, errValidation("Invalid instance maintenance policy: MinHealthyPercentage must be 0-100, MaxHealthyPercentage 100-200, and their difference at most 100")
	}
	return p, nil
}

// asgApplyCommon reads the settings CreateAutoScalingGroup and
// UpdateAutoScalingGroup share, onto g.
func asgApplyCommon(c *Call, g *AutoScalingGroup) *APIError {
	f := c.Form
	if v := formGet(f, "HealthCheckType"); v != "" {
		g.HealthCheckType = v
	}
	grace, err := asgFormIntPtr(f, "HealthCheckGracePeriod")
	if err != nil {
		return err
	}
	if grace != nil {
		if *grace < 0 {
			return errValidation("HealthCheckGracePeriod must be greater than or equal to 0")
		}
		g.HealthCheckGracePeriod = grace
	}
	warm, err := asgFormIntPtr(f, "DefaultInstanceWarmup")
	if err != nil {
		return err
	}
	if warm != nil {
		if *warm < 0 {
			g.DefaultInstanceWarmup = nil // -1 removes it
		} else {
			g.DefaultInstanceWarmup = warm
		}
	}
	cool, err := asgFormIntPtr(f, "DefaultCooldown")
	if err != nil {
		return err
	}
	if cool != nil {
		g.DefaultCooldown = *cool
	}
	life, err := asgFormIntPtr(f, "MaxInstanceLifetime")
	if err != nil {
		return err
	}
	if life != nil {
		if *life != 0 && (*life < 86400 || *life > 31536000) {
			return errValidation("MaxInstanceLifetime must be 0 or between 86400 and 31536000 seconds")
		}
		g.MaxInstanceLifetime = *life
	}
	if b := asgFormBoolPtr(f, "NewInstancesProtectedFromScaleIn"); b != nil {
		g.NewInstancesProtectedFromScaleIn = *b
	}
	if b := asgFormBoolPtr(f, "CapacityRebalance"); b != nil {
		g.CapacityRebalance = *b
	}
	if formHas(f, "TerminationPolicies.member.1") {
		pols, err := asgFormPolicies(f)
		if err != nil {
			return err
		}
		g.TerminationPolicies = pols
	}
	imp, err := asgFormMaintenance(f)
	if err != nil {
		return err
	}
	if imp != nil {
		if imp.MinHealthyPercentage == -1 && imp.MaxHealthyPercentage == -1 {
			g.InstanceMaintenancePolicy = nil
		} else {
			g.InstanceMaintenancePolicy = imp
		}
	}
	return nil
}

func asgCreateGroup(c *Call) (any, error) {
	f, w := c.Form, c.World
	name := formGet(f, "AutoScalingGroupName")
	if name == "" {
		return nil, errASGRequired("autoScalingGroupName")
	}
	if len(name) > 255 {
		return nil, errValidation("1 validation error detected: Value at 'autoScalingGroupName' failed to satisfy constraint: Member must have length less than or equal to 255")
	}
	if w.ASG.Groups[asgKey(c.Account, c.Region, name)] != nil {
		return nil, Errorf("AlreadyExists", "AutoScalingGroup by this name already exists - A group with the name %s already exists", name)
	}
	n := 0
	for _, g := range w.ASG.Groups {
		if g.Account == c.Account && g.Region == c.Region {
			n++
		}
	}
	if n >= asgMaxGroupsPerRegion {
		return nil, Errorf("LimitExceeded", "You have reached your limit of %d Auto Scaling groups in this Region.", asgMaxGroupsPerRegion)
	}
	if formGet(f, "LaunchConfigurationName") != "" || formGet(f, "InstanceId") != "" {
		return nil, errValidation("The sandbox supports launch templates only: specify LaunchTemplate or MixedInstancesPolicy.")
	}
	cfg, err := asgFormConfig(f, "")
	if err != nil {
		return nil, err
	}
	if cfg == nil {
		return nil, errValidation("Valid requests must contain either LaunchTemplate, LaunchConfigurationName, InstanceId or MixedInstancesPolicy parameter.")
	}
	norm, err := w.asgNormalizeConfig(c.Account, c.Region, *cfg)
	if err != nil {
		return nil, err
	}
	minP, err := asgFormIntPtr(f, "MinSize")
	if err != nil {
		return nil, err
	}
	maxP, err := asgFormIntPtr(f, "MaxSize")
	if err != nil {
		return nil, err
	}
	if minP == nil {
		return nil, errASGRequired("minSize")
	}
	if maxP == nil {
		return nil, errASGRequired("maxSize")
	}
	desired := *minP
	if d, err := asgFormIntPtr(f, "DesiredCapacity"); err != nil {
		return nil, err
	} else if d != nil {
		desired = *d
	}
	if err := asgValidateSizes(*minP, *maxP, desired); err != nil {
		return nil, err
	}
	subnets, azs, err := w.asgPlacement(c.Account, c.Region, formGet(f, "VPCZoneIdentifier"), formMembers(f, "AvailabilityZones"))
	if err != nil {
		return nil, err
	}
	tags, err := asgFormTags(f)
	if err != nil {
		return nil, err
	}
	if len(tags) > asgMaxTagsPerGroup {
		return nil, Errorf("LimitExceeded", "The number of tags for the Auto Scaling group exceeds the limit of %d.", asgMaxTagsPerGroup)
	}
	g := &AutoScalingGroup{
		Name: name, Account: c.Account, Region: c.Region, CreatedTime: c.Now,
		ARN:    fmt.Sprintf("arn:aws:autoscaling:%s:%s:autoScalingGroup:%s:autoScalingGroupName/%s", c.Region, c.Account, w.NewUUID(), name),
		Config: norm, MinSize: *minP, MaxSize: *maxP, DesiredCapacity: desired, DefaultCooldown: 300,
		SubnetIDs: subnets, AvailabilityZones: azs, HealthCheckType: "EC2",
		Cause:     fmt.Sprintf("At %s a user request created an AutoScalingGroup changing the desired capacity from 0 to %d.", asgStamp(c.Now), desired),
		VisibleAt: c.Now.Add(c.InvisibleFor()),
	}
	if err := asgApplyCommon(c, g); err != nil {
		return nil, err
	}
	for _, t := range tags {
		g.setTag(ASGTag{Key: t.Key, Value: t.Value, PropagateAtLaunch: t.PropagateAtLaunch})
	}
	w.ASG.Groups[asgKey(c.Account, c.Region, name)] = g
	return nil, nil
}

func asgUpdateGroup(c *Call) (any, error) {
	f, w := c.Form, c.World
	g, err := asgGroup(c, formGet(f, "AutoScalingGroupName"))
	if err != nil {
		return nil, err
	}
	if g.Deleting {
		return nil, Errorf("ScalingActivityInProgress", "The AutoScalingGroup %s is being deleted.", g.Name)
	}
	if formGet(f, "LaunchConfigurationName") != "" {
		return nil, errValidation("The sandbox supports launch templates only: specify LaunchTemplate or MixedInstancesPolicy.")
	}
	cfg, err := asgFormConfig(f, "")
	if err != nil {
		return nil, err
	}
	var norm *ASGConfig
	if cfg != nil {
		n, err := w.asgNormalizeConfig(c.Account, c.Region, *cfg)
		if err != nil {
			return nil, err
		}
		norm = &n
	}
	minP, err := asgFormIntPtr(f, "MinSize")
	if err != nil {
		return nil, err
	}
	maxP, err := asgFormIntPtr(f, "MaxSize")
	if err != nil {
		return nil, err
	}
	desP, err := asgFormIntPtr(f, "DesiredCapacity")
	if err != nil {
		return nil, err
	}
	min, max, desired := g.MinSize, g.MaxSize, g.DesiredCapacity
	if minP != nil {
		min = *minP
	}
	if maxP != nil {
		max = *maxP
	}
	if desP != nil {
		desired = *desP
	} else {
		// As AWS does: a new bound drags the desired capacity with it.
		if desired < min {
			desired = min
		}
		if desired > max {
			desired = max
		}
	}
	if err := asgValidateSizes(min, max, desired); err != nil {
		return nil, err
	}
	var subnets, azs []string
	placement := formHas(f, "VPCZoneIdentifier") || formHas(f, "AvailabilityZones.member.1")
	if placement {
		subnets, azs, err = w.asgPlacement(c.Account, c.Region, formGet(f, "VPCZoneIdentifier"), formMembers(f, "AvailabilityZones"))
		if err != nil {
			return nil, err
		}
	}
	// Everything validated from here: apply.
	saved := *g
	if err := asgApplyCommon(c, g); err != nil {
		*g = saved
		return nil, err
	}
	if norm != nil {
		g.Config = *norm
	}
	if placement {
		g.SubnetIDs, g.AvailabilityZones = subnets, azs
	}
	if desired != g.DesiredCapacity || min != g.MinSize || max != g.MaxSize {
		g.Cause = fmt.Sprintf("At %s a user request update of AutoScalingGroup constraints to min: %d, max: %d, desired: %d changing the desired capacity from %d to %d.",
			asgStamp(c.Now), min, max, desired, g.DesiredCapacity, desired)
	}
	g.MinSize, g.MaxSize, g.DesiredCapacity = min, max, desired
	return nil, nil
}

func asgDescribeGroups(c *Call) (any, error) {
	f, w := c.Form, c.World
	names := map[string]bool{}
	for _, n := range formMembers(f, "AutoScalingGroupNames") {
		names[n] = true
	}
	filters := asgFilters(f)
	for k := range filters {
		if k != "tag-key" && k != "tag-value" && !strings.HasPrefix(k, "tag:") {
			return nil, errValidation("The filter '%s' is not valid. Valid filters are: tag-key, tag-value, tag:<key>.", k)
		}
	}
	var groups []*AutoScalingGroup
	for _, g := range w.sortedGroups() {
		if g.Account != c.Account || g.Region != c.Region || g.VisibleAt.After(c.Now) {
			continue
		}
		if len(names) > 0 && !names[g.Name] {
			continue
		}
		if !g.matchesFilters(filters) {
			continue
		}
		groups = append(groups, g)
	}
	start, end, next, err := asgPage(f, len(groups), 50, 100)
	if err != nil {
		return nil, err
	}
	include := true
	if b := asgFormBoolPtr(f, "IncludeInstances"); b != nil {
		include = *b
	}
	out := struct {
		AutoScalingGroups []asgGroupXML `xml:"AutoScalingGroups>member"`
		NextToken         string        `xml:"NextToken,omitempty"`
	}{NextToken: next}
	for _, g := range groups[start:end] {
		out.AutoScalingGroups = append(out.AutoScalingGroups, g.out(include))
	}
	if out.AutoScalingGroups == nil {
		// An empty <AutoScalingGroups/> so the SDK returns an empty list.
		return struct {
			AutoScalingGroups struct{} `xml:"AutoScalingGroups"`
		}{}, nil
	}
	return out, nil
}

// matchesFilters applies DescribeAutoScalingGroups filters: every filter
// must match, any of its values may.
func (g *AutoScalingGroup) matchesFilters(filters map[string][]string) bool {
	for name, values := range filters {
		ok := false
		for _, t := range g.Tags {
			for _, v := range values {
				switch {
				case name == "tag-key":
					ok = ok || t.Key == v
				case name == "tag-value":
					ok = ok || t.Value == v
				case strings.HasPrefix(name, "tag:"):
					ok = ok || (t.Key == strings.TrimPrefix(name, "tag:") && t.Value == v)
				}
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func asgDeleteGroup(c *Call) (any, error) {
	f, w := c.Form, c.World
	g, err := asgGroup(c, formGet(f, "AutoScalingGroupName"))
	if err != nil {
		return nil, err
	}
	if g.Deleting {
		return nil, nil
	}
	force := formBool(f, "ForceDelete")
	if !force {
		if len(g.activeMembers()) > 0 {
			return nil, Errorf("ResourceInUse", "You cannot delete an AutoScalingGroup while there are instances or pending Spot instance request(s) still in the group.")
		}
		if len(g.Instances) > 0 {
			return nil, Errorf("ScalingActivityInProgress", "You cannot delete an AutoScalingGroup while there are scaling activities in progress for that group.")
		}
	}
	for _, r := range w.asgRefreshesOf(g) {
		if r.activeStatus() {
			r.Status, r.Reason, r.EndTime, r.Extra = RefreshCancelled, "The Auto Scaling group was deleted.", c.Now, 0
		}
	}
	g.Deleting = true
	g.DesiredCapacity, g.MinSize = 0, 0
	cause := fmt.Sprintf("At %s a user request deleted the AutoScalingGroup %s.", asgStamp(c.Now), g.Name)
	for _, m := range g.activeMembers() {
		w.asgTerminateMember(g, m, c.Now, cause+fmt.Sprintf("  At %s instance %s was selected for termination.", asgStamp(c.Now), m.ID))
	}
	w.asgFinishDelete(g)
	return nil, nil
}

// asgFinishDelete removes a deleting group once its instances are gone.
func (w *World) asgFinishDelete(g *AutoScalingGroup) bool {
	if !g.Deleting || len(g.Instances) > 0 {
		return false
	}
	delete(w.ASG.Groups, asgKey(g.Account, g.Region, g.Name))
	for id, r := range w.ASG.Refreshes {
		if r.Account == g.Account && r.Region == g.Region && r.GroupName == g.Name {
			delete(w.ASG.Refreshes, id)
		}
	}
	return true
}

func asgSetDesiredCapacity(c *Call) (any, error) {
	f := c.Form
	g, err := asgGroup(c, formGet(f, "AutoScalingGroupName"))
	if err != nil {
		return nil, err
	}
	d, err := asgFormIntPtr(f, "DesiredCapacity")
	if err != nil {
		return nil, err
	}
	if d == nil {
		return nil, errASGRequired("desiredCapacity")
	}
	if g.Deleting {
		return nil, Errorf("ScalingActivityInProgress", "The AutoScalingGroup %s is being deleted.", g.Name)
	}
	if *d > g.MaxSize {
		return nil, errValidation("New SetDesiredCapacity value %d is above max value %d for the AutoScalingGroup.", *d, g.MaxSize)
	}
	if *d < g.MinSize {
		return nil, errValidation("New SetDesiredCapacity value %d is below min value %d for the AutoScalingGroup.", *d, g.MinSize)
	}
	if *d != g.DesiredCapacity {
		g.Cause = fmt.Sprintf("At %s a user request explicitly set group desired capacity changing the desired capacity from %d to %d.", asgStamp(c.Now), g.DesiredCapacity, *d)
		g.DesiredCapacity = *d
	}
	return nil, nil
}

// asgFindMember finds the group holding an instance in the caller's
// account and region.
func asgFindMember(c *Call, id string) (*AutoScalingGroup, *ASGInstance, *APIError) {
	for _, g := range c.World.sortedGroups() {
		if g.Account != c.Account || g.Region != c.Region || g.VisibleAt.After(c.Now) {
			continue
		}
		if m := g.member(id); m != nil {
			return g, m, nil
		}
	}
	return nil, nil, errValidation("Instance Id not found - No managed instance found for instance ID: %s", id)
}

func asgDescribeInstances(c *Call) (any, error) {
	f, w := c.Form, c.World
	want := map[string]bool{}
	for _, id := range formMembers(f, "InstanceIds") {
		want[id] = true
	}
	type row struct {
		g *AutoScalingGroup
		m *ASGInstance
	}
	var rows []row
	for _, g := range w.sortedGroups() {
		if g.Account != c.Account || g.Region != c.Region || g.VisibleAt.After(c.Now) {
			continue
		}
		for _, m := range g.Instances {
			if len(want) == 0 || want[m.ID] {
				rows = append(rows, row{g, m})
			}
		}
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].m.ID < rows[j].m.ID })
	start, end, next, err := asgPage(f, len(rows), 50, 50)
	if err != nil {
		return nil, err
	}
	out := struct {
		AutoScalingInstances []asgInstanceXML `xml:"AutoScalingInstances>member"`
		NextToken            string           `xml:"NextToken,omitempty"`
	}{NextToken: next}
	for _, r := range rows[start:end] {
		out.AutoScalingInstances = append(out.AutoScalingInstances, asgInstanceOut(r.m, r.g.Name))
	}
	return out, nil
}

func asgTerminateInstance(c *Call) (any, error) {
	f, w := c.Form, c.World
	if !formHas(f, "ShouldDecrementDesiredCapacity") {
		return nil, errASGRequired("shouldDecrementDesiredCapacity")
	}
	decrement := formBool(f, "ShouldDecrementDesiredCapacity")
	ids := formMembers(f, "InstanceIds")
	single := formGet(f, "InstanceId")
	switch {
	case single != "" && len(ids) > 0:
		return nil, errValidation("Specify either InstanceId or InstanceIds, not both.")
	case single == "" && len(ids) == 0:
		return nil, errASGRequired("instanceId")
	case len(ids) > 100:
		return nil, errValidation("You can specify up to 100 instances.")
	}
	var g *AutoScalingGroup
	var members []*ASGInstance
	if single != "" {
		grp, m, err := asgFindMember(c, single)
		if err != nil {
			return nil, err
		}
		if name := formGet(f, "AutoScalingGroupName"); name != "" && name != grp.Name {
			return nil, errValidation("The instance %s is not part of Auto Scaling group %s.", single, name)
		}
		g, members = grp, []*ASGInstance{m}
	} else {
		grp, err := asgGroup(c, formGet(f, "AutoScalingGroupName"))
		if err != nil {
			return nil, err
		}
		g = grp
		for _, id := range ids {
			m := g.member(id)
			if m == nil {
				return nil, errValidation("The instance %s is not part of Auto Scaling group %s.", id, g.Name)
			}
			members = append(members, m)
		}
	}
	var fresh []*ASGInstance
	for _, m := range members {
		if m.active() {
			fresh = append(fresh, m)
		}
	}
	if decrement && g.DesiredCapacity-len(fresh) < g.MinSize {
		return nil, errValidation("Currently, desiredCapacity is %d and minSize is %d. Terminating instance without replacement will violate group's min size constraint. Either set shouldDecrementDesiredCapacity flag to false or lower group's min size constraint.",
			g.DesiredCapacity, g.MinSize)
	}
	var acts []*ScalingActivity
	for _, m := range members {
		if !m.active() {
			if a := w.asgActivityByID(m.TerminateActivity); a != nil {
				acts = append(acts, a)
			}
			continue
		}
		cause := fmt.Sprintf("At %s instance %s was taken out of service in response to a user request.", asgStamp(c.Now), m.ID)
		if decrement {
			cause = fmt.Sprintf("At %s instance %s was taken out of service in response to a user request, shrinking the capacity from %d to %d.",
				asgStamp(c.Now), m.ID, g.DesiredCapacity, g.DesiredCapacity-1)
			g.DesiredCapacity--
		}
		acts = append(acts, w.asgTerminateMember(g, m, c.Now, cause))
	}
	if single != "" {
		var one *asgActivityXML
		if len(acts) > 0 {
			x := acts[0].out()
			one = &x
		}
		return struct {
			Activity *asgActivityXML `xml:"Activity,omitempty"`
		}{one}, nil
	}
	out := struct {
		Activities []asgActivityXML `xml:"Activities>member"`
	}{}
	for _, a := range acts {
		out.Activities = append(out.Activities, a.out())
	}
	return out, nil
}

func (w *World) asgActivityByID(id string) *ScalingActivity {
	for i := len(w.ASG.Activities) - 1; i >= 0 && id != ""; i-- {
		if w.ASG.Activities[i].ID == id {
			return w.ASG.Activities[i]
		}
	}
	return nil
}

func asgSetInstanceHealth(c *Call) (any, error) {
	f, w := c.Form, c.World
	id := formGet(f, "InstanceId")
	if id == "" {
		return nil, errASGRequired("instanceId")
	}
	status := formGet(f, "HealthStatus")
	if status != ASGHealthy && status != ASGUnhealthy {
		return nil, errValidation("The HealthStatus '%s' is not valid. Valid values are Healthy and Unhealthy.", status)
	}
	g, m, err := asgFindMember(c, id)
	if err != nil {
		return nil, err
	}
	respect := true
	if b := asgFormBoolPtr(f, "ShouldRespectGracePeriod"); b != nil {
		respect = *b
	}
	if status == ASGUnhealthy && respect && c.Now.Before(m.LaunchTime.Add(g.gracePeriod(w.Timing))) {
		return nil, nil // still in its grace period: ignored, as AWS does
	}
	if !m.active() {
		return nil, nil
	}
	m.HealthStatus = status
	m.HealthReason = ""
	if status == ASGUnhealthy {
		m.HealthReason = "user"
	}
	return nil, nil
}

func asgSetInstanceProtection(c *Call) (any, error) {
	f := c.Form
	g, err := asgGroup(c, formGet(f, "AutoScalingGroupName"))
	if err != nil {
		return nil, err
	}
	ids := formMembers(f, "InstanceIds")
	if len(ids) == 0 {
		return nil, errASGRequired("instanceIds")
	}
	if !formHas(f, "ProtectedFromScaleIn") {
		return nil, errASGRequired("protectedFromScaleIn")
	}
	var ms []*ASGInstance
	for _, id := range ids {
		m := g.member(id)
		if m == nil {
			return nil, errValidation("The instance %s is not part of Auto Scaling group %s.", id, g.Name)
		}
		if !m.active() {
			return nil, errValidation("The instance %s is not in InService or EnteringStandby or Standby.", id)
		}
		ms = append(ms, m)
	}
	for _, m := range ms {
		m.Protected = formBool(f, "ProtectedFromScaleIn")
	}
	return struct{}{}, nil // an empty SetInstanceProtectionResult
}

func asgDescribeActivities(c *Call) (any, error) {
	f, w := c.Form, c.World
	name := formGet(f, "AutoScalingGroupName")
	includeDeleted := formBool(f, "IncludeDeletedGroups")
	if name != "" && !includeDeleted {
		if g := w.ASG.Groups[asgKey(c.Account, c.Region, name)]; g == nil || g.VisibleAt.After(c.Now) {
			return struct {
				Activities struct{} `xml:"Activities"`
			}{}, nil
		}
	}
	ids := map[string]bool{}
	for _, id := range formMembers(f, "ActivityIds") {
		ids[id] = true
	}
	var acts []*ScalingActivity
	for i := len(w.ASG.Activities) - 1; i >= 0; i-- { // newest first
		a := w.ASG.Activities[i]
		if a.Account != c.Account || a.Region != c.Region || (name != "" && a.GroupName != name) || (len(ids) > 0 && !ids[a.ID]) {
			continue
		}
		if name == "" && !includeDeleted && w.ASG.Groups[asgKey(a.Account, a.Region, a.GroupName)] == nil {
			continue
		}
		acts = append(acts, a)
	}
	start, end, next, err := asgPage(f, len(acts), 100, 100)
	if err != nil {
		return nil, err
	}
	out := struct {
		Activities []asgActivityXML `xml:"Activities>member"`
		NextToken  string           `xml:"NextToken,omitempty"`
	}{NextToken: next}
	for _, a := range acts[start:end] {
		out.Activities = append(out.Activities, a.out())
	}
	if out.Activities == nil {
		return struct {
			Activities struct{} `xml:"Activities"`
		}{}, nil
	}
	return out, nil
}

// ---- tags ----

// asgTagTargets resolves the groups a CreateOrUpdateTags / DeleteTags
// request names, all or nothing.
func asgTagTargets(c *Call) ([]asgTagXML, []*AutoScalingGroup, *APIError) {
	tags, err := asgFormTags(c.Form)
	if err != nil {
		return nil, nil, err
	}
	if len(tags) == 0 {
		return nil, nil, errASGRequired("tags")
	}
	var groups []*AutoScalingGroup
	for _, t := range tags {
		if t.ResourceType != "" && t.ResourceType != "auto-scaling-group" {
			return nil, nil, errValidation("Invalid resource type '%s'. Valid value is: auto-scaling-group", t.ResourceType)
		}
		if t.ResourceID == "" {
			return nil, nil, errASGRequired("tags.member.resourceId")
		}
		g, err := asgGroup(c, t.ResourceID)
		if err != nil {
			return nil, nil, err
		}
		groups = append(groups, g)
	}
	return tags, groups, nil
}

func asgCreateOrUpdateTags(c *Call) (any, error) {
	tags, groups, err := asgTagTargets(c)
	if err != nil {
		return nil, err
	}
	// Check limits before changing anything.
	count := map[*AutoScalingGroup]map[string]bool{}
	for i, t := range tags {
		g := groups[i]
		if count[g] == nil {
			count[g] = map[string]bool{}
			for _, x := range g.Tags {
				count[g][x.Key] = true
			}
		}
		count[g][t.Key] = true
		if len(count[g]) > asgMaxTagsPerGroup {
			return nil, Errorf("LimitExceeded", "The number of tags for the Auto Scaling group %s exceeds the limit of %d.", g.Name, asgMaxTagsPerGroup)
		}
	}
	for i, t := range tags {
		groups[i].setTag(ASGTag{Key: t.Key, Value: t.Value, PropagateAtLaunch: t.PropagateAtLaunch})
	}
	return nil, nil
}

func asgDeleteTags(c *Call) (any, error) {
	tags, groups, err := asgTagTargets(c)
	if err != nil {
		return nil, err
	}
	for i, t := range tags {
		g := groups[i]
		kept := g.Tags[:0]
		for _, x := range g.Tags {
			if x.Key != t.Key {
				kept = append(kept, x)
			}
		}
		g.Tags = kept
	}
	return nil, nil
}

func asgDescribeTags(c *Call) (any, error) {
	f, w := c.Form, c.World
	filters := asgFilters(f)
	for k := range filters {
		switch k {
		case "auto-scaling-group", "key", "value", "propagate-at-launch":
		default:
			return nil, errValidation("The filter '%s' is not valid. Valid filters are: auto-scaling-group, key, value, propagate-at-launch.", k)
		}
	}
	in := func(name, v string) bool {
		vals, ok := filters[name]
		if !ok {
			return true
		}
		for _, x := range vals {
			if x == v {
				return true
			}
		}
		return false
	}
	var rows []asgTagXML
	for _, g := range w.sortedGroups() {
		if g.Account != c.Account || g.Region != c.Region || g.VisibleAt.After(c.Now) {
			continue
		}
		for _, t := range g.tagsOut() {
			if in("auto-scaling-group", g.Name) && in("key", t.Key) && in("value", t.Value) &&
				in("propagate-at-launch", fmt.Sprint(t.PropagateAtLaunch)) {
				rows = append(rows, t)
			}
		}
	}
	start, end, next, err := asgPage(f, len(rows), 50, 100)
	if err != nil {
		return nil, err
	}
	out := struct {
		Tags      []asgTagXML `xml:"Tags>member"`
		NextToken string      `xml:"NextToken,omitempty"`
	}{Tags: rows[start:end], NextToken: next}
	if len(out.Tags) == 0 {
		return struct {
			Tags struct{} `xml:"Tags"`
		}{}, nil
	}
	return out, nil
}

// ---- processes ----

func asgFormProcesses(f map[string][]string) ([]string, *APIError) {
	procs := formMembers(f, "ScalingProcesses")
	if len(procs) == 0 {
		return asgProcesses, nil
	}
	for _, p := range procs {
		ok := false
		for _, v := range asgProcesses {
			ok = ok || v == p
		}
		if !ok {
			return nil, errValidation("Process '%s' is not a valid scaling process. Valid processes are: %s", p, strings.Join(asgProcesses, ", "))
		}
	}
	return procs, nil
}

func asgSuspendProcesses(c *Call) (any, error) {
	g, err := asgGroup(c, formGet(c.Form, "AutoScalingGroupName"))
	if err != nil {
		return nil, err
	}
	procs, err := asgFormProcesses(c.Form)
	if err != nil {
		return nil, err
	}
	for _, p := range procs {
		if !g.suspended(p) {
			g.Suspended = append(g.Suspended, ASGSuspension{Process: p, Reason: "User suspended at " + asgStamp(c.Now)})
		}
	}
	sort.Slice(g.Suspended, func(i, j int) bool { return g.Suspended[i].Process < g.Suspended[j].Process })
	return nil, nil
}

func asgResumeProcesses(c *Call) (any, error) {
	g, err := asgGroup(c, formGet(c.Form, "AutoScalingGroupName"))
	if err != nil {
		return nil, err
	}
	procs, err := asgFormProcesses(c.Form)
	if err != nil {
		return nil, err
	}
	resume := map[string]bool{}
	for _, p := range procs {
		resume[p] = true
	}
	kept := g.Suspended[:0]
	for _, s := range g.Suspended {
		if !resume[s.Process] {
			kept = append(kept, s)
		}
	}
	g.Suspended = kept
	return nil, nil
}

func asgDescribeProcessTypes(c *Call) (any, error) {
	type proc struct {
		ProcessName string `xml:"ProcessName"`
	}
	out := struct {
		Processes []proc `xml:"Processes>member"`
	}{}
	for _, p := range asgProcesses {
		out.Processes = append(out.Processes, proc{p})
	}
	return out, nil
}
