package sandbox

import (
	"encoding/base64"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Auto Scaling: groups kept at their desired capacity by a reconciler that
// launches through the shared EC2 model, instance refreshes with
// checkpoints and rollback, and the CloudWatch alarm state refreshes watch.
// Files: autoscaling.go (model, wiring, shared helpers),
// autoscaling_groups.go (group, tag, instance and activity actions),
// autoscaling_reconcile.go (the reconciler), autoscaling_refresh.go
// (instance refresh), autoscaling_alarms.go (alarm state + admin API).

// ASGState is Auto Scaling state for every account and region. Groups are
// keyed by asgKey(account, region, name); refreshes by id.
type ASGState struct {
	Groups     map[string]*AutoScalingGroup `json:"groups"`
	Refreshes  map[string]*InstanceRefresh  `json:"refreshes"`
	Activities []*ScalingActivity           `json:"activities"`
	// Alarms is CloudWatch alarm state, keyed by asgKey(account, region,
	// name). It lives here until the CloudWatch service exists; read and
	// write it through World.AlarmState / Server.SetAlarmState.
	Alarms map[string]*Alarm `json:"alarms"`
	// LastTick is the virtual time the reconciler last ran at.
	LastTick time.Time `json:"last_tick"`
}

func newASGState() *ASGState {
	return &ASGState{
		Groups:    map[string]*AutoScalingGroup{},
		Refreshes: map[string]*InstanceRefresh{},
		Alarms:    map[string]*Alarm{},
	}
}

// ensure fills maps a state file written by an older build may lack.
func (a *ASGState) ensure() {
	if a.Groups == nil {
		a.Groups = map[string]*AutoScalingGroup{}
	}
	if a.Refreshes == nil {
		a.Refreshes = map[string]*InstanceRefresh{}
	}
	if a.Alarms == nil {
		a.Alarms = map[string]*Alarm{}
	}
}

func asgKey(account, region, name string) string { return account + "/" + region + "/" + name }

// Instance lifecycle states and health, as Auto Scaling names them.
const (
	ASGPending     = "Pending"
	ASGInService   = "InService"
	ASGTerminating = "Terminating"
	ASGHealthy     = "Healthy"
	ASGUnhealthy   = "Unhealthy"
)

// Scaling processes (SuspendProcesses / ResumeProcesses).
var asgProcesses = []string{"Launch", "Terminate", "AddToLoadBalancer", "AlarmNotification", "AZRebalance",
	"HealthCheck", "InstanceRefresh", "ReplaceUnhealthy", "ScheduledActions"}

// Limits, as AWS documents them for a new account.
const (
	asgMaxGroupsPerRegion = 500
	asgMaxTagsPerGroup    = 50
	asgMaxActivities      = 20000
	// asgMaxGroupSize bounds MaxSize: the sandbox models fleets, not
	// quotas, and a group of a million would only exhaust memory.
	asgMaxGroupSize = 1000
)

// AutoScalingGroup is one group. Instances are its members in launch order.
type AutoScalingGroup struct {
	Name        string    `json:"name"`
	ARN         string    `json:"arn"`
	Account     string    `json:"account"`
	Region      string    `json:"region"`
	CreatedTime time.Time `json:"created_time"`

	Config ASGConfig `json:"config"`

	MinSize         int `json:"min_size"`
	MaxSize         int `json:"max_size"`
	DesiredCapacity int `json:"desired_capacity"`
	DefaultCooldown int `json:"default_cooldown"`

	// AvailabilityZones as given, or derived from SubnetIDs.
	AvailabilityZones []string `json:"availability_zones,omitempty"`
	// SubnetIDs is VPCZoneIdentifier split; empty means the default
	// subnet of each of AvailabilityZones.
	SubnetIDs []string `json:"subnet_ids,omitempty"`

	HealthCheckType                  string                `json:"health_check_type"`
	HealthCheckGracePeriod           *int                  `json:"health_check_grace_period,omitempty"`
	DefaultInstanceWarmup            *int                  `json:"default_instance_warmup,omitempty"`
	TerminationPolicies              []string              `json:"termination_policies,omitempty"`
	NewInstancesProtectedFromScaleIn bool                  `json:"new_instances_protected_from_scale_in,omitempty"`
	MaxInstanceLifetime              int                   `json:"max_instance_lifetime,omitempty"`
	CapacityRebalance                bool                  `json:"capacity_rebalance,omitempty"`
	InstanceMaintenancePolicy        *ASGMaintenancePolicy `json:"instance_maintenance_policy,omitempty"`
	Tags                             []ASGTag              `json:"tags,omitempty"`
	Suspended                        []ASGSuspension       `json:"suspended,omitempty"`

	Instances []*ASGInstance `json:"instances"`

	// Deleting is set by a forced delete: instances are terminating and
	// the group disappears once they are gone.
	Deleting bool `json:"deleting,omitempty"`
	// Cause is the latest user request that changed capacity, quoted in
	// the Cause of the scaling activities it leads to.
	Cause string `json:"cause,omitempty"`
	// LaunchError is the last failed launch, cleared by a success; it
	// keeps a failing group from logging the same failure every tick.
	LaunchError string    `json:"launch_error,omitempty"`
	VisibleAt   time.Time `json:"visible_at,omitempty"`
}

// ASGConfig is what a group (or a refresh's desired configuration) launches
// from: a launch template, or a mixed instances policy around one.
type ASGConfig struct {
	LaunchTemplate       *ASGTemplateSpec         `json:"launch_template,omitempty"`
	MixedInstancesPolicy *ASGMixedInstancesPolicy `json:"mixed_instances_policy,omitempty"`
}

// ASGTemplateSpec names a launch template version as Auto Scaling stores
// it: both id and name, and the version as given ("3", "$Latest",
// "$Default").
type ASGTemplateSpec struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Version string `json:"version"`
}

