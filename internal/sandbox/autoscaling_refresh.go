package sandbox

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Instance refresh statuses, as AWS names them.
const (
	RefreshPending            = "Pending"
	RefreshInProgress         = "InProgress"
	RefreshSuccessful         = "Successful"
	RefreshFailed             = "Failed"
	RefreshCancelling         = "Cancelling"
	RefreshCancelled          = "Cancelled"
	RefreshRollbackInProgress = "RollbackInProgress"
	RefreshRollbackFailed     = "RollbackFailed"
	RefreshRollbackSuccessful = "RollbackSuccessful"
	RefreshBaking             = "Baking"
)

// refreshProtectedWaitLimit is how long a refresh waits for instances that
// are protected from scale in (ScaleInProtectedInstances=Wait) before it
// fails, as AWS documents.
const refreshProtectedWaitLimit = time.Hour

// InstanceRefresh is one StartInstanceRefresh and its progress.
type InstanceRefresh struct {
	ID        string    `json:"id"`
	Seq       int       `json:"seq"`
	Account   string    `json:"account"`
	Region    string    `json:"region"`
	GroupName string    `json:"group_name"`
	Strategy  string    `json:"strategy"`
	Status    string    `json:"status"`
	Reason    string    `json:"status_reason,omitempty"`
	StartTime time.Time `json:"start_time"`
	EndTime   time.Time `json:"end_time,omitempty"`

	Preferences RefreshPreferences `json:"preferences"`
	// Desired is the DesiredConfiguration as given (nil without one); the
	// group takes it when the refresh succeeds.
	Desired *ASGConfig `json:"desired,omitempty"`
	// Target is what replacements launch from, pinned to the version
	// number resolved at start; TargetSpec is that template version.
	Target     ASGConfig       `json:"target"`
	TargetSpec ASGTemplateSpec `json:"target_spec"`
	// Previous is the group's configuration at start (what a rollback
	// restores); PreviousSpec its resolved template version.
	Previous     ASGConfig       `json:"previous"`
	PreviousSpec ASGTemplateSpec `json:"previous_spec"`
	// Replace lists the members at start that must be replaced whatever
	// they run (SkipMatching off).
	Replace []string `json:"replace,omitempty"`

	PercentageComplete int `json:"percentage_complete"`
	InstancesToUpdate  int `json:"instances_to_update"`

	// Extra is how many instances above desired capacity the current batch
	// launches before terminating (MaxHealthyPercentage > 100).
	Extra           int       `json:"extra,omitempty"`
	CheckpointIndex int       `json:"checkpoint_index,omitempty"`
	PausedUntil     time.Time `json:"paused_until,omitempty"`
	BakeUntil       time.Time `json:"bake_until,omitempty"`
	WaitingSince    time.Time `json:"waiting_since,omitempty"`

	Rollback *RefreshRollback `json:"rollback,omitempty"`
}

// RefreshPreferences are the preferences with AWS's defaults filled in.
type RefreshPreferences struct {
	MinHealthyPercentage      int      `json:"min_healthy_percentage"`
	MaxHealthyPercentage      *int     `json:"max_healthy_percentage,omitempty"`
	InstanceWarmup            int      `json:"instance_warmup"` // seconds
	CheckpointPercentages     []int    `json:"checkpoint_percentages,omitempty"`
	CheckpointDelay           *int     `json:"checkpoint_delay,omitempty"` // seconds
	SkipMatching              bool     `json:"skip_matching"`
	AutoRollback              bool     `json:"auto_rollback"`
	ScaleInProtectedInstances string   `json:"scale_in_protected_instances"`
	StandbyInstances          string   `json:"standby_instances"`
	Alarms                    []string `json:"alarms,omitempty"`
	BakeTime                  *int     `json:"bake_time,omitempty"` // seconds
}

// RefreshRollback is RollbackDetails.
type RefreshRollback struct {
	Reason             string    `json:"reason"`
	StartTime          time.Time `json:"start_time"`
	Total              int       `json:"total"`
	InstancesToUpdate  int       `json:"instances_to_update"`
	PercentageComplete int       `json:"percentage_complete"`
}

func (r *InstanceRefresh) activeStatus() bool {
	switch r.Status {
	case RefreshPending, RefreshInProgress, RefreshBaking, RefreshCancelling, RefreshRollbackInProgress:
		return true
	}
	return false
}

// rollbackable: AWS rolls back only to a numbered version, and only a
// refresh that carries a desired configuration.
func (r *InstanceRefresh) rollbackable() bool {
	return r.Desired != nil && r.Previous.pinned() && r.PreviousSpec.ID != ""
}

func (w *World) asgRefreshesOf(g *AutoScalingGroup) []*InstanceRefresh {
	var out []*InstanceRefresh
	for _, r := range w.ASG.Refreshes {
		if r.Account == g.Account && r.Region == g.Region && r.GroupName == g.Name {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq > out[j].Seq }) // newest first
	return out
}

func (w *World) asgActiveRefresh(g *AutoScalingGroup) *InstanceRefresh {
	for _, r := range w.asgRefreshesOf(g) {
		if r.activeStatus() {
			return r
		}
	}
	return nil
}

// ---- actions ----

func asgStartInstanceRefresh(c *Call) (any, error) {
	f, w := c.Form, c.World
	g, err := asgGroup(c, formGet(f, "AutoScalingGroupName"))
	if err != nil {
		return nil, err
	}
	if g.Deleting {
		return nil, Errorf("ScalingActivityInProgress", "The AutoScalingGroup %s is being deleted.", g.Name)
	}
	if w.asgActiveRefresh(g) != nil {
		return nil, Errorf("InstanceRefreshInProgress", "An Instance Refresh is already in progress and blocks the execution of this Instance Refresh.")
	}
	strategy := formGet(f, "Strategy")
	switch strategy {
	case "", "Rolling":
		strategy = "Rolling"
	case "ReplaceRootVolume":
		return nil, errValidation("The ReplaceRootVolume strategy requires a mixed instances policy whose overrides all specify ImageId; the sandbox supports the Rolling strategy only.")
	default:
		return nil, errValidation("1 validation error detected: Value '%s' at 'strategy' failed to satisfy constraint: Member must satisfy enum value set: [Rolling, ReplaceRootVolume]", strategy)
	}
	prefs, err := asgFormPreferences(c, g)
	if err != nil {
		return nil, err
	}
	desired, err := asgFormConfig(f, "DesiredConfiguration.")
	if err != nil {
		return nil, err
	}
	if desired != nil {
		n, err := w.asgNormalizeConfig(c.Account, c.Region, *desired)
		if err != nil {
			return nil, err
		}
		desired = &n
	}
	if prefs.AutoRollback {
		if desired == nil {
			return nil, errValidation("AutoRollback requires a DesiredConfiguration: an instance refresh without one cannot be rolled back.")
		}
		if !g.Config.pinned() {
			return nil, errValidation("AutoRollback is not supported because the Auto Scaling group uses the $Latest or $Default version of its launch template.")
		}
	}
	base := g.Config
	if desired != nil {
		base = *desired
	}
	spec, ok := w.asgResolvedSpec(c.Account, c.Region, base)
	if !ok {
		_, _, rerr := w.asgResolveTemplate(c.Account, c.Region, base.template())
		return nil, rerr
	}
	prevSpec, _ := w.asgResolvedSpec(c.Account, c.Region, g.Config)
	w.Counter["asg-refresh"]++
	r := &InstanceRefresh{
		ID: w.NewUUID(), Seq: w.Counter["asg-refresh"], Account: c.Account, Region: c.Region, GroupName: g.Name,
		Strategy: strategy, Status: RefreshPending, StartTime: c.Now, Preferences: prefs,
		Desired: desired, Target: base.withVersion(spec.Version), TargetSpec: spec,
		Previous: g.Config.clone(), PreviousSpec: prevSpec,
	}
	for _, m := range g.activeMembers() {
		if !prefs.SkipMatching && !(m.Protected && prefs.ScaleInProtectedInstances == "Ignore") {
			r.Replace = append(r.Replace, m.ID)
		}
	}
	st := w.asgRefreshStats(g, r, c.Now, true)
	r.PercentageComplete, r.InstancesToUpdate = st.percentage(g), st.toUpdate(g)
	w.ASG.Refreshes[r.ID] = r
	return struct {
		InstanceRefreshID string `xml:"InstanceRefreshId"`
	}{r.ID}, nil
}