// ASGMixedInstancesPolicy keeps what the sandbox uses of a mixed instances
// policy (the template and its instance-type/image overrides) and echoes
// the distribution settings back.
type ASGMixedInstancesPolicy struct {
	LaunchTemplate ASGTemplateSpec `json:"launch_template"`
	Overrides      []ASGOverride   `json:"overrides,omitempty"`

	OnDemandAllocationStrategy          string `json:"on_demand_allocation_strategy,omitempty"`
	OnDemandBaseCapacity                *int   `json:"on_demand_base_capacity,omitempty"`
	OnDemandPercentageAboveBaseCapacity *int   `json:"on_demand_percentage_above_base_capacity,omitempty"`
	SpotAllocationStrategy              string `json:"spot_allocation_strategy,omitempty"`
	SpotInstancePools                   *int   `json:"spot_instance_pools,omitempty"`
	SpotMaxPrice                        string `json:"spot_max_price,omitempty"`
}

// ASGOverride is one LaunchTemplateOverrides entry.
type ASGOverride struct {
	InstanceType     string `json:"instance_type,omitempty"`
	ImageID          string `json:"image_id,omitempty"`
	WeightedCapacity string `json:"weighted_capacity,omitempty"`
}

// template is the launch template the configuration launches from.
func (c ASGConfig) template() ASGTemplateSpec {
	if c.MixedInstancesPolicy != nil {
		return c.MixedInstancesPolicy.LaunchTemplate
	}
	if c.LaunchTemplate != nil {
		return *c.LaunchTemplate
	}
	return ASGTemplateSpec{}
}

// withVersion returns a copy launching from the given template version.
func (c ASGConfig) withVersion(v string) ASGConfig {
	out := ASGConfig{}
	if c.MixedInstancesPolicy != nil {
		m := *c.MixedInstancesPolicy
		m.Overrides = append([]ASGOverride(nil), m.Overrides...)
		m.LaunchTemplate.Version = v
		out.MixedInstancesPolicy = &m
		return out
	}
	if c.LaunchTemplate != nil {
		t := *c.LaunchTemplate
		t.Version = v
		out.LaunchTemplate = &t
	}
	return out
}

func (c ASGConfig) clone() ASGConfig { return c.withVersion(c.template().Version) }

// pinned reports whether the configuration names a numbered version (a
// rollback can only return to one).
func (c ASGConfig) pinned() bool {
	v := c.template().Version
	return v != "" && v != "$Latest" && v != "$Default"
}

// ASGMaintenancePolicy is an instance maintenance policy (-1 = unset).
type ASGMaintenancePolicy struct {
	MinHealthyPercentage int `json:"min_healthy_percentage"`
	MaxHealthyPercentage int `json:"max_healthy_percentage"`
}

// ASGTag is a group tag.
type ASGTag struct {
	Key               string `json:"key"`
	Value             string `json:"value"`
	PropagateAtLaunch bool   `json:"propagate_at_launch"`
}