// asgFormPreferences reads Preferences.* and fills AWS's defaults.
func asgFormPreferences(c *Call, g *AutoScalingGroup) (RefreshPreferences, *APIError) {
	f := c.Form
	p := RefreshPreferences{MinHealthyPercentage: 90, ScaleInProtectedInstances: "Wait", StandbyInstances: "Wait"}
	if imp := g.InstanceMaintenancePolicy; imp != nil {
		if imp.MinHealthyPercentage >= 0 {
			p.MinHealthyPercentage = imp.MinHealthyPercentage
		}
		if imp.MaxHealthyPercentage >= 0 {
			v := imp.MaxHealthyPercentage
			p.MaxHealthyPercentage = &v
		}
	}
	get := func(name string) (*int, *APIError) { return asgFormIntPtr(f, "Preferences."+name) }
	if v, err := get("MinHealthyPercentage"); err != nil {
		return p, err
	} else if v != nil {
		if *v < 0 || *v > 100 {
			return p, errValidation("1 validation error detected: Value '%d' at 'preferences.minHealthyPercentage' failed to satisfy constraint: Member must have value between 0 and 100", *v)
		}
		p.MinHealthyPercentage = *v
	}
	if v, err := get("MaxHealthyPercentage"); err != nil {
		return p, err
	} else if v != nil {
		if *v < 100 || *v > 200 {
			return p, errValidation("1 validation error detected: Value '%d' at 'preferences.maxHealthyPercentage' failed to satisfy constraint: Member must have value between 100 and 200", *v)
		}
		p.MaxHealthyPercentage = v
	}
	if p.MaxHealthyPercentage != nil && *p.MaxHealthyPercentage-p.MinHealthyPercentage > 100 {
		return p, errValidation("The difference between MaxHealthyPercentage and MinHealthyPercentage cannot be greater than 100.")
	}
	switch v, err := get("InstanceWarmup"); {
	case err != nil:
		return p, err
	case v != nil:
		if *v < 0 {
			return p, errValidation("InstanceWarmup must be greater than or equal to 0")
		}
		p.InstanceWarmup = *v
	case g.DefaultInstanceWarmup != nil:
		p.InstanceWarmup = *g.DefaultInstanceWarmup
	case g.HealthCheckGracePeriod != nil:
		p.InstanceWarmup = *g.HealthCheckGracePeriod
	default:
		p.InstanceWarmup = int(c.World.Timing.RefreshStep / time.Second)
	}
	for _, s := range formMembers(f, "Preferences.CheckpointPercentages") {
		var n int
		if _, err := fmt.Sscanf(s, "%d", &n); err != nil || n < 1 || n > 100 {
			return p, errValidation("Checkpoint percentages must be integers between 1 and 100, got '%s'.", s)
		}
		if k := len(p.CheckpointPercentages); k > 0 && n <= p.CheckpointPercentages[k-1] {
			return p, errValidation("Checkpoint percentages must be unique and in ascending order.")
		}
		p.CheckpointPercentages = append(p.CheckpointPercentages, n)
	}
	if v, err := get("CheckpointDelay"); err != nil {
		return p, err
	} else if v != nil {
		if len(p.CheckpointPercentages) == 0 {
			return p, errValidation("CheckpointDelay can only be specified together with CheckpointPercentages.")
		}
		if *v < 0 || *v > 172800 {
			return p, errValidation("CheckpointDelay must be between 0 and 172800 seconds.")
		}
		p.CheckpointDelay = v
	} else if len(p.CheckpointPercentages) > 0 {
		d := 3600
		p.CheckpointDelay = &d
	}
	if v, err := get("BakeTime"); err != nil {
		return p, err
	} else if v != nil {
		if *v < 0 || *v > 172800 {
			return p, errValidation("BakeTime must be between 0 and 172800 seconds.")
		}
		p.BakeTime = v
	}
	p.SkipMatching = formBool(f, "Preferences.SkipMatching")
	p.AutoRollback = formBool(f, "Preferences.AutoRollback")
	if v := formGet(f, "Preferences.ScaleInProtectedInstances"); v != "" {
		if v != "Refresh" && v != "Ignore" && v != "Wait" {
			return p, errValidation("1 validation error detected: Value '%s' at 'preferences.scaleInProtectedInstances' failed to satisfy constraint: Member must satisfy enum value set: [Refresh, Ignore, Wait]", v)
		}
		p.ScaleInProtectedInstances = v
	}
	if v := formGet(f, "Preferences.StandbyInstances"); v != "" {
		if v != "Terminate" && v != "Ignore" && v != "Wait" {
			return p, errValidation("1 validation error detected: Value '%s' at 'preferences.standbyInstances' failed to satisfy constraint: Member must satisfy enum value set: [Terminate, Ignore, Wait]", v)
		}
		p.StandbyInstances = v
	}
	p.Alarms = formMembers(f, "Preferences.AlarmSpecification.Alarms")
	if len(p.Alarms) > 10 {
		return p, errValidation("You can specify up to 10 alarms.")
	}
	return p, nil
}

func asgCancelInstanceRefresh(c *Call) (any, error) {
	f := c.Form
	g, err := asgGroup(c, formGet(f, "AutoScalingGroupName"))
	if err != nil {
		return nil, err
	}
	r := c.World.asgActiveRefresh(g)
	if r == nil || r.Status == RefreshCancelling {
		return nil, Errorf("ActiveInstanceRefreshNotFound", "No in progress or pending Instance Refresh found for Auto Scaling group %s", g.Name)
	}
	r.Status, r.Reason, r.Extra, r.PausedUntil = RefreshCancelling, "", 0, time.Time{}
	if b := asgFormBoolPtr(f, "WaitForTransitioningInstances"); b != nil && !*b {
		r.Status, r.EndTime = RefreshCancelled, c.Now
	}
	return struct {
		InstanceRefreshID string `xml:"InstanceRefreshId"`
	}{r.ID}, nil
}

func asgRollbackInstanceRefresh(c *Call) (any, error) {
	g, err := asgGroup(c, formGet(c.Form, "AutoScalingGroupName"))
	if err != nil {
		return nil, err
	}
	r := c.World.asgActiveRefresh(g)
	if r == nil || (r.Status != RefreshPending && r.Status != RefreshInProgress && r.Status != RefreshBaking) {
		return nil, Errorf("ActiveInstanceRefreshNotFound", "No in progress or pending Instance Refresh found for Auto Scaling group %s", g.Name)
	}
	if r.Desired == nil {
		return nil, Errorf("IrreversibleInstanceRefresh", "The instance refresh %s cannot be rolled back because it was started without a desired configuration.", r.ID)
	}
	if !r.rollbackable() {
		return nil, Errorf("IrreversibleInstanceRefresh", "The instance refresh %s cannot be rolled back because the Auto Scaling group uses the $Latest or $Default version of its launch template.", r.ID)
	}
	c.World.asgStartRollback(g, r, c.Now, "Rollback started by user request.")
	return struct {
		InstanceRefreshID string `xml:"InstanceRefreshId"`
	}{r.ID}, nil
}

// ---- DescribeInstanceRefreshes ----

type asgPoolProgressXML struct {
	PercentageComplete int `xml:"PercentageComplete"`
	InstancesToUpdate  int `xml:"InstancesToUpdate"`
}

type asgProgressXML struct {
	LivePoolProgress asgPoolProgressXML `xml:"LivePoolProgress"`
}

type asgPreferencesXML struct {
	MinHealthyPercentage      int    `xml:"MinHealthyPercentage"`
	MaxHealthyPercentage      *int   `xml:"MaxHealthyPercentage,omitempty"`
	InstanceWarmup            int    `xml:"InstanceWarmup"`
	CheckpointPercentages     []int  `xml:"CheckpointPercentages>member"`
	CheckpointDelay           *int   `xml:"CheckpointDelay,omitempty"`
	SkipMatching              bool   `xml:"SkipMatching"`
	AutoRollback              bool   `xml:"AutoRollback"`
	ScaleInProtectedInstances string `xml:"ScaleInProtectedInstances"`
	StandbyInstances          string `xml:"StandbyInstances"`
	AlarmSpecification        *struct {
		Alarms []string `xml:"Alarms>member"`
	} `xml:"AlarmSpecification,omitempty"`
	BakeTime *int `xml:"BakeTime,omitempty"`
}

type asgDesiredXML struct {
	LaunchTemplate       *asgTemplateXML `xml:"LaunchTemplate,omitempty"`
	MixedInstancesPolicy *asgMixedXML    `xml:"MixedInstancesPolicy,omitempty"`
}

type asgRollbackXML struct {
	RollbackReason               string         `xml:"RollbackReason"`
	RollbackStartTime            string         `xml:"RollbackStartTime"`
	PercentageCompleteOnRollback int            `xml:"PercentageCompleteOnRollback"`
	InstancesToUpdateOnRollback  int            `xml:"InstancesToUpdateOnRollback"`
	ProgressDetailsOnRollback    asgProgressXML `xml:"ProgressDetailsOnRollback"`
}

type asgRefreshXML struct {
	InstanceRefreshID    string            `xml:"InstanceRefreshId"`
	AutoScalingGroupName string            `xml:"AutoScalingGroupName"`
	Status               string            `xml:"Status"`
	StatusReason         string            `xml:"StatusReason,omitempty"`
	StartTime            string            `xml:"StartTime"`
	EndTime              *string           `xml:"EndTime,omitempty"`
	PercentageComplete   int               `xml:"PercentageComplete"`
	InstancesToUpdate    int               `xml:"InstancesToUpdate"`
	ProgressDetails      asgProgressXML    `xml:"ProgressDetails"`
	Preferences          asgPreferencesXML `xml:"Preferences"`
	DesiredConfiguration *asgDesiredXML    `xml:"DesiredConfiguration,omitempty"`
	RollbackDetails      *asgRollbackXML   `xml:"RollbackDetails,omitempty"`
	Strategy             string            `xml:"Strategy"`
}