// ASGSuspension is one suspended process.
type ASGSuspension struct {
	Process string `json:"process"`
	Reason  string `json:"reason"`
}

// ASGInstance is a group member.
type ASGInstance struct {
	ID           string `json:"id"`
	AZ           string `json:"az"`
	SubnetID     string `json:"subnet_id"`
	InstanceType string `json:"instance_type"`
	ImageID      string `json:"image_id"`
	// LaunchTemplate is the template it was launched from, with the
	// resolved version number.
	LaunchTemplate ASGTemplateSpec `json:"launch_template"`
	LifecycleState string          `json:"lifecycle_state"`
	HealthStatus   string          `json:"health_status"`
	// HealthReason explains an Unhealthy status (activity causes).
	HealthReason string    `json:"health_reason,omitempty"`
	Protected    bool      `json:"protected,omitempty"`
	LaunchTime   time.Time `json:"launch_time"`
	InServiceAt  time.Time `json:"in_service_at,omitempty"`
	// RefreshID is the refresh (or its rollback) that launched it.
	RefreshID         string `json:"refresh_id,omitempty"`
	LaunchActivity    string `json:"launch_activity,omitempty"`
	TerminateActivity string `json:"terminate_activity,omitempty"`
}

func (m *ASGInstance) active() bool { return m.LifecycleState != ASGTerminating }

// ScalingActivity is one entry of DescribeScalingActivities.
type ScalingActivity struct {
	ID            string    `json:"id"`
	Account       string    `json:"account"`
	Region        string    `json:"region"`
	GroupName     string    `json:"group_name"`
	GroupARN      string    `json:"group_arn"`
	Description   string    `json:"description"`
	Cause         string    `json:"cause"`
	Details       string    `json:"details,omitempty"`
	StartTime     time.Time `json:"start_time"`
	EndTime       time.Time `json:"end_time,omitempty"`
	StatusCode    string    `json:"status_code"`
	StatusMessage string    `json:"status_message,omitempty"`
	Progress      int       `json:"progress"`
}

// registerAutoScaling wires the Auto Scaling awsquery actions, the
// reconciler and the alarm admin API.
func (s *Server) registerAutoScaling() {
	s.addTicker(func(w *World, now time.Time) { w.tickAutoScaling(now) })
	handle := func(action string, h Handler) { s.handle(svcAutoScaling, action, asgSettle(h)) }

	handle("CreateAutoScalingGroup", asgCreateGroup)
	handle("UpdateAutoScalingGroup", asgUpdateGroup)
	handle("DescribeAutoScalingGroups", asgDescribeGroups)
	handle("DeleteAutoScalingGroup", asgDeleteGroup)
	handle("SetDesiredCapacity", asgSetDesiredCapacity)
	handle("DescribeAutoScalingInstances", asgDescribeInstances)
	handle("TerminateInstanceInAutoScalingGroup", asgTerminateInstance)
	handle("SetInstanceHealth", asgSetInstanceHealth)
	handle("SetInstanceProtection", asgSetInstanceProtection)
	handle("DescribeScalingActivities", asgDescribeActivities)
	handle("CreateOrUpdateTags", asgCreateOrUpdateTags)
	handle("DeleteTags", asgDeleteTags)
	handle("DescribeTags", asgDescribeTags)
	handle("SuspendProcesses", asgSuspendProcesses)
	handle("ResumeProcesses", asgResumeProcesses)
	handle("DescribeScalingProcessTypes", asgDescribeProcessTypes)

	handle("StartInstanceRefresh", asgStartInstanceRefresh)
	handle("DescribeInstanceRefreshes", asgDescribeInstanceRefreshes)
	handle("CancelInstanceRefresh", asgCancelInstanceRefresh)
	handle("RollbackInstanceRefresh", asgRollbackInstanceRefresh)

	s.registerAlarmAdmin()
}

// asgSettle runs the reconciler after a successful mutating action, so a
// group starts launching (or a refresh starts replacing) at the time of
// the request, as AWS does, rather than at the next request.
func asgSettle(h Handler) Handler {
	return func(c *Call) (any, error) {
		out, err := h(c)
		if err == nil && mutating(c.Action) {
			c.World.tickAutoScaling(c.Now)
		}
		return out, err
	}
}

// ---- lookups and errors ----