func (r *InstanceRefresh) out() asgRefreshXML {
	p := r.Preferences
	x := asgRefreshXML{
		InstanceRefreshID: r.ID, AutoScalingGroupName: r.GroupName, Status: r.Status, StatusReason: r.Reason,
		StartTime: asgTime(r.StartTime), EndTime: asgTimePtr(r.EndTime),
		PercentageComplete: r.PercentageComplete, InstancesToUpdate: r.InstancesToUpdate,
		ProgressDetails: asgProgressXML{asgPoolProgressXML{r.PercentageComplete, r.InstancesToUpdate}},
		Preferences: asgPreferencesXML{
			MinHealthyPercentage: p.MinHealthyPercentage, MaxHealthyPercentage: p.MaxHealthyPercentage,
			InstanceWarmup: p.InstanceWarmup, CheckpointPercentages: p.CheckpointPercentages, CheckpointDelay: p.CheckpointDelay,
			SkipMatching: p.SkipMatching, AutoRollback: p.AutoRollback,
			ScaleInProtectedInstances: p.ScaleInProtectedInstances, StandbyInstances: p.StandbyInstances, BakeTime: p.BakeTime,
		},
		Strategy: r.Strategy,
	}
	if len(p.Alarms) > 0 {
		x.Preferences.AlarmSpecification = &struct {
			Alarms []string `xml:"Alarms>member"`
		}{p.Alarms}
	}
	if d := r.Desired; d != nil {
		x.DesiredConfiguration = &asgDesiredXML{MixedInstancesPolicy: asgMixedOut(d.MixedInstancesPolicy)}
		if d.LaunchTemplate != nil {
			x.DesiredConfiguration.LaunchTemplate = asgTemplateOut(*d.LaunchTemplate)
		}
	}
	if rb := r.Rollback; rb != nil {
		x.RollbackDetails = &asgRollbackXML{
			RollbackReason: rb.Reason, RollbackStartTime: asgTime(rb.StartTime),
			PercentageCompleteOnRollback: rb.PercentageComplete, InstancesToUpdateOnRollback: rb.InstancesToUpdate,
			ProgressDetailsOnRollback: asgProgressXML{asgPoolProgressXML{rb.PercentageComplete, rb.InstancesToUpdate}},
		}
	}
	return x
}

func asgDescribeInstanceRefreshes(c *Call) (any, error) {
	f, w := c.Form, c.World
	name := formGet(f, "AutoScalingGroupName")
	if name == "" {
		return nil, errASGRequired("autoScalingGroupName")
	}
	ids := map[string]bool{}
	for _, id := range formMembers(f, "InstanceRefreshIds") {
		ids[id] = true
	}
	var rs []*InstanceRefresh
	if g := w.ASG.Groups[asgKey(c.Account, c.Region, name)]; g != nil && !g.VisibleAt.After(c.Now) {
		for _, r := range w.asgRefreshesOf(g) {
			if len(ids) == 0 || ids[r.ID] {
				rs = append(rs, r)
			}
		}
	}
	start, end, next, err := asgPage(f, len(rs), 50, 100)
	if err != nil {
		return nil, err
	}
	out := struct {
		InstanceRefreshes []asgRefreshXML `xml:"InstanceRefreshes>member"`
		NextToken         string          `xml:"NextToken,omitempty"`
	}{NextToken: next}
	for _, r := range rs[start:end] {
		out.InstanceRefreshes = append(out.InstanceRefreshes, r.out())
	}
	if out.InstanceRefreshes == nil {
		return struct {
			InstanceRefreshes struct{} `xml:"InstanceRefreshes"`
		}{}, nil
	}
	return out, nil
}

// ---- the refresh state machine (run by the reconciler) ----

// refreshStats classifies a group's members against what a refresh (or its
// rollback) wants.
type refreshStats struct {
	active     []*ASGInstance
	remaining  []*ASGInstance // still to be replaced
	terminable []*ASGInstance // remaining that may be terminated now
	inflight   []*ASGInstance // replacements not yet healthy and warmed up
	updated    int            // healthy, warmed members on the wanted version
	healthy    int            // InService, Healthy members counted against MinHealthyPercentage
}

func (s refreshStats) done() bool { return len(s.remaining) == 0 && len(s.inflight) == 0 }

func (s refreshStats) percentage(g *AutoScalingGroup) int {
	if s.done() || g.DesiredCapacity == 0 {
		return 100
	}
	return min(100, 100*s.updated/g.DesiredCapacity)
}

func (s refreshStats) toUpdate(g *AutoScalingGroup) int {
	if s.done() {
		return 0
	}
	return max(0, g.DesiredCapacity-s.updated, min(len(s.remaining), 1))
}

func (w *World) asgNeedsReplace(r *InstanceRefresh, m *ASGInstance, forward bool) bool {
	if m.Protected && r.Preferences.ScaleInProtectedInstances == "Ignore" {
		return false
	}
	if !forward {
		return !m.matches(r.PreviousSpec)
	}
	for _, id := range r.Replace {
		if id == m.ID {
			return true
		}
	}
	return !m.matches(r.TargetSpec)
}

func (w *World) asgRefreshStats(g *AutoScalingGroup, r *InstanceRefresh, now time.Time, forward bool) refreshStats {
	var s refreshStats
	warmup := time.Duration(r.Preferences.InstanceWarmup) * time.Second
	for _, m := range g.activeMembers() {
		s.active = append(s.active, m)
		healthy := m.LifecycleState == ASGInService && m.HealthStatus == ASGHealthy
		switch {
		case w.asgNeedsReplace(r, m, forward):
			s.remaining = append(s.remaining, m)
			if !m.Protected || r.Preferences.ScaleInProtectedInstances == "Refresh" {
				s.terminable = append(s.terminable, m)
			}
			if healthy {
				s.healthy++
			}
		case healthy && !now.Before(m.InServiceAt.Add(warmup)):
			s.updated++
			s.healthy++
		default:
			s.inflight = append(s.inflight, m)
		}
	}
	// Unhealthy members go first, then the oldest.
	sort.SliceStable(s.terminable, func(i, j int) bool {
		a, b := s.terminable[i], s.terminable[j]
		if (a.HealthStatus == ASGUnhealthy) != (b.HealthStatus == ASGUnhealthy) {
			return a.HealthStatus == ASGUnhealthy
		}
		return asgOlder(a, b)
	})
	return s
}

// asgStepRefresh advances a refresh one round; it reports a change.
func (w *World) asgStepRefresh(g *AutoScalingGroup, r *InstanceRefresh, now time.Time) bool {
	switch r.Status {
	case RefreshPending:
		r.Status = RefreshInProgress
		return true
	case RefreshCancelling:
		for _, m := range g.activeMembers() {
			if m.RefreshID == r.ID && m.LifecycleState == ASGPending {
				return false // waits for transitioning instances
			}
		}
		r.Status, r.EndTime, r.Extra = RefreshCancelled, now, 0
		return true
	case RefreshInProgress, RefreshBaking:
		return w.asgStepForward(g, r, now)
	case RefreshRollbackInProgress:
		return w.asgStepRollback(g, r, now)
	}
	return false
}

func (r *InstanceRefresh) setReason(s string) bool {
	if r.Reason == s {
		return false
	}
	r.Reason = s
	return true
}

func (w *World) asgStepForward(g *AutoScalingGroup, r *InstanceRefresh, now time.Time) bool {
	if name := w.asgFiringAlarm(r); name != "" {
		return w.asgRefreshFail(g, r, now, fmt.Sprintf("The instance refresh failed because the CloudWatch alarm %s is in ALARM state.", name))
	}
	for _, m := range g.Instances {
		if m.RefreshID == r.ID && m.HealthStatus == ASGUnhealthy && m.matches(r.TargetSpec) {
			return w.asgRefreshFail(g, r, now, fmt.Sprintf("The instance refresh failed because instance %s, launched from %s version %s, failed its health check.",
				m.ID, r.TargetSpec.ID, r.TargetSpec.Version))
		}
	}
	if g.suspended("InstanceRefresh") {
		return r.setReason("The instance refresh is paused because the InstanceRefresh process is suspended.")
	}
	if r.Status == RefreshBaking {
		if now.Before(r.BakeUntil) {
			return false
		}
		return w.asgRefreshSucceed(g, r, now)
	}
	changed := false
	if !r.PausedUntil.IsZero() {
		if now.Before(r.PausedUntil) {
			return false
		}
		r.PausedUntil, r.Reason = time.Time{}, ""
		r.CheckpointIndex++
		changed = true
	}
	st := w.asgRefreshStats(g, r, now, true)
	pct, todo := st.percentage(g), st.toUpdate(g)
	if pct != r.PercentageComplete || todo != r.InstancesToUpdate {
		r.PercentageComplete, r.InstancesToUpdate = pct, todo
		changed = true
	}
	if st.done() && r.Extra == 0 {
		return w.asgRefreshSucceed(g, r, now) || changed
	}
	limit := len(st.remaining)
	cps := r.Preferences.CheckpointPercentages
	if len(st.inflight) == 0 && r.Extra == 0 && r.CheckpointIndex < len(cps) {
		cp, D := cps[r.CheckpointIndex], g.DesiredCapacity
		if st.updated*100 >= cp*D {
			if r.CheckpointIndex == len(cps)-1 {
				// The last checkpoint is how much of the group the refresh
				// replaces: reaching it completes the refresh.
				return w.asgRefreshSucceed(g, r, now) || changed
			}
			delay := 0
			if r.Preferences.CheckpointDelay != nil {
				delay = *r.Preferences.CheckpointDelay
			}
			if delay == 0 {
				r.CheckpointIndex++
				return true
			}
			r.PausedUntil = now.Add(time.Duration(delay) * time.Second)
			r.Reason = fmt.Sprintf("Checkpoint %d of %d reached: %d%% of the instances have been replaced. Waiting %d seconds (until %s) before continuing.",
				r.CheckpointIndex+1, len(cps), pct, delay, asgStamp(r.PausedUntil))
			return true
		}
		limit = (cp*D+99)/100 - st.updated
	}
	return w.asgReplaceBatch(g, r, st, now, limit, true) || changed
}