func errASGNotFound(name string) *APIError {
	return errValidation("AutoScalingGroup name not found - AutoScalingGroup '%s' not found", name)
}

func errASGRequired(field string) *APIError {
	return errValidation("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", field)
}

// asgGroup finds a visible group of the caller's account and region.
func asgGroup(c *Call, name string) (*AutoScalingGroup, *APIError) {
	if name == "" {
		return nil, errASGRequired("autoScalingGroupName")
	}
	g := c.World.ASG.Groups[asgKey(c.Account, c.Region, name)]
	if g == nil || g.VisibleAt.After(c.Now) {
		return nil, errASGNotFound(name)
	}
	return g, nil
}

// AutoScalingGroup returns a group (nil if none): for tests and other
// sandbox code working on the world.
func (w *World) AutoScalingGroup(account, region, name string) *AutoScalingGroup {
	w.ASG.ensure()
	return w.ASG.Groups[asgKey(account, region, name)]
}

// sortedGroups returns the groups in a stable order (account, region, name).
func (w *World) sortedGroups() []*AutoScalingGroup {
	keys := sortedKeys(w.ASG.Groups)
	out := make([]*AutoScalingGroup, 0, len(keys))
	for _, k := range keys {
		out = append(out, w.ASG.Groups[k])
	}
	return out
}

func (g *AutoScalingGroup) member(id string) *ASGInstance {
	for _, m := range g.Instances {
		if m.ID == id {
			return m
		}
	}
	return nil
}

func (g *AutoScalingGroup) activeMembers() []*ASGInstance {
	var out []*ASGInstance
	for _, m := range g.Instances {
		if m.active() {
			out = append(out, m)
		}
	}
	return out
}

func (g *AutoScalingGroup) suspended(process string) bool {
	for _, s := range g.Suspended {
		if s.Process == process {
			return true
		}
	}
	return false
}

// gracePeriod is the health check grace period: the group's, or
// Timing.HealthGrace when the group sets none.
func (g *AutoScalingGroup) gracePeriod(t Timing) time.Duration {
	if g.HealthCheckGracePeriod != nil {
		return time.Duration(*g.HealthCheckGracePeriod) * time.Second
	}
	return t.HealthGrace
}

// ---- launch templates ----

// asgResolveTemplate finds the launch template (by id, else by name) and
// version a spec names, with the errors CreateAutoScalingGroup returns.
func (w *World) asgResolveTemplate(account, region string, spec ASGTemplateSpec) (*LaunchTemplate, *LaunchTemplateVersion, *APIError) {
	var lt *LaunchTemplate
	switch {
	case spec.ID != "":
		lt = w.EC2.LaunchTemplates[spec.ID]
		if lt == nil || lt.Account != account || lt.Region != region {
			return nil, nil, errValidation("You must use a valid fully-formed launch template. The specified launch template, with template ID %s, does not exist.", spec.ID)
		}
	case spec.Name != "":
		for _, id := range sortedKeys(w.EC2.LaunchTemplates) {
			t := w.EC2.LaunchTemplates[id]
			if t.Account == account && t.Region == region && t.Name == spec.Name {
				lt = t
				break
			}
		}
		if lt == nil {
			return nil, nil, errValidation("You must use a valid fully-formed launch template. The specified launch template, with template name %s, does not exist.", spec.Name)
		}
	default:
		return nil, nil, errValidation("Valid requests must contain either launchTemplateId or LaunchTemplateName")
	}
	n, err := asgVersionNumber(lt, spec.Version)
	if err != nil {
		return nil, nil, err
	}
	for _, v := range lt.Versions {
		if v != nil && v.Number == n {
			return lt, v, nil
		}
	}
	return nil, nil, errValidation("You must use a valid fully-formed launch template. The specified launch template version, version %s, does not exist for launch template %s.", spec.Version, lt.ID)
}

func asgVersionNumber(lt *LaunchTemplate, version string) (int, *APIError) {
	switch version {
	case "", "$Default":
		if lt.DefaultVersion > 0 {
			return lt.DefaultVersion, nil
		}
		return 1, nil
	case "$Latest":
		// The highest existing version (LatestVersion is a counter that
		// deleted versions leave behind).
		n := 0
		for _, v := range lt.Versions {
			if v != nil && v.Number > n {
				n = v.Number
			}
		}
		return n, nil
	}
	n, err := strconv.Atoi(version)
	if err != nil || n < 1 {
		return 0, errValidation("You must use a valid fully-formed launch template. The launch template version '%s' is not valid. Specify a version number, $Latest or $Default.", version)
	}
	return n, nil
}

// asgNormalizeConfig checks a configuration's template exists and fills
// both its id and name, as AWS echoes them.
func (w *World) asgNormalizeConfig(account, region string, cfg ASGConfig) (ASGConfig, *APIError) {
	spec := cfg.template()
	if spec.ID != "" && spec.Name != "" {
		return cfg, errValidation("Valid requests must contain either launchTemplateId or LaunchTemplateName")
	}
	lt, _, err := w.asgResolveTemplate(account, region, spec)
	if err != nil {
		return cfg, err
	}
	spec.ID, spec.Name = lt.ID, lt.Name
	if spec.Version == "" {
		spec.Version = "$Default"
	}
	out := cfg.withVersion(spec.Version)
	if out.MixedInstancesPolicy != nil {
		out.MixedInstancesPolicy.LaunchTemplate = spec
	} else {
		out.LaunchTemplate = &spec
	}
	return out, nil
}

// asgResolvedSpec is the configuration's template with the version
// resolved to a number (how instances record what they launched from).
func (w *World) asgResolvedSpec(account, region string, cfg ASGConfig) (ASGTemplateSpec, bool) {
	lt, v, err := w.asgResolveTemplate(account, region, cfg.template())
	if err != nil {
		return ASGTemplateSpec{}, false
	}
	return ASGTemplateSpec{ID: lt.ID, Name: lt.Name, Version: strconv.Itoa(v.Number)}, true
}

// matches reports whether a member was launched from spec (resolved).
func (m *ASGInstance) matches(spec ASGTemplateSpec) bool {
	return m.LaunchTemplate.ID == spec.ID && m.LaunchTemplate.Version == spec.Version
}

// ---- activities ----

func (w *World) asgActivity(g *AutoScalingGroup, now time.Time, description, cause, details, status string) *ScalingActivity {
	a := &ScalingActivity{
		ID: w.NewUUID(), Account: g.Account, Region: g.Region, GroupName: g.Name, GroupARN: g.ARN,
		Description: description, Cause: cause, Details: details, StartTime: now, StatusCode: status,
	}
	if status == "Successful" || status == "Failed" || status == "Cancelled" {
		a.EndTime, a.Progress = now, 100
	}
	w.ASG.Activities = append(w.ASG.Activities, a)
	if n := len(w.ASG.Activities); n > asgMaxActivities {
		w.ASG.Activities = append([]*ScalingActivity(nil), w.ASG.Activities[n-asgMaxActivities:]...)
	}
	return a
}

func (w *World) asgFinishActivity(id string, now time.Time, status, message string) {
	if id == "" {
		return
	}
	for i := len(w.ASG.Activities) - 1; i >= 0; i-- {
		a := w.ASG.Activities[i]
		if a.ID == id {
			if a.EndTime.IsZero() {
				a.StatusCode, a.EndTime, a.Progress = status, now, 100
				if message != "" {
					a.StatusMessage = message
				}
			}
			return
		}
	}
}

func asgStamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// asgTime is the wire format of awsquery timestamps.
func asgTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func asgTimePtr(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := asgTime(t)
	return &s
}

// ---- form parsing ----

func asgFormTemplate(f map[string][]string, prefix string) *ASGTemplateSpec {
	id, name, ver := formGet(f, prefix+".LaunchTemplateId"), formGet(f, prefix+".LaunchTemplateName"), formGet(f, prefix+".Version")
	if id == "" && name == "" && ver == "" && !formHas(f, prefix+".LaunchTemplateId") && !formHas(f, prefix+".LaunchTemplateName") {
		return nil
	}
	return &ASGTemplateSpec{ID: id, Name: name, Version: ver}
}