func (w *World) asgStepRollback(g *AutoScalingGroup, r *InstanceRefresh, now time.Time) bool {
	rb := r.Rollback
	for _, m := range g.Instances {
		if m.RefreshID == r.ID && m.HealthStatus == ASGUnhealthy && m.matches(r.PreviousSpec) && !m.LaunchTime.Before(rb.StartTime) {
			r.Status, r.EndTime, r.Extra = RefreshRollbackFailed, now, 0
			r.Reason = fmt.Sprintf("The rollback failed because instance %s, launched from %s version %s, failed its health check.",
				m.ID, r.PreviousSpec.ID, r.PreviousSpec.Version)
			return true
		}
	}
	if g.suspended("InstanceRefresh") {
		return r.setReason("The rollback is paused because the InstanceRefresh process is suspended.")
	}
	st := w.asgRefreshStats(g, r, now, false)
	left := min(len(st.remaining)+len(st.inflight), rb.Total)
	pct := 100
	if rb.Total > 0 {
		pct = 100 * (rb.Total - left) / rb.Total
	}
	changed := false
	if st.done() {
		left, pct = 0, 100
	}
	if left != rb.InstancesToUpdate || pct != rb.PercentageComplete {
		rb.InstancesToUpdate, rb.PercentageComplete = left, pct
		changed = true
	}
	if st.done() && r.Extra == 0 {
		r.Status, r.EndTime, r.Reason = RefreshRollbackSuccessful, now, ""
		return true
	}
	return w.asgReplaceBatch(g, r, st, now, len(st.remaining), false) || changed
}

// asgReplaceBatch starts the next batch once the previous one has warmed
// up: it terminates as many old instances as MinHealthyPercentage allows
// (replacements launch from the reconciler) and, with
// MaxHealthyPercentage above 100, launches extra instances first and
// retires the same number of old ones once they are warm.
func (w *World) asgReplaceBatch(g *AutoScalingGroup, r *InstanceRefresh, st refreshStats, now time.Time, limit int, forward bool) bool {
	what := "an instance refresh"
	if !forward {
		what = "an instance refresh rollback"
	}
	terminate := func(ms []*ASGInstance) {
		for _, m := range ms {
			w.asgTerminateMember(g, m, now, fmt.Sprintf("At %s an instance was taken out of service in response to %s.  At %s instance %s was selected for termination.",
				asgStamp(now), what, asgStamp(now), m.ID))
		}
	}
	if len(st.inflight) > 0 {
		return r.setReason(fmt.Sprintf("Waiting for instances to warm up before continuing. For example: %s is warming up.", st.inflight[0].ID))
	}
	if r.Extra > 0 {
		k := min(r.Extra, len(st.terminable))
		terminate(st.terminable[:k])
		r.Extra = 0
		r.setReason("")
		return true
	}
	if len(st.remaining) == 0 {
		return false
	}
	if len(st.terminable) == 0 {
		if r.WaitingSince.IsZero() {
			r.WaitingSince = now
		}
		if forward && now.Sub(r.WaitingSince) >= refreshProtectedWaitLimit {
			return w.asgRefreshFail(g, r, now, "The instance refresh failed because instances protected from scale in could not be replaced within one hour (ScaleInProtectedInstances=Wait).")
		}
		return r.setReason(fmt.Sprintf("Waiting for instances protected from scale in to be unprotected or terminated. For example: %s is protected from scale in.", st.remaining[0].ID))
	}
	r.WaitingSince = time.Time{}
	D := g.DesiredCapacity
	maxPct := 100
	if r.Preferences.MaxHealthyPercentage != nil {
		maxPct = *r.Preferences.MaxHealthyPercentage
	}
	minHealthy := (D*r.Preferences.MinHealthyPercentage + 99) / 100
	termRoom := st.healthy - minHealthy
	launchRoom := D*maxPct/100 - len(st.active)
	room := max(termRoom, 0) + max(launchRoom, 0)
	if room <= 0 {
		// A fully healthy group always makes progress, one at a time
		// (MinHealthyPercentage 100 with MaxHealthyPercentage 100).
		if st.healthy < len(st.active) || len(st.active) < D {
			return r.setReason("Waiting for instances to become healthy before continuing: the group is below its minimum healthy percentage.")
		}
		room = 1
	}
	b := min(len(st.terminable), room, max(limit, 1))
	e := min(b, max(launchRoom, 0))
	terminate(st.terminable[:b-e])
	r.Extra = e
	r.setReason("")
	return true
}