// asgFormConfig reads LaunchTemplate / MixedInstancesPolicy under prefix
// ("" for the group's own, "DesiredConfiguration." for a refresh).
func asgFormConfig(f map[string][]string, prefix string) (*ASGConfig, *APIError) {
	lt := asgFormTemplate(f, prefix+"LaunchTemplate")
	mp := prefix + "MixedInstancesPolicy"
	var mip *ASGMixedInstancesPolicy
	if spec := asgFormTemplate(f, mp+".LaunchTemplate.LaunchTemplateSpecification"); spec != nil {
		mip = &ASGMixedInstancesPolicy{LaunchTemplate: *spec}
		for _, p := range formStructs(f, mp+".LaunchTemplate.Overrides.member") {
			mip.Overrides = append(mip.Overrides, ASGOverride{
				InstanceType: formGet(f, p+".InstanceType"), ImageID: formGet(f, p+".ImageId"),
				WeightedCapacity: formGet(f, p+".WeightedCapacity"),
			})
		}
		d := mp + ".InstancesDistribution."
		mip.OnDemandAllocationStrategy = formGet(f, d+"OnDemandAllocationStrategy")
		mip.SpotAllocationStrategy = formGet(f, d+"SpotAllocationStrategy")
		mip.SpotMaxPrice = formGet(f, d+"SpotMaxPrice")
		var err *APIError
		if mip.OnDemandBaseCapacity, err = asgFormIntPtr(f, d+"OnDemandBaseCapacity"); err != nil {
			return nil, err
		}
		if mip.OnDemandPercentageAboveBaseCapacity, err = asgFormIntPtr(f, d+"OnDemandPercentageAboveBaseCapacity"); err != nil {
			return nil, err
		}
		if mip.SpotInstancePools, err = asgFormIntPtr(f, d+"SpotInstancePools"); err != nil {
			return nil, err
		}
	} else if asgFormHasPrefix(f, mp+".") {
		return nil, errValidation("The specified mixed instances policy must include a launch template specification (LaunchTemplate.LaunchTemplateSpecification).")
	}
	switch {
	case lt != nil && mip != nil:
		return nil, errValidation("Valid requests must contain either LaunchTemplate, LaunchConfigurationName, InstanceId or MixedInstancesPolicy parameter.")
	case lt != nil:
		return &ASGConfig{LaunchTemplate: lt}, nil
	case mip != nil:
		return &ASGConfig{MixedInstancesPolicy: mip}, nil
	}
	return nil, nil
}

func asgFormHasPrefix(f map[string][]string, prefix string) bool {
	for k := range f {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}

// asgFormIntPtr reads an optional integer as a ValidationError when
// malformed (awsquery services answer ValidationError, not
// InvalidParameterValue).
func asgFormIntPtr(f map[string][]string, name string) (*int, *APIError) {
	if !formHas(f, name) {
		return nil, nil
	}
	v := formGet(f, name)
	n, err := strconv.Atoi(v)
	if err != nil {
		return nil, errValidation("Value '%s' at '%s' failed to satisfy constraint: Member must be an integer", v, name)
	}
	return &n, nil
}

func asgFormBoolPtr(f map[string][]string, name string) *bool {
	if !formHas(f, name) {
		return nil
	}
	b := strings.EqualFold(formGet(f, name), "true")
	return &b
}

// asgFilters reads Filters.member.N.Name / Values.member.M.
func asgFilters(f map[string][]string) map[string][]string {
	out := map[string][]string{}
	for _, p := range formStructs(f, "Filters.member") {
		name := formGet(f, p+".Name")
		out[name] = append(out[name], formMembers(f, p+".Values")...)
	}
	return out
}

// ---- pagination ----

// asgPage slices n items by MaxRecords/NextToken: it returns the window and
// the next token ("" at the end).
func asgPage(f map[string][]string, n, def, max int) (start, end int, next string, err *APIError) {
	limit := def
	if p, e := asgFormIntPtr(f, "MaxRecords"); e != nil {
		return 0, 0, "", e
	} else if p != nil {
		limit = *p
	}
	if limit < 1 || limit > max {
		return 0, 0, "", errValidation("1 validation error detected: Value '%d' at 'maxRecords' failed to satisfy constraint: Member must have value less than or equal to %d", limit, max)
	}
	if tok := formGet(f, "NextToken"); tok != "" {
		raw, derr := base64.RawURLEncoding.DecodeString(tok)
		var off int
		if derr == nil {
			_, derr = fmt.Sscanf(string(raw), "asg-offset:%d", &off)
		}
		if derr != nil || off < 0 || off > n {
			return 0, 0, "", Errorf("InvalidNextToken", "The token '%s' is invalid.", tok)
		}
		start = off
	}
	end = start + limit
	if end >= n {
		return start, n, "", nil
	}
	return start, end, base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "asg-offset:%d", end)), nil
}

func asgSortedStrings(in []string) []string {
	out := append([]string(nil), in...)
	sort.Strings(out)
	return out
}