func (w *World) asgRefreshSucceed(g *AutoScalingGroup, r *InstanceRefresh, now time.Time) bool {
	if r.Status != RefreshBaking && r.Preferences.BakeTime != nil && *r.Preferences.BakeTime > 0 {
		r.Status = RefreshBaking
		r.BakeUntil = now.Add(time.Duration(*r.Preferences.BakeTime) * time.Second)
		r.Reason = fmt.Sprintf("Waiting for the bake time of %d seconds (until %s) to pass.", *r.Preferences.BakeTime, asgStamp(r.BakeUntil))
		return true
	}
	r.Status, r.EndTime, r.Reason, r.Extra = RefreshSuccessful, now, "", 0
	r.PercentageComplete, r.InstancesToUpdate = 100, 0
	if r.Desired != nil {
		g.Config = r.Desired.clone()
	}
	return true
}

// asgRefreshFail fails a refresh, or rolls it back under AutoRollback.
func (w *World) asgRefreshFail(g *AutoScalingGroup, r *InstanceRefresh, now time.Time, reason string) bool {
	r.Extra, r.PausedUntil = 0, time.Time{}
	if r.Preferences.AutoRollback && r.rollbackable() {
		w.asgStartRollback(g, r, now, reason)
		return true
	}
	r.Status, r.Reason, r.EndTime = RefreshFailed, reason, now
	return true
}

// asgRefreshLaunchFailed is called by the reconciler when a launch for an
// active refresh fails: the refresh (or its rollback) fails.
func (w *World) asgRefreshLaunchFailed(g *AutoScalingGroup, r *InstanceRefresh, now time.Time, msg string) {
	switch r.Status {
	case RefreshPending, RefreshInProgress, RefreshBaking:
		w.asgRefreshFail(g, r, now, "The instance refresh failed because an instance could not be launched: "+msg)
	case RefreshRollbackInProgress:
		r.Status, r.EndTime, r.Extra = RefreshRollbackFailed, now, 0
		r.Reason = "The rollback failed because an instance could not be launched: " + msg
	}
}

func (w *World) asgStartRollback(g *AutoScalingGroup, r *InstanceRefresh, now time.Time, reason string) {
	r.Status, r.Reason = RefreshRollbackInProgress, reason
	r.Extra, r.PausedUntil, r.WaitingSince = 0, time.Time{}, time.Time{}
	rb := &RefreshRollback{Reason: reason, StartTime: now}
	// What the rollback replaces: members not on the previous version,
	// counting the refresh's own instances already on their way out (an
	// unhealthy one being replaced this round).
	for _, m := range g.Instances {
		if w.asgNeedsReplace(r, m, false) && (m.active() || m.RefreshID == r.ID) {
			rb.Total++
		}
	}
	rb.InstancesToUpdate = rb.Total
	if rb.Total == 0 {
		rb.PercentageComplete = 100
	}
	r.Rollback = rb
}

// asgFiringAlarm returns the first alarm of the refresh's
// AlarmSpecification that is in ALARM state.
func (w *World) asgFiringAlarm(r *InstanceRefresh) string {
	for _, name := range r.Preferences.Alarms {
		if strings.EqualFold(w.AlarmState(r.Account, r.Region, name), AlarmStateAlarm) {
			return name
		}
	}
	return ""
}
